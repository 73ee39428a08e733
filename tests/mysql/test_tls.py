"""TLS is verified by default (CA from ROTOR_CA_BUNDLE or the system store, host name
checked); plaintext only with "ssl": false; never a silent fallback."""

from __future__ import annotations

import pymysql
import pytest
from rotor.local.servers import MariaDBServer
from rotor.local.tlsca import make_ca

from tests.helpers import secret_value, stages, unique_user
from tests.mysql.support import logs_in, my_secret, snapshot


def _unchanged(server, sm, arn, user, old, before):
    assert snapshot(server, user) == before and logs_in(server, user, old)
    assert secret_value(sm, arn)["password"] == old
    assert len([v for v, s in stages(sm, arn).items() if "AWSCURRENT" in s]) == 1


@pytest.mark.parametrize("rotator", ["mysql_single", "mysql_alternating"])
def test_rotation_over_verified_tls(
    mdb_tls, sm, harness, new_secret, make_user, ca_bundle, mdb_tls_admin_arn, rotator
):
    user, old = make_user(mdb_tls)
    value = my_secret(mdb_tls, user, old, masterarn=mdb_tls_admin_arn)
    assert "ssl" not in value  # the default: verified TLS
    arn = new_secret(value)

    assert harness(rotator).rotate(arn).succeeded
    assert harness(rotator).rotate(arn).succeeded

    new = secret_value(sm, arn)
    assert new["username"] == user and logs_in(mdb_tls, user, new["password"])
    assert not logs_in(mdb_tls, user, old)


def test_unknown_ca_is_an_error(mdb_tls, sm, harness, new_secret, make_user, monkeypatch):
    monkeypatch.delenv("ROTOR_CA_BUNDLE", raising=False)  # system store: test CA unknown
    user, old = make_user(mdb_tls)
    arn = new_secret(my_secret(mdb_tls, user, old))
    before = snapshot(mdb_tls, user)

    report = harness("mysql_single", attempts=1).rotate(arn)

    assert not report.succeeded
    assert "CERTIFICATE_VERIFY_FAILED" in report.steps[-1].error
    assert "ROTOR_CA_BUNDLE" in report.steps[-1].error
    _unchanged(mdb_tls, sm, arn, user, old, before)


def test_plaintext_to_a_tls_only_server_is_an_error(
    mdb_tls, sm, harness, new_secret, make_user, capsys, caplog
):
    """MariaDB answers a plaintext login under require_secure_transport with "access denied"
    (MySQL 8 with error 3159): the warning says what to fix."""
    user, old = make_user(mdb_tls)
    arn = new_secret(my_secret(mdb_tls, user, old, ssl=False))
    before = snapshot(mdb_tls, user)

    report = harness("mysql_single", attempts=1).rotate(arn)

    assert not report.succeeded
    assert "logs in as" in report.steps[-1].error
    output = capsys.readouterr().out.replace('\\"', '"') + caplog.text
    assert 'says "ssl": false but the server offers TLS' in output
    _unchanged(mdb_tls, sm, arn, user, old, before)


@pytest.fixture(scope="module")
def wrong_name_server(tmp_path_factory):
    """A TLS server whose certificate (from the same kind of test CA) names another host."""
    certs = make_ca(tmp_path_factory.mktemp("other-ca"), hosts=("db.example.invalid",))
    with MariaDBServer(certs=certs) as server:
        yield server


def _socket_login(server, user, password):
    """Over the server's private socket: no TLS, so no host name to check."""
    return pymysql.connect(unix_socket=str(server.socket), user=user, password=password)


def test_host_name_is_verified(wrong_name_server, sm, harness, new_secret, monkeypatch):
    server = wrong_name_server
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(server.certs.ca))  # the right CA
    user, old = unique_user("my"), "old'\\%password"
    with _socket_login(server, "root", server.superuser_password) as conn, conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, old))
    arn = new_secret(my_secret(server, user, old))

    report = harness("mysql_single", attempts=1).rotate(arn)

    assert not report.succeeded
    assert "IP address mismatch" in report.steps[-1].error
    _socket_login(server, user, old).close()  # the password did not change


@pytest.mark.parametrize("rotator", ["mysql_single", "mysql_alternating"])
def test_plaintext_server_is_refused_without_ssl_false(
    mdb, sm, harness, new_secret, make_user, ca_bundle, rotator
):
    """A server without TLS and a secret that does not say "ssl": false: no silent fallback."""
    admin = new_secret(mdb.admin_secret())
    user, old = make_user(mdb)
    value = my_secret(mdb, user, old, masterarn=admin)
    value.pop("ssl")
    arn = new_secret(value)
    before = snapshot(mdb, user)

    report = harness(rotator, attempts=1).rotate(arn)

    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert "SSL is required but the server doesn't support it" in error
    assert '"ssl": false' in error
    _unchanged(mdb, sm, arn, user, old, before)
