"""MySQL-family test helpers: real logins, secrets and catalogue reads on the private servers."""

from __future__ import annotations

from typing import Any

import pymysql
from rotor.databases.mysql import Grant, account
from rotor.local.servers import MariaDBServer

ENGINES = ("mysql", "mariadb", "aurora-mysql", "aurora")
# Characters that break naive quoting: every password below contains all of them.
NASTY = "'\"\\%"


def logs_in(server: MariaDBServer, user: str, password: str) -> bool:
    """A real login over TCP with password authentication (TLS when the server has it)."""
    try:
        server.connect(user, password).close()
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] == 1045, exc  # rejected credentials, nothing else
        return False
    return True


def my_secret(server: MariaDBServer, user: str, password: str, **extra: Any) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "engine": "mariadb",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
    }
    if server.certs is None:
        secret["ssl"] = False
    return {**secret, **extra}


def sql(server: MariaDBServer, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement as the server's admin."""
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(statement, args)
        return list(cursor.fetchall())


def hosts(server: MariaDBServer, user: str) -> list[str]:
    return sorted(r[0] for r in sql(server, "SELECT Host FROM mysql.user WHERE User = %s", (user,)))


def grants(server: MariaDBServer, user: str, host: str = "%") -> set[Grant]:
    """The user's grants without the grantee, comparable between two users."""
    rows = sql(server, "SHOW GRANTS FOR %s@%s", (user, host))
    return {Grant.parse(row[0], user, host) for row in rows}


def options(server: MariaDBServer, user: str, host: str = "%") -> tuple[Any, ...]:
    """TLS requirements and resource limits of an account."""
    return sql(
        server,
        "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, "
        "max_updates, max_connections, max_user_connections FROM mysql.user "
        "WHERE User = %s AND Host = %s",
        (user, host),
    )[0]


def snapshot(server: MariaDBServer, *users: str) -> list[tuple[Any, ...]]:
    """Every account of ``users`` with its password hash, options and grants."""
    rows = sql(
        server,
        "SELECT User, Host, authentication_string, ssl_type, max_user_connections "
        "FROM mysql.user WHERE User IN ({}) ORDER BY User, Host".format(
            ", ".join(["%s"] * len(users))
        ),
        users,
    )
    return [(*row, sorted(map(repr, grants(server, row[0], row[1])))) for row in rows]


def grant_to(server: MariaDBServer, user: str, statement: str, host: str = "%") -> None:
    """``statement`` is 'GRANT ... TO' without the grantee (e.g. 'GRANT SELECT ON `d`.*')."""
    sql(server, f"{statement} TO {account(user, host)}")
