"""MySQL / MariaDB / Aurora MySQL, alternating users: an admin switches between <user> and
<user>_clone, copying the original's grants to the clone on every rotation."""

from rotor.databases import AlternatingUsers
from rotor.databases.mysql import MySQL

lambda_handler = AlternatingUsers(MySQL()).handler
