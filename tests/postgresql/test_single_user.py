"""PostgreSQL single user: the user changes its own password, proven by real logins."""

from __future__ import annotations

from typing import Any

import pytest
from rotor.local.harness import STEPS

from tests.helpers import secret_value, stages, unique_user
from tests.pg import logs_in, pg_secret

ROTATOR = "postgresql_single"


def test_rotation_rejects_old_password_and_accepts_new(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old, extra_key="kept"))

    report = harness(ROTATOR).rotate(arn)

    assert report.succeeded, report.steps
    new = secret_value(sm, arn)
    assert new["password"] != old
    assert new["username"] == user and new["extra_key"] == "kept"
    assert logs_in(pg, user, new["password"])
    assert not logs_in(pg, user, old)
    assert secret_value(sm, arn, "AWSPREVIOUS")["password"] == old
    assert stages(sm, arn)[report.token] == ["AWSCURRENT"]  # AWSPENDING removed


def test_consecutive_rotations_each_change_the_password(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    seen = {old}
    for _ in range(3):
        assert harness(ROTATOR).rotate(arn).succeeded
        password = secret_value(sm, arn)["password"]
        assert password not in seen
        seen.add(password)
        assert logs_in(pg, user, password)
    assert not any(logs_in(pg, user, p) for p in seen - {password})


def test_every_step_replayed_twice_gives_the_same_result(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    h = harness(ROTATOR)
    token = h.start(arn)
    for step in STEPS:
        assert h.invoke(arn, token, step).error is None
        after_first = stages(sm, arn)
        pending_first = secret_value(sm, arn, "AWSPENDING") if step != "finishSecret" else None
        assert h.invoke(arn, token, step).error is None, step
        assert stages(sm, arn) == after_first, step
        if pending_first is not None:
            assert secret_value(sm, arn, "AWSPENDING") == pending_first
    new = secret_value(sm, arn)["password"]
    assert logs_in(pg, user, new) and not logs_in(pg, user, old)


def test_retry_after_password_changed_logs_in_with_pending(pg, sm, harness, new_secret, make_role):
    """A lost setSecret response: the database already has the new password."""
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    h = harness(ROTATOR)
    token = h.start(arn)
    h.invoke(arn, token, "createSecret")
    h.invoke(arn, token, "setSecret")
    assert not logs_in(pg, user, old)
    assert h.resume(arn, token).succeeded
    assert logs_in(pg, user, secret_value(sm, arn)["password"])


def test_falls_back_to_previous_password(pg, sm, harness, new_secret, make_role):
    """The database still has AWSPREVIOUS's password (someone reset it): setSecret converges."""
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    assert harness(ROTATOR).rotate(arn).succeeded
    with pg.connect() as conn:
        from psycopg import sql

        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(old))
        )
    report = harness(ROTATOR).rotate(arn)
    assert report.succeeded, report.steps
    new = secret_value(sm, arn)["password"]
    assert logs_in(pg, user, new) and not logs_in(pg, user, old)


def test_no_working_password_is_a_clear_error(pg, sm, harness, new_secret, make_role):
    user, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, user, "not-the-password"))
    before = stages(sm, arn)
    report = harness(ROTATOR, attempts=2).rotate(arn)
    assert not report.succeeded
    assert "Neither AWSCURRENT, AWSPENDING nor AWSPREVIOUS" in (report.steps[-1].error or "")
    assert report.steps[-1].step == "setSecret" and report.attempts == 2
    assert secret_value(sm, arn)["password"] == "not-the-password"
    assert {v: s for v, s in stages(sm, arn).items() if "AWSCURRENT" in s} == {
        v: s for v, s in before.items() if "AWSCURRENT" in s
    }


@pytest.mark.parametrize("exclude", ["", "abc"])
def test_passwords_with_quotes_and_backslashes(
    pg, sm, harness, new_secret, make_role, monkeypatch, exclude
):
    monkeypatch.setenv("EXCLUDE_CHARACTERS", exclude)
    monkeypatch.setenv("PASSWORD_LENGTH", "64")
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    for _ in range(3):
        assert harness(ROTATOR).rotate(arn).succeeded
        new = secret_value(sm, arn)["password"]
        assert len(new) == 64 and not set(exclude) & set(new)
        assert logs_in(pg, user, new)


def test_role_names_are_quoted_not_interpolated(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg, name=unique_user('Odd "Name"; -- '))
    arn = new_secret(pg_secret(pg, user, old))
    assert harness(ROTATOR).rotate(arn).succeeded
    assert logs_in(pg, user, secret_value(sm, arn)["password"])


def test_hostile_username_changes_nothing(pg, sm, harness, new_secret, make_role):
    victim, victim_pw = make_role(pg)
    hostile = f'x"; DROP ROLE "{victim}"; --'
    arn = new_secret(pg_secret(pg, hostile, "whatever-password"))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert logs_in(pg, victim, victim_pw)
    assert secret_value(sm, arn)["password"] == "whatever-password"


def test_server_never_sees_a_clear_text_password(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    assert harness(ROTATOR).rotate(arn).succeeded
    new = secret_value(sm, arn)["password"]
    log: Any = pg.log_text()
    assert "ALTER ROLE" in log  # log_statement = all is really on
    assert new not in log
