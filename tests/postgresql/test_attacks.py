"""Attacks on the PostgreSQL rotators, performed against a real server.

The attacker writes only their own application's secret and logs in as their own role, which
may own its database. Each test performs an attack and asserts it has no effect.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from tests.helpers import secret_value, stages, unique_user
from tests.pg import logs_in, pg_secret, role_exists

ROTATOR = "postgresql_alternating"


def run(server, statement, args=None, user=None, password=None, dbname="postgres"):
    """One statement as the admin, or as ``user``, in ``dbname``."""
    with psycopg.connect(
        host=server.host,
        port=server.port,
        dbname=dbname,
        autocommit=True,
        user=user or server.superuser,
        password=password if user else server.superuser_password,
        sslmode="disable",
    ) as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def role(server, name):
    """(superuser, createrole, comment) of a role, or None."""
    rows = run(
        server,
        "SELECT rolsuper, rolcreaterole, shobj_description(oid, 'pg_authid') "
        "FROM pg_roles WHERE rolname = %s",
        (name,),
    )
    return rows[0] if rows else None


def memberships(server, name):
    return {
        r[0]
        for r in run(
            server,
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (name,),
        )
    }


# --- 1. An application role shaping the admin's session -------------------------------------
TRAPS = """
CREATE SCHEMA trap;
CREATE TABLE trap.ran (who text, what text);
GRANT ALL ON SCHEMA trap TO PUBLIC;
GRANT ALL ON trap.ran TO PUBLIC;
CREATE FUNCTION trap.escalate(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO trap.ran VALUES (current_user, what);
  EXECUTE format('ALTER ROLE %I SUPERUSER CREATEROLE', '{app}');
  RETURN true;
EXCEPTION WHEN OTHERS THEN RETURN true;
END $$;
CREATE VIEW trap.pg_roles AS
  SELECT r.* FROM pg_catalog.pg_roles r WHERE trap.escalate('pg_roles');
CREATE VIEW trap.pg_auth_members AS
  SELECT m.* FROM pg_catalog.pg_auth_members m WHERE trap.escalate('pg_auth_members');
CREATE VIEW trap.pg_db_role_setting AS
  SELECT s.* FROM pg_catalog.pg_db_role_setting s WHERE trap.escalate('pg_db_role_setting');
CREATE FUNCTION trap.name_eq(name, text) RETURNS boolean LANGUAGE sql
  AS $$ SELECT trap.escalate('operator') AND $1::text = $2 $$;
CREATE OPERATOR trap.= (LEFTARG = name, RIGHTARG = text, FUNCTION = trap.name_eq);
CREATE FUNCTION trap.shobj_description(oid, name) RETURNS text LANGUAGE sql
  AS $$ SELECT CASE WHEN trap.escalate('function') THEN 'x' END $$;
ALTER DATABASE "{db}" SET search_path = trap, pg_catalog, public;
"""
# A variant: sessions in the database run as the owner (its objects, its privileges).
ROLE_TRAP = """ALTER DATABASE "{db}" SET role = '{app}';"""


@pytest.mark.parametrize("role_trap", [False, True])
@pytest.mark.parametrize("admin_dbname", [None, "the application's"])
def test_a_database_owner_cannot_shape_the_admin_session(
    pg, sm, harness, new_secret, make_role, admin_dbname, role_trap
):
    """The owner of the application's database shadows the catalogue (views, an operator, a
    function), sets the database's search_path and role, and waits for the admin. RDS-managed
    admin secrets have no dbname; a platform team might also point one at the app's database."""
    app, password = make_role(pg)
    db = unique_user("db")
    run(pg, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(app)))
    with psycopg.connect(
        host=pg.host,
        port=pg.port,
        dbname=db,
        user=app,
        password=password,
        autocommit=True,
        sslmode="disable",
    ) as conn:
        conn.execute(TRAPS.format(app=app, db=db))
        if role_trap:
            conn.execute(ROLE_TRAP.format(app=app, db=db))
    admin_value = pg.admin_secret()
    admin_value.pop("dbname")
    if admin_dbname:
        admin_value["dbname"] = db
    admin = new_secret(admin_value)
    arn = new_secret(pg_secret(pg, app, password, dbname=db, masterarn=admin))
    h = harness(ROTATOR)

    if admin_dbname:  # the owner of the admin's database shapes its sessions: refused
        report = harness(ROTATOR, attempts=1).rotate(arn)
        assert not report.succeeded
        assert f"database is owned by '{app}'" in (report.steps[-1].error or "")
    else:
        for _ in range(3):  # the clone is made, then the original reset, then the clone again
            report = h.rotate(arn)
            assert report.succeeded, report.steps

    assert run(pg, "SELECT * FROM trap.ran", dbname=db) == []  # no trap ever ran
    assert role(pg, app)[:2] == (False, False)
    assert role(pg, f"{app}_clone") is None or role(pg, f"{app}_clone")[:2] == (False, False)
    current = secret_value(sm, arn)
    assert logs_in(pg, current["username"], current["password"])


def test_sessions_are_pinned_even_inside_the_applications_database(pg, make_role):
    """The engine's own sessions, whatever the database's settings say."""
    from rotor.databases.postgresql import PostgreSQL
    from rotor.databases.tls import TlsSettings
    from rotor.models import POSTGRES_ENGINES, DatabaseSecret

    app, password = make_role(pg)
    db = unique_user("db")
    run(pg, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(app)))
    for setting in (
        "search_path = public, pg_catalog",
        f"role = '{app}'",
        "standard_conforming_strings = off",
        "default_transaction_read_only = on",
    ):
        run(pg, f'ALTER DATABASE "{db}" SET {setting}', user=app, password=password, dbname=db)
    admin = DatabaseSecret.parse(
        {**pg.admin_secret(), "dbname": db}, "admin", POSTGRES_ENGINES, 5432, admin=True
    )
    with PostgreSQL().session(admin, TlsSettings.for_secret(admin)) as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('search_path'), "
            "current_setting('standard_conforming_strings'), "
            "current_setting('default_transaction_read_only')"
        ).fetchone()
    assert row == (pg.superuser, "pg_catalog,pg_temp", "on", "off")


# --- 5. Accounts named '<user>_clone' that rotor did not make ----------------------------------
@pytest.fixture
def foreign_clone(pg, make_role):
    """Another team's role that happens to be called '<svc>_clone': it owns a table and is a
    member of a group of its own."""
    svc, svc_password = make_role(pg)
    other, other_password = make_role(pg, name=f"{svc}_clone")
    group = unique_user("grp")
    run(pg, sql.SQL("CREATE ROLE {}").format(sql.Identifier(group)))
    run(pg, sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(other)))
    run(pg, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(f"t_{other}")))
    run(
        pg,
        sql.SQL("ALTER TABLE {} OWNER TO {}").format(
            sql.Identifier(f"t_{other}"), sql.Identifier(other)
        ),
    )
    return svc, svc_password, other, other_password, group


def _untouched(pg, svc, svc_password, other, other_password, group, member_of_svc=False):
    assert logs_in(pg, svc, svc_password) and logs_in(pg, other, other_password)
    assert role(pg, other) == (False, False, None)
    expected = {group, svc} if member_of_svc else {group}
    assert memberships(pg, other) == expected
    owner = run(pg, "SELECT tableowner FROM pg_tables WHERE tablename = %s", (f"t_{other}",))
    assert owner == [(other,)]


@pytest.mark.parametrize("member_of_svc", [False, True])
def test_an_unrelated_clone_named_role_is_not_adopted(
    pg, sm, harness, new_secret, admin_arn, foreign_clone, member_of_svc
):
    """The svc team's rotation would make '<svc>_clone' its alternate: reset its password,
    hand it over with its tables. Even a DBA's membership grant proves nothing."""
    svc, svc_password, other, other_password, group = foreign_clone
    if member_of_svc:
        run(pg, sql.SQL("GRANT {} TO {}").format(sql.Identifier(svc), sql.Identifier(other)))
    arn = new_secret(pg_secret(pg, svc, svc_password, masterarn=admin_arn))
    before = stages(sm, arn)
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert f"User '{other}' exists, but nothing on the server proves rotor made it" in error
    assert "'adopt_users'" in error and "adopt it" in error
    _untouched(pg, svc, svc_password, other, other_password, group, member_of_svc)
    assert secret_value(sm, arn)["password"] == svc_password
    assert {v: s for v, s in stages(sm, arn).items() if v in before} == before


@pytest.mark.parametrize("member_of_svc", [False, True])
def test_the_owner_of_a_clone_named_role_cannot_get_the_original_reset(
    pg, sm, harness, new_secret, admin_arn, foreign_clone, member_of_svc
):
    """Clone -> original: the other team rotates its own '<svc>_clone' secret; rotor would
    reset '<svc>' and hand its password over."""
    svc, svc_password, other, other_password, group = foreign_clone
    if member_of_svc:
        run(pg, sql.SQL("GRANT {} TO {}").format(sql.Identifier(svc), sql.Identifier(other)))
    arn = new_secret(pg_secret(pg, other, other_password, masterarn=admin_arn))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "nothing on the server proves rotor made it" in (report.steps[-1].error or "")
    _untouched(pg, svc, svc_password, other, other_password, group, member_of_svc)


def test_the_admin_secret_adopts_an_existing_clone(
    pg, sm, harness, new_secret, foreign_clone, caplog
):
    """Teams coming from AWS's samples have '<user>_clone' roles: the admin secret lists them
    under 'adopt_users', and from then on they are rotor's (marked on the server)."""
    svc, svc_password, other, _, _ = foreign_clone
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, svc, svc_password, masterarn=admin))
    sm.put_secret_value(
        SecretId=admin, SecretString=json.dumps(pg.admin_secret(adopt_users={arn: other}))
    )
    caplog.set_level(logging.WARNING)
    assert harness(ROTATOR).rotate(arn).succeeded
    assert "Adopting an existing user as the alternate" in caplog.text
    clone = secret_value(sm, arn)
    assert clone["username"] == other and logs_in(pg, other, clone["password"])
    assert memberships(pg, other) == {svc}
    assert role(pg, other)[2] == f"rotor: alternate of {svc}"
    # Marked: the adoption entry is no longer needed.
    plain = new_secret(pg.admin_secret())
    value = {**clone, "masterarn": plain}
    arn2 = new_secret(value)
    for _ in range(2):
        assert harness(ROTATOR).rotate(arn2).succeeded


def test_adopting_a_current_clone_resets_its_original(pg, sm, harness, new_secret, make_role):
    """A secret left on '<user>_clone' by AWS's sample: adopted, rotor resets '<user>'."""
    svc, _ = make_role(pg)
    clone, clone_password = make_role(pg, name=f"{svc}_clone")
    run(pg, sql.SQL("GRANT {} TO {}").format(sql.Identifier(svc), sql.Identifier(clone)))
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, clone, clone_password, masterarn=admin))
    other_arn = new_secret(pg_secret(pg, clone, clone_password, masterarn=admin))
    sm.put_secret_value(
        SecretId=admin, SecretString=json.dumps(pg.admin_secret(adopt_users={arn: clone}))
    )
    # Bound to the secret: another secret holding the same clone gets nothing adopted.
    report = harness(ROTATOR, attempts=1).rotate(other_arn)
    assert not report.succeeded and "adopt it" in (report.steps[-1].error or "")
    assert harness(ROTATOR).rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert new["username"] == svc and logs_in(pg, svc, new["password"])
    assert logs_in(pg, clone, clone_password)  # AWSPREVIOUS keeps working


def test_adoption_must_map_secret_arns_to_clones(pg, sm, harness, new_secret, make_role):
    user, password = make_role(pg)
    admin = new_secret(pg.admin_secret(adopt_users=[f"{user}_clone"]))
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert "key 'adopt_users' must map rotated secret ARNs" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{user}_clone")


# --- PostgreSQL 16+: per-grant membership options ----------------------------------------------
def grant_options(server, member):
    return {
        r[0]: tuple(r[1:])
        for r in run(
            server,
            "SELECT r.rolname, bool_or(m.admin_option), bool_or(m.inherit_option), "
            "bool_or(m.set_option) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s GROUP BY r.rolname",
            (member,),
        )
    }


def can(server, user, password, statement):
    try:
        run(server, statement, user=user, password=password)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def test_membership_options_reach_the_clone_never_widened(pg18, sm, harness, new_secret, make_role):
    """PostgreSQL 18: each grant's INHERIT, SET and ADMIN options hold for the clone exactly as
    for the original (copied memberships used to come out INHERIT TRUE, SET TRUE), because the
    clone's one membership is the original; changes on the original reach it at once."""
    pg = pg18
    user, password = make_role(pg)
    roles = {name: unique_user(name) for name in ("noinherit", "admin", "plain", "later")}
    for name in roles.values():
        run(pg, sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    ident = sql.Identifier
    tables = {}
    for name in ("noinherit", "plain", "later"):
        tables[name] = unique_user("t")
        run(pg, sql.SQL("CREATE TABLE {} (x int)").format(ident(tables[name])))
        run(pg, sql.SQL("GRANT SELECT ON {} TO {}").format(ident(tables[name]), ident(roles[name])))
    run(
        pg,
        sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET FALSE").format(
            ident(roles["noinherit"]), ident(user)
        ),
    )
    run(
        pg,
        sql.SQL("GRANT {} TO {} WITH ADMIN TRUE, INHERIT TRUE, SET FALSE").format(
            ident(roles["admin"]), ident(user)
        ),
    )
    run(pg, sql.SQL("GRANT {} TO {}").format(ident(roles["plain"]), ident(user)))
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    h = harness(ROTATOR)

    assert h.rotate(arn).succeeded
    clone = secret_value(sm, arn)
    name, clone_password = clone["username"], clone["password"]
    assert grant_options(pg, name) == {user: (False, True, True)}  # nothing widened by copies

    def select(table):
        return sql.SQL("SELECT * FROM {}").format(ident(table)).as_string(None)

    def same(statement):
        """What the original may do, the clone may do, and no more."""
        result = can(pg, user, password, statement)
        assert can(pg, name, clone_password, statement) == result, statement
        return result

    assert not same(select(tables["noinherit"]))  # INHERIT FALSE
    assert not same(f'SET ROLE "{roles["noinherit"]}"')  # SET FALSE
    assert same(select(tables["plain"]))
    assert not same(f'SET ROLE "{roles["admin"]}"')
    grantee, _ = make_role(pg)
    assert can(pg, name, clone_password, f'GRANT "{roles["admin"]}" TO "{grantee}"')  # ADMIN

    # Later, on the original only: a grant added, one revoked. The clone follows at once.
    run(pg, sql.SQL("GRANT {} TO {}").format(ident(roles["later"]), ident(user)))
    run(pg, sql.SQL("REVOKE {} FROM {}").format(ident(roles["plain"]), ident(user)))
    assert same(select(tables["later"])) and not same(select(tables["plain"]))
    assert h.rotate(arn).succeeded and h.rotate(arn).succeeded
    assert grant_options(pg, secret_value(sm, arn)["username"]) == {user: (False, True, True)}


def test_noinherit_original_gives_no_inherited_privileges_to_the_clone(
    pg, sm, harness, new_secret, make_role, admin_arn
):
    """Before PostgreSQL 16, inheritance is the member's attribute: an INHERIT clone directly
    in the roles of a NOINHERIT original would use privileges the original cannot."""
    user, password = make_role(pg)
    group, table = unique_user("grp"), unique_user("t")
    run(pg, sql.SQL("CREATE ROLE {}").format(sql.Identifier(group)))
    run(pg, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
    run(
        pg, sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), sql.Identifier(group))
    )
    run(pg, sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(user)))
    run(pg, sql.SQL("ALTER ROLE {} NOINHERIT").format(sql.Identifier(user)))
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin_arn))
    assert harness(ROTATOR).rotate(arn).succeeded
    clone = secret_value(sm, arn)
    select = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)).as_string(None)
    assert not can(pg, user, password, select)
    assert not can(pg, clone["username"], clone["password"], select)
    assert can(pg, clone["username"], clone["password"], f'SET ROLE "{group}"')  # as the original


# --- Break glass -------------------------------------------------------------------------------
def soon(hours=1):
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _put(sm, secret_id, value):
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


def _disabled(pg, make_role, new_secret):
    """A secret whose AWSCURRENT no longer logs in (the leaked password was changed), and its
    admin secret: (secret ARN, user, admin ARN, admin value)."""
    user, password = make_role(pg)
    run(
        pg,
        sql.SQL("ALTER ROLE {} PASSWORD 'changed-by-incident-response'").format(
            sql.Identifier(user)
        ),
    )
    admin_value = pg.admin_secret()
    admin = new_secret(admin_value)
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    return arn, user, admin, admin_value


def test_break_glass_resets_a_disabled_credential(pg, sm, harness, new_secret, make_role, caplog):
    arn, user, admin, admin_value = _disabled(pg, make_role, new_secret)
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded and "refusing to use the admin login" in report.steps[-1].error
    assert "'break_glass'" in report.steps[-1].error  # the error says what the way out is

    _put(sm, admin, {**admin_value, "break_glass": {arn: {"until": soon(), "username": user}}})
    caplog.set_level(logging.WARNING)
    assert harness(ROTATOR).resume(arn, report.token).succeeded  # the service's retry
    used = [r for r in caplog.records if "BREAK GLASS" in r.getMessage()]
    assert len(used) == 1 and used[0].levelno == logging.WARNING
    assert used[0].secret_arn == arn and admin in used[0].admin and used[0].username == user
    new = secret_value(sm, arn)
    assert new["username"] == f"{user}_clone" and logs_in(pg, new["username"], new["password"])


def test_break_glass_is_not_used_while_the_proof_holds(
    pg, sm, harness, new_secret, make_role, caplog
):
    user, password = make_role(pg)
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    _put(sm, admin, pg.admin_secret(break_glass={arn: {"until": soon(), "username": user}}))
    caplog.set_level(logging.WARNING)
    assert harness(ROTATOR).rotate(arn).succeeded
    assert "BREAK GLASS" not in caplog.text


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "another secret",
        "in the rotated secret",
        "too far ahead",
        "not a time",
        "a bare time",
        "no username",
        "another user",
    ],
)
def test_break_glass_is_narrow(pg, sm, harness, new_secret, make_role, case):
    arn, user, admin, admin_value = _disabled(pg, make_role, new_secret)
    entry = {
        "until": {"expired": soon(-1), "too far ahead": soon(24 * 8), "not a time": "tomorrow"}.get(
            case, soon()
        ),
        "username": {"another user": "postgres"}.get(case, user),
    }
    if case == "no username":
        del entry["username"]
    glass = {arn: soon() if case == "a bare time" else entry}
    if case == "another secret":
        glass = {arn.replace("rotor-test", "rotor-tast"): entry}
    if case == "in the rotated secret":
        _put(sm, arn, {**secret_value(sm, arn), "break_glass": glass})
    else:
        _put(sm, admin, {**admin_value, "break_glass": glass})
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    expected = {
        "too far ahead": "more than 7 days ahead",
        "not a time": "must be an object whose 'until' is an ISO 8601 time",
        "a bare time": "must be an object whose 'until' is an ISO 8601 time",
        "no username": "must name the user to reset",
        "another user": "refusing to reset any other user",
    }.get(case, "refusing to use the admin login")
    assert expected in error
    assert not role_exists(pg, f"{user}_clone")


# --- The admin secret named by masterarn -------------------------------------------------------
@pytest.mark.parametrize("case", ["missing", "itself", "itself by partial ARN"])
def test_unreadable_masterarn_is_a_clear_error(pg, sm, harness, new_secret, make_role, case):
    user, password = make_role(pg)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    arn = new_secret(pg_secret(pg, user, password, masterarn=missing))
    if case.startswith("itself"):
        named = arn if case == "itself" else arn.rsplit("-", 1)[0]  # without the suffix
        _put(sm, arn, pg_secret(pg, user, password, masterarn=named))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert "(named by key 'masterarn')" in error and "Traceback" not in error
    assert (
        "cannot be read (ResourceNotFoundException)"
        if case == "missing"
        else "is the rotated secret itself"
    ) in error
    assert not role_exists(pg, f"{user}_clone")


@pytest.mark.parametrize("named", ["original", "clone"])
def test_break_glass_never_resets_another_user_than_the_one_authorised(
    pg, sm, harness, new_secret, make_role, named
):
    """The platform authorises a reset of the attacker team's own user; the team then writes
    another team's user name (or that user's clone) into its AWSCURRENT. Without the proof,
    only the authorisation's user name says whose account may be reset."""
    victim, victim_password = make_role(pg)
    admin_value = pg.admin_secret()
    admin = new_secret(admin_value)
    if named == "clone":  # the victim alternates already: '<victim>_clone' is rotor's
        victim_arn = new_secret(pg_secret(pg, victim, victim_password, masterarn=admin))
        assert harness(ROTATOR).rotate(victim_arn).succeeded
    arn, attacker, _, _ = _disabled(pg, make_role, new_secret)
    _put(sm, admin, {**admin_value, "break_glass": {arn: {"until": soon(), "username": attacker}}})
    target = victim if named == "original" else f"{victim}_clone"
    _put(sm, arn, pg_secret(pg, target, "no-password-needed", masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "refusing to reset any other user" in (report.steps[-1].error or "")
    assert logs_in(pg, victim, victim_password) or named == "clone"
    assert secret_value(sm, arn)["username"] == target  # nothing handed over


def test_a_grantor_revoking_from_the_original_reaches_the_clone(
    pg18, sm, harness, new_secret, make_role
):
    """A team lead gave the app `R WITH ADMIN OPTION`; the clone (as the app may) passes R on.
    The lead's `REVOKE R FROM app CASCADE` must take R from the clone and from what it passed
    on, and later rotations must go on (copied memberships, granted by the admin, escaped their
    grantor and then blocked rotor's own REVOKE)."""
    pg = pg18
    app, app_password = make_role(pg)
    lead, lead_password = make_role(pg)
    other, _ = make_role(pg)
    group = unique_user("grp")
    ident = sql.Identifier
    run(pg, sql.SQL("CREATE ROLE {}").format(ident(group)))
    run(pg, sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(ident(group), ident(lead)))
    run(
        pg,
        sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(ident(group), ident(app)),
        user=lead,
        password=lead_password,
    )
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, app, app_password, masterarn=admin))
    h = harness(ROTATOR, attempts=1)
    assert h.rotate(arn).succeeded
    clone = secret_value(sm, arn)
    run(
        pg,
        sql.SQL("GRANT {} TO {}").format(ident(group), ident(other)),
        user=clone["username"],
        password=clone["password"],
    )
    run(
        pg,
        sql.SQL("REVOKE {} FROM {} CASCADE").format(ident(group), ident(app)),
        user=lead,
        password=lead_password,
    )
    members = {
        r[0]
        for r in run(
            pg,
            "SELECT u.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s",
            (group,),
        )
    }
    assert members & {app, clone["username"], other} == set()
    assert not can(pg, clone["username"], clone["password"], f'SET ROLE "{group}"')
    assert h.rotate(arn).succeeded and h.rotate(arn).succeeded


def test_a_login_without_a_password_proves_nothing(sm, harness, new_secret, make_role):
    """pg_hba.conf lines are per database: a server trusting logins to one database lets the
    rotated secret's 'dbname' pick that line, and 'log in' as anyone with any password."""
    from rotor.local.servers import PostgresServer

    with PostgresServer() as server:
        assert server.directory is not None
        hba = server.directory / "data" / "pg_hba.conf"
        hba.write_text(f"host healthcheck all {server.host}/32 trust\n" + hba.read_text())
        run(server, "CREATE DATABASE healthcheck")
        run(server, "SELECT pg_reload_conf()")
        victim, victim_password = make_role(server)
        admin = new_secret(server.admin_secret())
        victim_arn = new_secret(pg_secret(server, victim, victim_password, masterarn=admin))
        h = harness(ROTATOR)
        assert h.rotate(victim_arn).succeeded and h.rotate(victim_arn).succeeded
        victim_now = secret_value(sm, victim_arn)
        arn = new_secret(
            pg_secret(
                server,
                f"{victim}_clone",
                "any-password-at-all",
                dbname="healthcheck",
                masterarn=admin,
            )
        )
        report = harness(ROTATOR, attempts=1).rotate(arn)
        assert not report.succeeded
        assert "without asking for its password" in (report.steps[-1].error or "")
        assert secret_value(sm, arn)["username"] == f"{victim}_clone"
        assert server.logs_in(victim, victim_now["password"])


def test_an_admin_secret_acts_only_for_the_secrets_it_allows(
    pg, sm, harness, new_secret, make_role
):
    """Two admin secrets for one server (a team's limited one, the platform's superuser one):
    with 'allowed_secrets', a secret cannot pick an admin secret that is not meant for it."""
    user, password = make_role(pg)
    admin = new_secret(
        pg.admin_secret(allowed_secrets=["arn:aws:secretsmanager:*:secret:team-b/*"])
    )
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "does not list secret" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{user}_clone")
    _put(sm, admin, pg.admin_secret(allowed_secrets=["arn:aws:secretsmanager:*:rotor-test-*"]))
    assert harness(ROTATOR).resume(arn, report.token).succeeded
