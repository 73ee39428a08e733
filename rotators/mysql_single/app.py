"""MySQL / MariaDB / Aurora MySQL, single user: the user changes its own password."""

from rotor.databases import SingleUser
from rotor.databases.mysql import MySQL

lambda_handler = SingleUser(MySQL()).handler
