"""TLS: verify-full by default, plaintext only where the secret says "ssl": false."""

from __future__ import annotations

from tests.helpers import secret_value, stages
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


def test_plaintext_server_is_refused_without_ssl_false(pg, sm, harness, new_secret, make_role,
                                                       ca_bundle):
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


def test_ssl_false_is_not_accepted_by_a_tls_only_server(pg_tls, sm, harness, new_secret,
                                                        make_role, ca_bundle):
    admin = new_secret(pg_tls.admin_secret())
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old, ssl=False, masterarn=admin))
    report = harness("postgresql_alternating", attempts=1).rotate(arn)
    assert not report.succeeded
    assert "no encryption" in (report.steps[-1].error or "")
    assert not role_exists(pg_tls, f"{user}_clone")


def test_missing_ca_bundle_file_is_a_configuration_error(pg_tls, sm, harness, new_secret,
                                                         make_role, monkeypatch, tmp_path):
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(tmp_path / "missing.pem"))
    user, old = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, old))
    report = harness("postgresql_single", attempts=1).rotate(arn)
    assert "ROTOR_CA_BUNDLE names" in (report.steps[-1].error or "")
    assert logs_in(pg_tls, user, old)


def test_system_trust_store_is_used_without_ca_bundle(pg_tls, sm, harness, new_secret,
                                                      make_role, certs, monkeypatch):
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
