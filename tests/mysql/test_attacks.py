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


def marker_roles(server, user, host="%"):
    rows = sql(server, "SHOW GRANTS FOR %s@%s", (user, host))
    return {r[0].split("`")[1] for r in rows if r[0].startswith("GRANT `rotor_alt_")}


# --- 5. Accounts named '<user>_clone' that rotor did not make ----------------------------------
def test_owner_of_an_unrelated_clone_cannot_get_the_original_reset(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn
):
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


def test_an_unrelated_clone_named_account_is_not_taken_over(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, database
):
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
    assert marker_roles(mdb, other) == set()


def test_adopted_clone_is_marked_and_rotated(mdb, sm, harness, new_secret, make_user):
    user, _ = make_user(mdb)
    clone, clone_password = make_user(mdb, name=f"{user}_clone")  # as AWS's sample left it
    admin = new_secret(mdb.admin_secret())
    arn = new_secret(my_secret(mdb, clone, clone_password, masterarn=admin))
    sm.put_secret_value(
        SecretId=admin, SecretString=json.dumps(mdb.admin_secret(adopt_users={arn: clone}))
    )
    assert harness(ALTERNATING).rotate(arn).succeeded  # clone -> original
    assert marker_roles(mdb, clone) == marker_roles(mdb, user) != set()
    new = secret_value(sm, arn)
    assert new["username"] == user and logs_in(mdb, user, new["password"])
    plain = new_secret(mdb.admin_secret())  # marked: no adoption entry needed any more
    arn2 = new_secret({**new, "masterarn": plain})
    assert harness(ALTERNATING).rotate(arn2).succeeded
    assert logs_in(mdb, clone, secret_value(sm, arn2)["password"])


@pytest.mark.parametrize("reuse", ["the clone's name", "the original's name"])
def test_a_name_reused_after_drop_or_rename_proves_nothing(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, reuse
):
    """The proof goes with the account: once a DBA drops or renames one of a pair, a new
    account given that name (for another team) is not rotor's."""
    user, password = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, password, masterarn=mdb_admin_arn))
    assert harness(ALTERNATING).rotate(arn).succeeded  # the clone is made and marked
    clone = f"{user}_clone"
    clone_value = secret_value(sm, arn)
    if reuse == "the clone's name":
        sql(mdb, f"DROP USER `{clone}`@`%`")
        _, other_password = make_user(mdb, name=clone)  # another team's, by bad luck
        attacker = new_secret(my_secret(mdb, clone, other_password, masterarn=mdb_admin_arn))
        victim, victim_password = user, secret_value(sm, arn, "AWSPREVIOUS")["password"]
    else:
        sql(mdb, f"RENAME USER `{user}`@`%` TO `{user}_old`@`%`")
        victim, victim_password = make_user(mdb, name=user)  # another team's
        attacker = new_secret({**clone_value})  # the clone's team rotates on
    before = snapshot(mdb, victim)
    report = harness(ALTERNATING, attempts=1).rotate(attacker)
    assert not report.succeeded
    assert "nothing on the server proves rotor made it" in (report.steps[-1].error or "")
    assert snapshot(mdb, victim) == before
    if reuse == "the original's name":
        assert logs_in(mdb, victim, victim_password)


# --- 6. New passwords in the server's logs -----------------------------------------------------
@pytest.fixture(scope="module")
def logging_mdb() -> Iterator[MariaDBServer]:
    """MariaDB writing every statement to the general log, the slow log and the binary log."""
    options = (
        "--general-log=1",
        "--general-log-file={dir}/general.log",
        "--slow-query-log=1",
        "--slow-query-log-file={dir}/slow.log",
        "--long-query-time=0",
        "--log-output=FILE",
        "--log-bin={dir}/binlog",
        "--binlog-format=STATEMENT",
        "--server-id=1",
        "--plugin-load-add=auth_ed25519",
    )
    with MariaDBServer(options=options) as server:
        yield server


def server_logs(server: MariaDBServer) -> str:
    assert server.directory is not None
    sql(server, "FLUSH LOGS")
    text = ""
    for name in ("general.log", "slow.log"):
        text += (server.directory / name).read_text(errors="replace")
    for binlog in sorted(Path(server.directory).glob("binlog.0*")):
        text += subprocess.run(
            ["mariadb-binlog", "--no-defaults", str(binlog)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
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
        sql(
            server,
            f"CREATE USER %s@'%%' IDENTIFIED VIA {plugin} USING PASSWORD(%s)",
            (user, password),
        )
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
        assert f"VIA {plugin}" in shown or (
            plugin == "mysql_native_password" and "BY PASSWORD" in shown
        )  # plugin kept


def test_an_account_with_several_methods_is_refused_unchanged(logging_mdb, sm, harness, new_secret):
    server = logging_mdb
    user, password = unique_user("mm"), unique_user("pw")
    sql(
        server,
        "CREATE USER %s@'%%' IDENTIFIED VIA unix_socket OR mysql_native_password "
        "USING PASSWORD(%s)",
        (user, password),
    )
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

    with MariaDBServer(
        options=("--plugin-load-add=simple_password_check",),
        superuser_password=f"Aa1!{secrets.token_hex(12)}",
    ) as server:
        user, password = make_user(server)
        before = snapshot(server, user)
        arn = new_secret(my_secret(server, user, password))
        report = harness(SINGLE, attempts=1).rotate(arn)
        assert not report.succeeded
        assert "Turn strict_password_validation off" in (report.steps[-1].error or "")
        assert snapshot(server, user) == before and logs_in(server, user, password)
        assert hosts(server, user) == ["%"]


def test_a_refused_clone_leaves_no_proof_behind(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn
):
    """An original rotor refuses (two login methods) must not leave anything that would later
    vouch for an account of the clone's name made for another team."""
    victim, victim_password = unique_user("my"), f"{unique_user('pw')}x"
    sql(
        mdb,
        "CREATE USER %s@'%%' IDENTIFIED VIA unix_socket OR mysql_native_password "
        "USING PASSWORD(%s)",
        (victim, victim_password),
    )
    victim_arn = new_secret(my_secret(mdb, victim, victim_password, masterarn=mdb_admin_arn))
    report = harness(ALTERNATING, attempts=1).rotate(victim_arn)
    assert not report.succeeded and "one password method only" in (report.steps[-1].error or "")
    sql(
        mdb,
        "ALTER USER %s@'%%' IDENTIFIED VIA mysql_native_password USING PASSWORD(%s)",
        (victim, victim_password),
    )  # the DBA follows the error
    attacker, attacker_password = make_user(mdb, name=f"{victim}_clone")
    arn = new_secret(my_secret(mdb, attacker, attacker_password, masterarn=mdb_admin_arn))
    report = harness(ALTERNATING, attempts=1).rotate(arn)
    assert not report.succeeded
    assert logs_in(mdb, victim, victim_password)


def test_an_anonymous_account_accepting_the_password_proves_nothing(sm, harness, new_secret):
    """MariaDB matches the most specific host first, so an anonymous ''@'<ip>' account answers
    for every user whose own account has a wider host. The login must be the account asked
    for (CURRENT_USER()), or the proof would pass for '<victim>_clone' and reset '<victim>'."""
    import pymysql

    with MariaDBServer() as server:
        victim, victim_password = unique_user("my"), f"{unique_user('pw')}x"
        sql(server, "CREATE USER %s@'127.0.0.%%' IDENTIFIED BY %s", (victim, victim_password))
        admin_password = unique_user("adm")
        sql(server, "CREATE USER 'adm'@'127.0.0.1' IDENTIFIED BY %s", (admin_password,))
        sql(server, "GRANT ALL PRIVILEGES ON *.* TO 'adm'@'127.0.0.1' WITH GRANT OPTION")
        admin = new_secret({**server.admin_secret(), "username": "adm", "password": admin_password})
        victim_arn = new_secret(my_secret(server, victim, victim_password, masterarn=admin))
        h = harness(ALTERNATING)
        assert h.rotate(victim_arn).succeeded and h.rotate(victim_arn).succeeded
        victim_now = secret_value(sm, victim_arn)

        def as_adm(statement, args=None):  # rotor_admin@'%' is shadowed by the anonymous one
            with (
                pymysql.connect(
                    host=server.host,
                    port=server.port,
                    user="adm",
                    password=admin_password,
                    autocommit=True,
                    ssl_disabled=True,
                ) as conn,
                conn.cursor() as cursor,
            ):
                cursor.execute(statement, args)

        anonymous_password = unique_user("anon")
        as_adm("CREATE USER ''@'127.0.0.1' IDENTIFIED BY %s", (anonymous_password,))
        arn = new_secret(my_secret(server, f"{victim}_clone", anonymous_password, masterarn=admin))
        report = harness(ALTERNATING, attempts=1).rotate(arn)
        assert not report.succeeded
        assert "refusing to use the admin login" in (report.steps[-1].error or "")
        assert secret_value(sm, arn)["username"] == f"{victim}_clone"
        as_adm("DROP USER ''@'127.0.0.1'")  # it shadows the victim's login too
        assert logs_in(server, victim, victim_now["password"])
