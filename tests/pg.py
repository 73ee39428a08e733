"""PostgreSQL test helpers: real logins and secrets for the private clusters."""

from __future__ import annotations

from typing import Any

import psycopg
from rotor.local.servers import PostgresServer


def logs_in(server: PostgresServer, user: str, password: str) -> bool:
    """A real login over TCP with password authentication."""
    try:
        server.connect(user, password).close()
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc)
        return False
    return True


def pg_secret(server: PostgresServer, user: str, password: str, **extra: Any) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "engine": "postgres",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "dbname": "postgres",
    }
    if server.certs is None:
        secret["ssl"] = False
    return {**secret, **extra}


def role_exists(server: PostgresServer, name: str) -> bool:
    with server.connect() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            is not None
        )
