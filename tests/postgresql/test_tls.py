"""TLS: verify-full by default, plaintext only where the secret says "ssl": false."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from rotor.local.servers import PostgresServer
from rotor.local.tlsca import make_ca

from tests.helpers import secret_value, stages, unique_user
from tests.pg import logs_in, pg_secret, role_exists


def test_rotation_over_verified_tls(pg_tls, sm, harness, new_secret, make_role, ca_bundle):
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old))  # no "ssl" key: TLS, verified
    assert harness("postgresql_single").rotate(arn).succeeded
    new = secret_value(sm, arn)["password"]
    assert logs_in(pg_tls, user, new) and not logs_in(pg_tls, user, old)


def test_alternating_over_verified_tls(pg_tls, sm, harness, new_secret, make_role, ca_bundle):
    admin = new_secret(pg_tls.admin_secret())
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old, masterarn=admin, ssl=True))
    assert harness("postgresql_alternating").rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert logs_in(pg_tls, new["username"], new["password"])


def test_plaintext_server_is_refused_without_ssl_false(
    pg, sm, harness, new_secret, make_role, ca_bundle
):
    user, old = make_role(pg)
    secret = pg_secret(pg, user, old)
    del secret["ssl"]
    arn = new_secret(secret)
    before = stages(sm, arn)
    report = harness("postgresql_single", attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert report.steps[-1].step == "setSecret"
    assert "server does not support SSL" in error and '"ssl": false' in error
    assert logs_in(pg, user, old)
    assert secret_value(sm, arn)["password"] == old
    assert all(stages(sm, arn)[v] == s for v, s in before.items())


def test_unknown_ca_is_refused(pg_tls, sm, harness, new_secret, make_role, monkeypatch):
    monkeypatch.delenv("ROTOR_CA_BUNDLE", raising=False)  # system store: test CA not in it
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old))
    report = harness("postgresql_single", attempts=1).rotate(arn)
    assert not report.succeeded
    assert "certificate verify failed" in (report.steps[-1].error or "")
    assert logs_in(pg_tls, user, old)


def test_ssl_false_is_not_accepted_by_a_tls_only_server(
    pg_tls, sm, harness, new_secret, make_role, ca_bundle
):
    admin = new_secret(pg_tls.admin_secret())
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old, ssl=False, masterarn=admin))
    report = harness("postgresql_alternating", attempts=1).rotate(arn)
    assert not report.succeeded
    assert "no encryption" in (report.steps[-1].error or "")
    assert not role_exists(pg_tls, f"{user}_clone")


def test_missing_ca_bundle_file_is_a_configuration_error(
    pg_tls, sm, harness, new_secret, make_role, monkeypatch, tmp_path
):
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(tmp_path / "missing.pem"))
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old))
    report = harness("postgresql_single", attempts=1).rotate(arn)
    assert "ROTOR_CA_BUNDLE names" in (report.steps[-1].error or "")
    assert logs_in(pg_tls, user, old)


def test_system_trust_store_is_used_without_ca_bundle(
    pg_tls, sm, harness, new_secret, make_role, certs, monkeypatch
):
    """No ROTOR_CA_BUNDLE: the system store is used (here SSL_CERT_FILE, as OpenSSL and
    Python read it)."""
    monkeypatch.delenv("ROTOR_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old))
    assert harness("postgresql_single").rotate(arn).succeeded
    assert logs_in(pg_tls, user, secret_value(sm, arn)["password"])


def test_system_store_is_found_as_a_file(monkeypatch):
    """libpq in psycopg's binary wheel looks for "system" certificates in its own build's
    directory, absent on Lambda: rotor passes the distribution's bundle file instead."""
    import os

    from rotor.databases.tls import system_ca_file

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    found = system_ca_file()
    assert found is not None and os.path.isfile(found)
    from pathlib import Path

    assert Path(found).read_text().count("BEGIN CERTIFICATE") > 10  # a real trust store


@pytest.fixture(scope="module")
def wrong_name_pg(tmp_path_factory):
    """A TLS server whose certificate (from a test CA) names another host than 127.0.0.1."""
    certs = make_ca(tmp_path_factory.mktemp("other-ca"), hosts=("db.example.invalid",))
    with PostgresServer(certs=certs) as server:
        yield server


def _socket_login(server, user, password):
    """Over the server's private Unix socket: no TLS, so no host name to check."""
    return psycopg.connect(
        host=str(server.directory),
        port=server.port,
        dbname="postgres",
        user=user,
        password=password,
        autocommit=True,
    )


@pytest.mark.parametrize("rotator", ["postgresql_single", "postgresql_alternating"])
def test_host_name_is_verified(wrong_name_pg, sm, harness, new_secret, monkeypatch, rotator):
    server = wrong_name_pg
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(server.certs.ca))  # the right CA, wrong name
    user, old = unique_user(), "old'\\password"
    with _socket_login(server, server.superuser, server.superuser_password) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(old)
            )
        )
    admin = new_secret(server.admin_secret())
    arn = new_secret(pg_secret(server, user, old, masterarn=admin))

    report = harness(rotator, attempts=1).rotate(arn)

    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert 'does not match host name "127.0.0.1"' in error or "mismatch" in error, error
    _socket_login(server, user, old).close()  # the password did not change
    with _socket_login(server, server.superuser, server.superuser_password) as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (f"{user}_clone",)).fetchone()
            is None
        )
