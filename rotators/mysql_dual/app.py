"""MySQL / MariaDB, dual passwords: the admin keeps the old password valid beside the new one
until the rotation finishes (MariaDB 10.4+, MySQL 8.0.14+), so no query fails."""

from rotor.databases.dual import DualPasswords
from rotor.databases.mysql import MySQL

lambda_handler = DualPasswords(MySQL()).handler
