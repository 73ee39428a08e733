"""PostgreSQL helpers: roles with real passwords on the private clusters."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rotor.local.servers import PostgresServer
from tests.helpers import unique_user


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
        "engine": "postgres", "host": server.host, "port": server.port,
        "username": user, "password": password, "dbname": "postgres",
    }
    if server.certs is None:
        secret["ssl"] = False
    return {**secret, **extra}


@pytest.fixture
def make_role() -> Callable[..., tuple[str, str]]:
    """Create a login role with a random password on a server; returns (name, password)."""

    def make(server: PostgresServer, name: str | None = None) -> tuple[str, str]:
        name = name or unique_user()
        password = secrets.token_urlsafe(18)
        with server.connect() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)))
        return name, password

    return make


@pytest.fixture
def admin_arn(sm: Any, new_secret: Callable[..., str], pg: PostgresServer) -> str:
    return new_secret(pg.admin_secret())


def role_exists(server: PostgresServer, name: str) -> bool:
    with server.connect() as conn:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() \
            is not None
