"""Private MariaDB servers (one plain, one TLS-only) and MySQL-family users for the tests.

A private ``mariadbd`` starts in about a second, so every test uses one: users have real
passwords and nothing touches the machine's own server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rotor.local.servers import MariaDBServer
from rotor.local.tlsca import CertFiles

from tests.helpers import unique_user
from tests.mysql.support import NASTY, sql


@pytest.fixture(scope="session")
def mdb(rotor_mariadb: MariaDBServer) -> MariaDBServer:
    """MariaDB without TLS (secrets say "ssl": false)."""
    return rotor_mariadb


@pytest.fixture(scope="session")
def mdb_tls(certs: CertFiles) -> Iterator[MariaDBServer]:
    """MariaDB requiring TLS on every connection, certificate from the test CA."""
    with MariaDBServer(certs=certs) as server:
        yield server


def new_password() -> str:
    return f"{secrets.token_urlsafe(12)}{NASTY}x"


@pytest.fixture
def make_user() -> Callable[..., tuple[str, str]]:
    """Create ``'name'@'host'`` with a password (containing quotes, a backslash and a percent
    sign) and optional extra clauses; returns (name, password)."""

    def make(server: MariaDBServer, name: str | None = None, host: str = "%",
             clauses: str = "") -> tuple[str, str]:
        name = name or unique_user("my")
        password = new_password()
        sql(server, f"CREATE USER %s@%s IDENTIFIED BY %s {clauses}", (name, host, password))
        return name, password

    return make


@pytest.fixture
def mdb_admin_arn(new_secret: Callable[..., str], mdb: MariaDBServer) -> str:
    """The plain server's admin as a secret (the alternating users' masterarn)."""
    return new_secret(mdb.admin_secret())


@pytest.fixture
def mdb_tls_admin_arn(new_secret: Callable[..., str], mdb_tls: MariaDBServer) -> str:
    return new_secret(mdb_tls.admin_secret())


@pytest.fixture
def database(mdb: MariaDBServer) -> Callable[..., str]:
    """Create a database with a table ``t`` holding one row; returns its name."""

    def make(server: Any = None, name: str | None = None) -> str:
        server = server or mdb
        name = name or unique_user("db")
        sql(server, f"CREATE DATABASE `{name}`")
        sql(server, f"CREATE TABLE `{name}`.t (id INT)")
        sql(server, f"INSERT INTO `{name}`.t VALUES (1)")
        return name

    return make
