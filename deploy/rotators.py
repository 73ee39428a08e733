"""The rotators template.yaml deploys, one row each.

Adding a rotator is adding its row here (next to its ``rotators/<directory>/app.py``, whose
``lambda_handler`` is the function's handler) and running ``make template``: the row becomes
its parameters, rules, conditions, function, log group, role, invoke permission, schedule,
alarm and output. docs/deploying.md ("Adding a rotator") says what else to check.
"""

from __future__ import annotations

from dataclasses import dataclass

MASTERARN_ADMINS = "the admin secrets named by the rotated secrets' masterarn"


@dataclass(frozen=True)
class Rotator:
    name: str  # prefix of its parameters, resources and outputs (CloudFormation logical ids)
    directory: str  # rotators/<directory>/app.py
    title: str  # what it rotates, in words: console labels and descriptions
    admin: str = ""  # the admin secrets it reads, in words; "" for none (the secret itself)
    rds_managed_admins: bool = False  # an admin secret may be RDS-managed (no host in it)
    # the HostedRotationLambda RotationTypes it replaces (apps/rotation deploys it for them)
    hosted: tuple[str, ...] = ()


ROTATORS = (
    Rotator(
        "PostgresqlSingle",
        "postgresql_single",
        "PostgreSQL, single user",
        hosted=("PostgreSQLSingleUser",),
    ),
    Rotator(
        "PostgresqlAlternating",
        "postgresql_alternating",
        "PostgreSQL, alternating users",
        admin=MASTERARN_ADMINS,
        rds_managed_admins=True,
        hosted=("PostgreSQLMultiUser",),
    ),
    Rotator(
        "MysqlSingle",
        "mysql_single",
        "MySQL/MariaDB/Aurora MySQL, single user",
        hosted=("MySQLSingleUser", "MariaDBSingleUser"),
    ),
    Rotator(
        "MysqlAlternating",
        "mysql_alternating",
        "MySQL/MariaDB/Aurora MySQL, alternating users",
        admin=MASTERARN_ADMINS,
        rds_managed_admins=True,
        hosted=("MySQLMultiUser", "MariaDBMultiUser"),
    ),
    Rotator(
        "MysqlDual",
        "mysql_dual",
        "MySQL/MariaDB, dual passwords",
        admin=MASTERARN_ADMINS,
        rds_managed_admins=True,
    ),
    Rotator("Redis", "redis", "Redis/Valkey ACL users", admin=MASTERARN_ADMINS),
    Rotator(
        "ApiKey",
        "apikey",
        "third-party API keys",
        admin="the provider admin secrets named by the rotated secrets' adminarn",
    ),
)

# HostedRotationLambda's other RotationTypes: engines rotor has no rotator for.
HOSTED_ELSEWHERE = (
    "OracleSingleUser",
    "OracleMultiUser",
    "SQLServerSingleUser",
    "SQLServerMultiUser",
    "RedshiftSingleUser",
    "RedshiftMultiUser",
    "MongoDBSingleUser",
    "MongoDBMultiUser",
)
