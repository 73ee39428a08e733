"""PostgreSQL, alternating users: an admin switches between <user> and <user>_clone."""

from rotor.databases import AlternatingUsers
from rotor.databases.postgresql import PostgreSQL

lambda_handler = AlternatingUsers(PostgreSQL()).handler
