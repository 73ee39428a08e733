"""MySQL family, alternating users: the admin keeps <user> and <user>_clone in step."""

from __future__ import annotations

import json

import pymysql
import pytest
from rotor.databases.mysql import MySQL, Session
from rotor.databases.tls import TlsSettings
from rotor.local.harness import STEPS
from rotor.models import MYSQL_ENGINES, DatabaseSecret

from tests.helpers import secret_value, stages, unique_user
from tests.mysql.support import (
    ENGINES,
    NASTY,
    grant_to,
    grants,
    hosts,
    logs_in,
    my_secret,
    options,
    snapshot,
    sql,
)

ROTATOR = "mysql_alternating"


def _can_select(server, user, password, db):
    with server.connect(user, password) as conn, conn.cursor() as cursor:
        try:
            cursor.execute(f"SELECT * FROM `{db}`.t")
        except pymysql.err.OperationalError as exc:
            assert exc.args[0] in (1044, 1142), exc  # access denied to database / table
            return False
    return True


@pytest.mark.parametrize("engine", ENGINES)
def test_alternates_between_user_and_clone(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, engine
):
    user, old = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, old, engine=engine, masterarn=mdb_admin_arn))
    h = harness(ROTATOR)

    assert h.rotate(arn).succeeded
    first = secret_value(sm, arn)
    assert first["username"] == f"{user}_clone" and first["engine"] == engine
    assert hosts(mdb, first["username"]) == ["%"]  # same host as the original
    assert logs_in(mdb, first["username"], first["password"])
    assert logs_in(mdb, user, old)  # AWSPREVIOUS keeps working until the next rotation

    assert h.rotate(arn).succeeded
    second = secret_value(sm, arn)
    assert second["username"] == user and second["password"] not in (old, first["password"])
    assert logs_in(mdb, user, second["password"]) and not logs_in(mdb, user, old)
    assert logs_in(mdb, first["username"], first["password"])

    assert h.rotate(arn).succeeded
    third = secret_value(sm, arn)
    assert third["username"] == f"{user}_clone"
    assert logs_in(mdb, third["username"], third["password"])
    assert not logs_in(mdb, first["username"], first["password"])


def test_grants_follow_the_original_on_every_rotation(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, database
):
    user, old = make_user(mdb)
    clone = f"{user}_clone"
    first_db, later_db = database(), database()
    role = unique_user("role")
    grant_to(mdb, user, f"GRANT SELECT ON `{first_db}`.*")
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    h = harness(ROTATOR)
    assert h.rotate(arn).succeeded  # the clone is created with the grants of today
    assert grants(mdb, clone) == grants(mdb, user)

    # Later the original gains and loses privileges (a role, WITH GRANT OPTION, a column).
    sql(mdb, f"CREATE ROLE `{role}`")
    sql(mdb, f"GRANT INSERT ON `{later_db}`.* TO `{role}`")
    grant_to(mdb, user, f"GRANT `{role}`")
    sql(mdb, f"SET DEFAULT ROLE `{role}` FOR `{user}`@`%`")
    grant_to(mdb, user, f"GRANT SELECT, UPDATE (id) ON `{later_db}`.t")
    sql(mdb, f"GRANT DELETE ON `{later_db}`.* TO `{user}`@`%` WITH GRANT OPTION")
    sql(mdb, f"REVOKE SELECT ON `{first_db}`.* FROM `{user}`@`%`")
    assert grants(mdb, clone) != grants(mdb, user)

    assert h.rotate(arn).succeeded  # back to the original: the clone is left alone
    assert h.rotate(arn).succeeded  # to the clone again: its grants are brought in step
    current = secret_value(sm, arn)
    assert current["username"] == clone
    assert grants(mdb, clone) == grants(mdb, user)
    assert any(g.option == "GRANT" for g in grants(mdb, clone))
    assert _can_select(mdb, clone, current["password"], later_db)
    assert not _can_select(mdb, clone, current["password"], first_db)

    # And privileges taken from the original are taken from the clone too.
    sql(mdb, f"REVOKE `{role}` FROM `{user}`@`%`")
    sql(mdb, f"SET DEFAULT ROLE NONE FOR `{user}`@`%`")
    sql(mdb, f"REVOKE GRANT OPTION ON `{later_db}`.* FROM `{user}`@`%`")
    sql(mdb, f"REVOKE SELECT, UPDATE (id) ON `{later_db}`.t FROM `{user}`@`%`")
    assert h.rotate(arn).succeeded and h.rotate(arn).succeeded
    assert grants(mdb, clone) == grants(mdb, user)
    assert not any(g.option for g in grants(mdb, clone))
    assert not _can_select(mdb, clone, secret_value(sm, arn)["password"], later_db)


def test_require_ssl_grant_option_and_limits_carried_over(
    mdb_tls, sm, harness, new_secret, make_user, mdb_tls_admin_arn, database, ca_bundle
):
    user, old = make_user(mdb_tls, clauses="REQUIRE SSL WITH MAX_USER_CONNECTIONS 7")
    db = database(mdb_tls)
    grant_to(mdb_tls, user, f"GRANT SELECT ON `{db}`.*")
    sql(mdb_tls, f"GRANT SELECT ON `{db}`.* TO `{user}`@`%` WITH GRANT OPTION")
    arn = new_secret(my_secret(mdb_tls, user, old, masterarn=mdb_tls_admin_arn))

    assert harness(ROTATOR).rotate(arn).succeeded

    clone = secret_value(sm, arn)
    assert options(mdb_tls, clone["username"]) == options(mdb_tls, user)
    assert options(mdb_tls, user)[0] == "ANY" and options(mdb_tls, user)[7] == 7
    assert grants(mdb_tls, clone["username"]) == grants(mdb_tls, user)
    assert any(g.option == "GRANT" for g in grants(mdb_tls, clone["username"]))
    assert logs_in(mdb_tls, clone["username"], clone["password"])


def test_x509_issuer_subject_and_cipher_carried_over(mdb, make_user):
    """REQUIRE ISSUER/SUBJECT/CIPHER values are bound, quotes and all (engine call: such a
    user cannot log in without a client certificate, which rotor does not present)."""
    user, _ = make_user(mdb)
    sql(
        mdb,
        "ALTER USER %s@'%%' REQUIRE ISSUER %s AND SUBJECT %s AND CIPHER %s",
        (user, "/CN=rotor test CA", "/CN=o'brien \\ 100%", "TLS_AES_256_GCM_SHA384"),
    )
    engine = MySQL()
    admin = DatabaseSecret.parse(mdb.admin_secret(), "admin", MYSQL_ENGINES, 3306)
    with engine.session(admin, TlsSettings.for_secret(admin)) as conn:
        engine.ensure_clone(conn, user, f"{user}_clone", "pw'\\%")
        engine.ensure_clone(conn, user, f"{user}_clone", "pw'\\%")  # converges
    assert options(mdb, f"{user}_clone") == options(mdb, user)
    assert options(mdb, user)[0] == "SPECIFIED"


def test_each_step_replayed_twice(mdb, sm, harness, new_secret, make_user, mdb_admin_arn, database):
    user, old = make_user(mdb)
    grant_to(mdb, user, f"GRANT SELECT ON `{database()}`.*")
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    h = harness(ROTATOR)
    for rotation in range(2):  # creating the clone, then switching back to the original
        token = h.start(arn)
        for step in STEPS:
            for _ in range(2):
                assert h.invoke(arn, token, step).error is None, (rotation, step)
                current = secret_value(sm, arn)
                assert logs_in(mdb, current["username"], current["password"])
        assert stages(sm, arn)[token] == ["AWSCURRENT"]
    assert grants(mdb, f"{user}_clone") == grants(mdb, user)
    assert secret_value(sm, arn)["username"] == user
    assert not logs_in(mdb, user, old)


def test_passwords_with_quotes_backslashes_and_percent(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, monkeypatch
):
    monkeypatch.setenv(
        "EXCLUDE_CHARACTERS", "".join(c for c in "!#$&()*+,-./:;<=>?@[]^_`{|}~" if c not in NASTY)
    )
    for flag in ("EXCLUDE_NUMBERS", "EXCLUDE_UPPERCASE", "EXCLUDE_LOWERCASE"):
        monkeypatch.setenv(flag, "true")
    monkeypatch.setenv("PASSWORD_LENGTH", "64")
    user, old = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    h = harness(ROTATOR)
    for _ in range(3):  # CREATE USER, ALTER USER of the original, ALTER USER of the clone
        assert h.rotate(arn).succeeded
        new = secret_value(sm, arn)
        assert set(new["password"]) <= set(NASTY)
        assert logs_in(mdb, new["username"], new["password"])


def _assert_nothing_changed(mdb, sm, arn, report, user, old, before):
    assert not report.succeeded
    assert snapshot(mdb, user, f"{user}_clone") == before
    assert hosts(mdb, f"{user}_clone") == []
    current = next(v for v, s in stages(sm, arn).items() if "AWSCURRENT" in s)
    assert current != report.token and secret_value(sm, arn)["password"] == old
    assert logs_in(mdb, user, old)


def test_too_long_username_refused_before_any_change(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn
):
    user, old = make_user(mdb, name="u" + unique_user("long")[-8:] + "x" * 18)  # 27 + 6 > 32
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    before = snapshot(mdb, user, f"{user}_clone")

    report = harness(ROTATOR, attempts=1).rotate(arn)

    assert report.steps[-1].step == "createSecret"
    error = report.steps[-1].error
    assert f"'{user}_clone' is 33 bytes; mysql allows 32" in error
    assert "at most 26 bytes" in error
    _assert_nothing_changed(mdb, sm, arn, report, user, old, before)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):  # AWSPENDING has no value
        sm.get_secret_value(SecretId=arn, VersionId=report.token, VersionStage="AWSPENDING")


def test_server_limit_rechecked_by_set_secret(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, monkeypatch
):
    """createSecret knows only the configured limit; setSecret asks again, before any change
    (here the override stands in for a MySQL 5.7 server's limit, which setSecret detects)."""
    user, old = make_user(mdb, name=unique_user("lim"))  # 12 + 6 = 18 bytes
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    before = snapshot(mdb, user, f"{user}_clone")
    h = harness(ROTATOR, attempts=1)
    token = h.start(arn)
    assert h.invoke(arn, token, "createSecret").error is None
    monkeypatch.setenv("ROTOR_MYSQL_MAX_USERNAME", "16")

    error = h.invoke(arn, token, "setSecret").error

    assert f"'{user}_clone' is 18 bytes; mysql allows 16" in error
    assert snapshot(mdb, user, f"{user}_clone") == before and logs_in(mdb, user, old)


def test_username_limit_read_from_the_server(mdb, monkeypatch):
    engine = MySQL()
    admin = DatabaseSecret.parse(mdb.admin_secret(), "admin", MYSQL_ENGINES, 3306)
    with engine.session(admin, TlsSettings.for_secret(admin)) as conn:
        assert isinstance(conn, Session) and conn.server.mariadb
        assert engine.username_limit(conn) == 128  # MariaDB 10.11: mysql.user.User char(128)
        monkeypatch.setenv("ROTOR_MYSQL_MAX_USERNAME", "20")
        assert engine.username_limit(conn) == 20
    assert engine.configured_username_limit() == 20


def test_user_with_several_hosts_refused(mdb, sm, harness, new_secret, make_user, mdb_admin_arn):
    user, old = make_user(mdb)
    sql(mdb, "CREATE USER %s@'10.0.0.%%' IDENTIFIED BY 'other-password'", (user,))
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
    before = snapshot(mdb, user, f"{user}_clone")

    report = harness(ROTATOR, attempts=1).rotate(arn)

    assert report.steps[-1].step == "setSecret"
    error = report.steps[-1].error
    assert f"is defined for several hosts ('{user}'@'%', '{user}'@'10.0.0.%')" in error
    _assert_nothing_changed(mdb, sm, arn, report, user, old, before)


def test_clone_on_another_host_refused(mdb, sm, harness, new_secret, make_user, mdb_admin_arn):
    user, old = make_user(mdb)
    sql(mdb, "CREATE USER %s@'localhost' IDENTIFIED BY 'stray'", (f"{user}_clone",))
    arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))

    report = harness(ROTATOR, attempts=1).rotate(arn)

    assert not report.succeeded
    assert "nothing on the server proves rotor made it" in report.steps[-1].error
    # Even adopted, a clone on another host than the original's is refused, naming it.
    adopting = new_secret(mdb.admin_secret())
    arn = new_secret(my_secret(mdb, user, old, masterarn=adopting))
    sm.put_secret_value(
        SecretId=adopting,
        SecretString=json.dumps(mdb.admin_secret(adopt_users={arn: f"{user}_clone"})),
    )
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert f"'{user}_clone'@'localhost'" in report.steps[-1].error
    assert hosts(mdb, f"{user}_clone") == ["localhost"] and logs_in(mdb, user, old)
