"""PostgreSQL, single user: the user changes its own password."""

from rotor.databases import SingleUser
from rotor.databases.postgresql import PostgreSQL

lambda_handler = SingleUser(PostgreSQL()).handler
