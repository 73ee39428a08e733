"""MySQL family, single user: the user changes its own password with SET PASSWORD (MariaDB)."""

from __future__ import annotations

import pytest
from rotor.local.harness import STEPS

from tests.helpers import secret_value, stages
from tests.mysql.support import ENGINES, NASTY, logs_in, my_secret, snapshot, sql

ROTATOR = "mysql_single"


@pytest.mark.parametrize("engine", ENGINES)
def test_rotates_own_password(mdb, sm, harness, new_secret, make_user, engine):
    user, old = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, old, engine=engine, note="kept"))

    report = harness(ROTATOR).rotate(arn)

    assert report.succeeded, report.steps
    new = secret_value(sm, arn)
    assert new["username"] == user and new["password"] != old and new["note"] == "kept"
    assert logs_in(mdb, user, new["password"])
    assert not logs_in(mdb, user, old)
    assert secret_value(sm, arn, "AWSPREVIOUS")["password"] == old


def test_each_step_replayed_twice(mdb, sm, harness, new_secret, make_user):
    user, old = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, old))
    h = harness(ROTATOR)
    token = h.start(arn)
    for step in STEPS:
        for _ in range(2):
            assert h.invoke(arn, token, step).error is None, step
        if step == "createSecret":
            pending = secret_value(sm, arn, "AWSPENDING")
    assert stages(sm, arn)[token] == ["AWSCURRENT"]
    assert secret_value(sm, arn) == pending
    assert logs_in(mdb, user, pending["password"]) and not logs_in(mdb, user, old)


def test_passwords_with_quotes_backslashes_and_percent(
    mdb, sm, harness, new_secret, make_user, monkeypatch
):
    # Only ' " \ % may be drawn: every new password is made of the awkward characters.
    monkeypatch.setenv(
        "EXCLUDE_CHARACTERS", "".join(c for c in "!#$&()*+,-./:;<=>?@[]^_`{|}~" if c not in NASTY)
    )
    for flag in ("EXCLUDE_NUMBERS", "EXCLUDE_UPPERCASE", "EXCLUDE_LOWERCASE"):
        monkeypatch.setenv(flag, "true")
    monkeypatch.setenv("PASSWORD_LENGTH", "64")
    user, old = make_user(mdb)  # the old one holds them too
    assert all(c in old for c in NASTY)
    arn = new_secret(my_secret(mdb, user, old))
    h = harness(ROTATOR)
    for _ in range(2):
        assert h.rotate(arn).succeeded
        new = secret_value(sm, arn)["password"]
        assert set(new) <= set(NASTY) and len(new) == 64
        assert logs_in(mdb, user, new) and not logs_in(mdb, user, old)
        old = new


def test_plaintext_needs_ssl_false(mdb, sm, harness, new_secret, make_user):
    """A secret without "ssl" means verified TLS: a server without TLS is an error, not a
    silent downgrade, and nothing changes."""
    user, old = make_user(mdb)
    value = my_secret(mdb, user, old)
    del value["ssl"]
    arn = new_secret(value)
    before = snapshot(mdb, user)
    current_version = next(v for v, s in stages(sm, arn).items() if "AWSCURRENT" in s)

    report = harness(ROTATOR, attempts=1).rotate(arn)

    assert not report.succeeded
    error = report.steps[-1].error
    assert report.steps[-1].step == "setSecret"
    assert "SSL is required but the server doesn't support it" in error
    assert "ROTOR_CA_BUNDLE" in error and '"ssl": false' in error
    assert snapshot(mdb, user) == before and logs_in(mdb, user, old)
    assert "AWSCURRENT" in stages(sm, arn)[current_version]
    assert secret_value(sm, arn)["password"] == old


def test_user_with_several_hosts_is_refused(mdb, sm, harness, new_secret, make_user):
    """A user who may read mysql.user sees its other accounts: rotating only one would leave
    the others on the old password, so the rotation stops and names them."""
    user, old = make_user(mdb)
    sql(mdb, "CREATE USER %s@'localhost' IDENTIFIED BY 'other-password'", (user,))
    sql(mdb, f"GRANT SELECT ON `mysql`.* TO `{user}`@`%`")
    arn = new_secret(my_secret(mdb, user, old))
    before = snapshot(mdb, user)

    report = harness(ROTATOR, attempts=1).rotate(arn)

    assert not report.succeeded
    error = report.steps[-1].error
    assert f"'{user}'@'%', '{user}'@'localhost'" in error and "several hosts" in error
    assert snapshot(mdb, user) == before and logs_in(mdb, user, old)
    assert secret_value(sm, arn)["password"] == old


def test_unknown_user_fails_clearly(mdb, sm, harness, new_secret):
    arn = new_secret(my_secret(mdb, "nobody_here", "not-a-password"))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "Neither AWSCURRENT, AWSPENDING nor AWSPREVIOUS" in report.steps[-1].error
