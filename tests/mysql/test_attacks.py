"""Attacks on the MySQL-family rotators and the logging leak, against real MariaDB servers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rotor.local.servers import MariaDBServer

from tests.helpers import secret_value, stages, unique_user
from tests.mysql.support import hosts, logs_in, my_secret, snapshot, sql

ALTERNATING = "mysql_alternating"
SINGLE = "mysql_single"


def ledger(server, clone):
    rows = sql(server, "SELECT COUNT(*) FROM information_schema.TABLES "
               "WHERE TABLE_SCHEMA = 'rotor' AND TABLE_NAME = 'alternates'")
    if not rows[0][0]:
        return None
    found = sql(server, "SELECT original_user FROM rotor.alternates WHERE clone_user = %s",
                (clone,))
    return found[0][0] if found else None


# --- 5. Accounts named '<user>_clone' that rotor did not make ----------------------------------
def test_owner_of_an_unrelated_clone_cannot_get_the_original_reset(mdb, sm, harness,
                                                                   new_secret, make_user,
                                                                   mdb_admin_arn):
    """'payments_clone'@'%' belongs to another team; it rotates its own secret, and rotor
    would reset 'payments'@'%' (same host: the only proof there used to be) and hand it over."""
    payments, payments_password = make_user(mdb)
    other, other_password = make_user(mdb, name=f"{payments}_clone")
    before = snapshot(mdb, payments, other)
    arn = new_secret(my_secret(mdb, other, other_password, masterarn=mdb_admin_arn))
    report = harness(ALTERNATING, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "nothing on the server proves rotor made it" in (report.steps[-1].error or "")
    assert snapshot(mdb, payments, other) == before
    assert logs_in(mdb, payments, payments_password) and logs_in(mdb, other, other_password)


def test_an_unrelated_clone_named_account_is_not_taken_over(mdb, sm, harness, new_secret,
                                                            make_user, mdb_admin_arn, database):
    payments, payments_password = make_user(mdb)
    other, _ = make_user(mdb, name=f"{payments}_clone")
    sql(mdb, f"GRANT ALL ON `{database()}`.* TO `{other}`@`%`")
    before = snapshot(mdb, payments, other)
    arn = new_secret(my_secret(mdb, payments, payments_password, masterarn=mdb_admin_arn))
    old_stages = stages(sm, arn)
    report = harness(ALTERNATING, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert f"User '{other}' exists, but nothing on the server proves" in error
    assert snapshot(mdb, payments, other) == before
    assert {v: s for v, s in stages(sm, arn).items() if v in old_stages} == old_stages
    assert ledger(mdb, other) is None


def test_adopted_clone_is_recorded_and_rotated(mdb, sm, harness, new_secret, make_user):
    user, _ = make_user(mdb)
    clone, clone_password = make_user(mdb, name=f"{user}_clone")  # as AWS's sample left it
    admin = new_secret(mdb.admin_secret(adopt_users=[clone]))
    arn = new_secret(my_secret(mdb, clone, clone_password, masterarn=admin))
    assert harness(ALTERNATING).rotate(arn).succeeded  # clone -> original
    assert ledger(mdb, clone) == user
    new = secret_value(sm, arn)
    assert new["username"] == user and logs_in(mdb, user, new["password"])
    plain = new_secret(mdb.admin_secret())  # recorded: no adoption entry needed any more
    arn2 = new_secret({**new, "masterarn": plain})
    assert harness(ALTERNATING).rotate(arn2).succeeded
    assert logs_in(mdb, clone, secret_value(sm, arn2)["password"])


@pytest.mark.parametrize("tamper", ["grant on the ledger", "a view"])
def test_a_ledger_others_can_write_proves_nothing(mdb, sm, harness, new_secret, make_user,
                                                  mdb_admin_arn, tamper):
    user, password = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, password, masterarn=mdb_admin_arn))
    assert harness(ALTERNATING).rotate(arn).succeeded  # the ledger exists now
    writer, _ = make_user(mdb)
    if tamper == "grant on the ledger":
        sql(mdb, f"GRANT INSERT ON rotor.* TO `{writer}`@`%`")
    else:
        sql(mdb, "RENAME TABLE rotor.alternates TO rotor.alternates_real")
        sql(mdb, "CREATE VIEW rotor.alternates AS SELECT * FROM rotor.alternates_real")
    try:
        report = harness(ALTERNATING, attempts=1).rotate(arn)
        assert not report.succeeded
        error = report.steps[-1].error or ""
        assert ("is writable by" in error and writer in error) if tamper.startswith("grant") \
            else "is not a table rotor made" in error
    finally:
        if tamper == "grant on the ledger":
            sql(mdb, f"REVOKE INSERT ON rotor.* FROM `{writer}`@`%`")
        else:
            sql(mdb, "DROP VIEW rotor.alternates")
            sql(mdb, "RENAME TABLE rotor.alternates_real TO rotor.alternates")


# --- 6. New passwords in the server's logs -----------------------------------------------------
@pytest.fixture(scope="module")
def logging_mdb() -> Iterator[MariaDBServer]:
    """MariaDB writing every statement to the general log, the slow log and the binary log."""
    options = ("--general-log=1", "--general-log-file={dir}/general.log",
               "--slow-query-log=1", "--slow-query-log-file={dir}/slow.log",
               "--long-query-time=0", "--log-output=FILE", "--log-bin={dir}/binlog",
               "--binlog-format=STATEMENT", "--server-id=1",
               "--plugin-load-add=auth_ed25519")
    with MariaDBServer(options=options) as server:
        yield server


def server_logs(server: MariaDBServer) -> str:
    assert server.directory is not None
    sql(server, "FLUSH LOGS")
    text = ""
    for name in ("general.log", "slow.log"):
        text += (server.directory / name).read_text(errors="replace")
    for binlog in sorted(Path(server.directory).glob("binlog.0*")):
        text += subprocess.run(["mariadb-binlog", "--no-defaults", str(binlog)],
                               capture_output=True, text=True, check=True).stdout
    return text


def every_password(sm, arn):
    values = []
    for version in stages(sm, arn):
        value = json.loads(sm.get_secret_value(SecretId=arn, VersionId=version)["SecretString"])
        values.append(value["password"])
    return values


@pytest.mark.parametrize("plugin", ["mysql_native_password", "ed25519"])
def test_no_password_reaches_the_server_logs(logging_mdb, sm, harness, new_secret, plugin):
    server = logging_mdb
    admin = new_secret(server.admin_secret())
    made = {}
    for strategy in (SINGLE, ALTERNATING):
        user, password = unique_user("lg"), f"{unique_user('pw')}'\\%"
        sql(server, f"CREATE USER %s@'%%' IDENTIFIED VIA {plugin} USING PASSWORD(%s)",
            (user, password))
        arn = new_secret(my_secret(server, user, password, masterarn=admin))
        for _ in range(3):
            report = harness(strategy).rotate(arn)
            assert report.succeeded, report.steps
        made[strategy] = arn
    logs = server_logs(server)
    assert "ALTER USER" in logs and "SET PASSWORD" in logs  # the rotations were logged
    for arn in made.values():
        passwords = every_password(sm, arn)
        assert len(passwords) >= 3
        assert not [p for p in passwords if p in logs]
        current = secret_value(sm, arn)
        assert logs_in(server, current["username"], current["password"])
        shown = sql(server, "SHOW CREATE USER %s@'%%'", (current["username"],))[0][0]
        assert f"VIA {plugin}" in shown or (plugin == "mysql_native_password"
                                            and "BY PASSWORD" in shown)  # plugin kept


def test_an_account_with_several_methods_is_refused_unchanged(logging_mdb, sm, harness,
                                                              new_secret):
    server = logging_mdb
    user, password = unique_user("mm"), unique_user("pw")
    sql(server, "CREATE USER %s@'%%' IDENTIFIED VIA unix_socket OR mysql_native_password "
        "USING PASSWORD(%s)", (user, password))
    before = snapshot(server, user)
    arn = new_secret(my_secret(server, user, password))
    report = harness(SINGLE, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "one password method only" in (report.steps[-1].error or "")
    assert snapshot(server, user) == before and logs_in(server, user, password)


def test_strict_password_validation_is_explained(sm, harness, new_secret, make_user):
    """A validation plugin with strict_password_validation (the default) refuses hashes; rotor
    says so and never falls back to sending the password in clear."""
    import secrets

    with MariaDBServer(options=("--plugin-load-add=simple_password_check",),
                       superuser_password=f"Aa1!{secrets.token_hex(12)}") as server:
        user, password = make_user(server)
        before = snapshot(server, user)
        arn = new_secret(my_secret(server, user, password))
        report = harness(SINGLE, attempts=1).rotate(arn)
        assert not report.succeeded
        assert "Turn strict_password_validation off" in (report.steps[-1].error or "")
        assert snapshot(server, user) == before and logs_in(server, user, password)
        assert hosts(server, user) == ["%"]
