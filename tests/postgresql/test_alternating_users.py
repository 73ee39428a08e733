"""PostgreSQL alternating users: <user> and <user>_clone take turns, the admin does the work."""

from __future__ import annotations

import pytest
from psycopg import sql
from rotor.local.harness import STEPS

from tests.helpers import secret_value, stages, unique_user
from tests.pg import logs_in, pg_secret, role_exists

ROTATOR = "postgresql_alternating"


def _memberships(pg, role):
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (role,),
        ).fetchall()
    return {r[0] for r in rows}


def _settings(pg, role):
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT d.datname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r "
            "ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase "
            "WHERE r.rolname = %s",
            (role,),
        ).fetchall()
    return {(db, tuple(config)) for db, config in rows}


def _can_select(pg, user, password, table):
    with pg.connect(user, password) as conn:
        try:
            conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
        except Exception as exc:
            assert "permission denied" in str(exc)
            return False
    return True


def test_alternates_between_user_and_clone(pg, sm, harness, new_secret, make_role, admin_arn):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    h = harness(ROTATOR)

    assert h.rotate(arn).succeeded
    first = secret_value(sm, arn)
    assert first["username"] == f"{user}_clone" and first["masterarn"] == admin_arn
    assert logs_in(pg, first["username"], first["password"])
    assert logs_in(pg, user, old)  # AWSPREVIOUS still works for consumers that cached it

    assert h.rotate(arn).succeeded
    second = secret_value(sm, arn)
    assert second["username"] == user and second["password"] != old
    assert logs_in(pg, user, second["password"]) and not logs_in(pg, user, old)
    assert logs_in(pg, first["username"], first["password"])  # now AWSPREVIOUS

    assert h.rotate(arn).succeeded
    third = secret_value(sm, arn)
    assert third["username"] == f"{user}_clone"
    assert logs_in(pg, third["username"], third["password"])
    assert not logs_in(pg, first["username"], first["password"])


def test_grants_added_later_reach_the_clone(pg, sm, harness, new_secret, make_role, admin_arn):
    user, old = make_role(pg)
    table = f"t_{user}"
    with pg.connect() as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(f"{user}_readers")))
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(f"{user}_gone")))
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(f"{user}_gone"), sql.Identifier(user))
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} CREATEDB CONNECTION LIMIT 7").format(sql.Identifier(user))
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET statement_timeout = '5s'").format(sql.Identifier(user))
        )
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} IN DATABASE postgres SET search_path = "
                '"$user", public, "odd, schema"'
            ).format(sql.Identifier(user))
        )
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    h = harness(ROTATOR)
    assert h.rotate(arn).succeeded
    clone = secret_value(sm, arn)
    assert _memberships(pg, clone["username"]) == {user}  # the rest comes through the original
    assert not _can_select(pg, clone["username"], clone["password"], table)
    search_path = ("postgres", ('search_path="$user", public, "odd, schema"',))
    assert (
        _settings(pg, clone["username"])
        == _settings(pg, user)
        == {(None, ("statement_timeout=5s",)), search_path}
    )

    # After the clone exists: a direct grant, a new membership, a revoked one, an attribute.
    with pg.connect() as conn:
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), sql.Identifier(user))
        )
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(f"{user}_readers"), sql.Identifier(user)
            )
        )
        conn.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(f"{user}_gone"), sql.Identifier(user)
            )
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} NOCREATEDB VALID UNTIL '2999-01-01'").format(
                sql.Identifier(user)
            )
        )
        conn.execute(sql.SQL("ALTER ROLE {} RESET statement_timeout").format(sql.Identifier(user)))
    # Privileges and memberships reach the clone through the original at once, no rotation.
    assert _can_select(pg, clone["username"], clone["password"], table)
    assert h.rotate(arn).succeeded  # back to the original user
    assert h.rotate(arn).succeeded  # the clone again: attributes and settings in step
    clone = secret_value(sm, arn)
    assert clone["username"] == f"{user}_clone"
    assert _can_select(pg, clone["username"], clone["password"], table)
    assert _memberships(pg, clone["username"]) == {user}
    with pg.connect() as conn:
        createdb, inherit, limit, until = conn.execute(
            "SELECT rolcreatedb, rolinherit, rolconnlimit, rolvaliduntil FROM pg_roles "
            "WHERE rolname = %s",
            (clone["username"],),
        ).fetchone()
    assert (createdb, inherit, limit, until.year) == (False, True, 7, 2999)
    assert _settings(pg, clone["username"]) == {search_path}


def test_every_step_replayed_twice(pg, sm, harness, new_secret, make_role, admin_arn):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    h = harness(ROTATOR)
    token = h.start(arn)
    for step in STEPS:
        assert h.invoke(arn, token, step).error is None
        before = stages(sm, arn)
        assert h.invoke(arn, token, step).error is None, step
        assert stages(sm, arn) == before
    new = secret_value(sm, arn)
    assert logs_in(pg, new["username"], new["password"]) and logs_in(pg, user, old)


def test_too_long_username_fails_before_any_change(
    pg, sm, harness, new_secret, make_role, admin_arn
):
    user, old = make_role(pg, name=unique_user("u" * 49))  # 58 + len("_clone") = 64 > 63
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    before = stages(sm, arn)
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert report.steps[0].step == "createSecret"
    assert "allows 63" in (report.steps[0].error or "")
    assert not role_exists(pg, user + "_clone") and not role_exists(pg, (user + "_clone")[:63])
    assert secret_value(sm, arn)["password"] == old
    assert {v: s for v, s in stages(sm, arn).items() if v in before} == before


def test_missing_masterarn_is_a_clear_error(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded and "'masterarn' is missing" in (report.steps[0].error or "")
    assert not role_exists(pg, f"{user}_clone")


def test_admin_secret_for_another_host_is_refused(pg, sm, harness, new_secret, make_role):
    user, old = make_role(pg)
    elsewhere = new_secret(pg.admin_secret(host="localhost"))
    arn = new_secret(pg_secret(pg, user, old, masterarn=elsewhere))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "refusing to use admin credentials elsewhere" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{user}_clone")


def test_current_login_must_work_before_admin_acts(
    pg, sm, harness, new_secret, make_role, admin_arn
):
    """Confused-deputy guard: a secret naming a user it cannot log in as gets nothing done."""
    victim, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, victim, "guessed-password", masterarn=admin_arn))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "refusing to use the admin login" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{victim}_clone")


@pytest.mark.parametrize("prefix", ['Odd "Name"; --', "ünïcode_ユーザー"])
def test_unusual_role_names(pg, sm, harness, new_secret, make_role, admin_arn, prefix):
    user, old = make_role(pg, name=unique_user(prefix))
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    assert harness(ROTATOR).rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert new["username"] == f"{user}_clone" and logs_in(pg, new["username"], new["password"])


def test_admin_tls_is_not_downgraded_by_the_rotated_secret(pg, sm, harness, new_secret, make_role):
    """The rotated secret says "ssl": false; the admin secret says nothing, so it is TLS."""
    admin = new_secret({k: v for k, v in pg.admin_secret().items() if k != "ssl"})
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "server does not support SSL" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{user}_clone")


def test_rotating_the_admin_itself_is_refused(pg, sm, harness, new_secret, admin_arn):
    arn = new_secret(pg.admin_secret(masterarn=admin_arn))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "the admin of" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{pg.superuser}_clone")
    assert pg.logs_in(pg.superuser, pg.superuser_password)


def test_a_clone_rotor_did_not_make_cannot_reset_the_original(
    pg, sm, harness, new_secret, make_role, admin_arn
):
    """Confused deputy, clone -> original: knowing a '<victim>_clone' password is not enough."""
    victim, victim_password = make_role(pg)
    fake_clone, known = make_role(pg, name=f"{victim}_clone")  # not a member of the victim
    arn = new_secret(pg_secret(pg, fake_clone, known, masterarn=admin_arn))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "nothing on the server proves rotor made it" in (report.steps[-1].error or "")
    assert logs_in(pg, victim, victim_password)


def test_original_valid_until_infinity(pg, sm, harness, new_secret, make_role, admin_arn):
    user, old = make_role(pg)
    with pg.connect() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} VALID UNTIL 'infinity'").format(sql.Identifier(user)))
    arn = new_secret(pg_secret(pg, user, old, masterarn=admin_arn))
    for _ in range(3):
        assert harness(ROTATOR).rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert new["username"] == f"{user}_clone" and logs_in(pg, new["username"], new["password"])
