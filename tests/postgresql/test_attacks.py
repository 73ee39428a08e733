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
    with psycopg.connect(host=server.host, port=server.port, dbname=dbname, autocommit=True,
                         user=user or server.superuser,
                         password=password if user else server.superuser_password,
                         sslmode="disable") as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def role(server, name):
    """(superuser, createrole, comment) of a role, or None."""
    rows = run(server, "SELECT rolsuper, rolcreaterole, shobj_description(oid, 'pg_authid') "
               "FROM pg_roles WHERE rolname = %s", (name,))
    return rows[0] if rows else None


def memberships(server, name):
    return {r[0] for r in run(
        server, "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", (name,))}


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
def test_a_database_owner_cannot_shape_the_admin_session(pg, sm, harness, new_secret,
                                                          make_role, admin_dbname, role_trap):
    """The owner of the application's database shadows the catalogue (views, an operator, a
    function), sets the database's search_path and role, and waits for the admin. RDS-managed
    admin secrets have no dbname; a platform team might also point one at the app's database."""
    app, password = make_role(pg)
    db = unique_user("db")
    run(pg, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db),
                                                          sql.Identifier(app)))
    with psycopg.connect(host=pg.host, port=pg.port, dbname=db, user=app, password=password,
                         autocommit=True, sslmode="disable") as conn:
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

    for _ in range(3):  # the clone is made, then the original reset, then the clone again
        report = h.rotate(arn)
        assert report.succeeded, report.steps

    assert run(pg, "SELECT * FROM trap.ran", dbname=db) == []  # no trap ever ran
    assert role(pg, app)[:2] == (False, False)
    assert role(pg, f"{app}_clone")[:2] == (False, False)
    current = secret_value(sm, arn)
    assert logs_in(pg, current["username"], current["password"])


def test_sessions_are_pinned_even_inside_the_applications_database(pg, make_role):
    """The engine's own sessions, whatever the database's settings say."""
    from rotor.databases.postgresql import PostgreSQL
    from rotor.databases.tls import TlsSettings
    from rotor.models import POSTGRES_ENGINES, DatabaseSecret

    app, password = make_role(pg)
    db = unique_user("db")
    run(pg, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db),
                                                          sql.Identifier(app)))
    for setting in ("search_path = public, pg_catalog", f"role = '{app}'",
                    "standard_conforming_strings = off", "default_transaction_read_only = on"):
        run(pg, f"ALTER DATABASE \"{db}\" SET {setting}", user=app, password=password, dbname=db)
    admin = DatabaseSecret.parse({**pg.admin_secret(), "dbname": db}, "admin", POSTGRES_ENGINES,
                                 5432, admin=True)
    with PostgreSQL().session(admin, TlsSettings.for_secret(admin)) as conn:
        row = conn.execute("SELECT current_user, current_setting('search_path'), "
                           "current_setting('standard_conforming_strings'), "
                           "current_setting('default_transaction_read_only')").fetchone()
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
    run(pg, sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(f"t_{other}"),
                                                         sql.Identifier(other)))
    return svc, svc_password, other, other_password, group


def _untouched(pg, svc, svc_password, other, other_password, group, member_of_svc=False):
    assert logs_in(pg, svc, svc_password) and logs_in(pg, other, other_password)
    assert role(pg, other) == (False, False, None)
    expected = {group, svc} if member_of_svc else {group}
    assert memberships(pg, other) == expected
    owner = run(pg, "SELECT tableowner FROM pg_tables WHERE tablename = %s", (f"t_{other}",))
    assert owner == [(other,)]


@pytest.mark.parametrize("member_of_svc", [False, True])
def test_an_unrelated_clone_named_role_is_not_adopted(pg, sm, harness, new_secret, admin_arn,
                                                      foreign_clone, member_of_svc):
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
    assert "'adopt_users'" in error
    _untouched(pg, svc, svc_password, other, other_password, group, member_of_svc)
    assert secret_value(sm, arn)["password"] == svc_password
    assert {v: s for v, s in stages(sm, arn).items() if v in before} == before


@pytest.mark.parametrize("member_of_svc", [False, True])
def test_the_owner_of_a_clone_named_role_cannot_get_the_original_reset(
        pg, sm, harness, new_secret, admin_arn, foreign_clone, member_of_svc):
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


def test_the_admin_secret_adopts_an_existing_clone(pg, sm, harness, new_secret, foreign_clone,
                                                   caplog):
    """Teams coming from AWS's samples have '<user>_clone' roles: the admin secret lists them
    under 'adopt_users', and from then on they are rotor's (marked on the server)."""
    svc, svc_password, other, _, _ = foreign_clone
    admin = new_secret(pg.admin_secret(adopt_users=[other]))
    arn = new_secret(pg_secret(pg, svc, svc_password, masterarn=admin))
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
    admin = new_secret(pg.admin_secret(adopt_users=[clone]))
    arn = new_secret(pg_secret(pg, clone, clone_password, masterarn=admin))
    assert harness(ROTATOR).rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert new["username"] == svc and logs_in(pg, svc, new["password"])
    assert logs_in(pg, clone, clone_password)  # AWSPREVIOUS keeps working


def test_adoption_list_must_be_a_list_of_names(pg, sm, harness, new_secret, make_role):
    user, password = make_role(pg)
    admin = new_secret(pg.admin_secret(adopt_users=f"{user}_clone"))
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert "key 'adopt_users' must be a list of user names" in (report.steps[-1].error or "")
    assert not role_exists(pg, f"{user}_clone")


# --- PostgreSQL 16+: per-grant membership options ----------------------------------------------
def grant_options(server, member):
    return {r[0]: tuple(r[1:]) for r in run(
        server, "SELECT r.rolname, bool_or(m.admin_option), bool_or(m.inherit_option), "
        "bool_or(m.set_option) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s GROUP BY r.rolname",
        (member,))}


def can(server, user, password, statement):
    try:
        run(server, statement, user=user, password=password)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def test_membership_options_are_copied_never_widened(pg18, sm, harness, new_secret,
                                                     make_role):
    """PostgreSQL 18: each grant's INHERIT, SET and ADMIN options reach the clone as they are
    on the original (they used to come out TRUE), and follow later changes."""
    pg = pg18
    user, password = make_role(pg)
    roles = {name: unique_user(name) for name in ("noinherit", "admin", "plain", "later")}
    for name in roles.values():
        run(pg, sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    table = unique_user("t")
    run(pg, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
    run(pg, sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table),
                                                       sql.Identifier(roles["noinherit"])))
    ident = sql.Identifier
    run(pg, sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET FALSE").format(
        ident(roles["noinherit"]), ident(user)))
    run(pg, sql.SQL("GRANT {} TO {} WITH ADMIN TRUE, INHERIT TRUE, SET FALSE").format(
        ident(roles["admin"]), ident(user)))
    run(pg, sql.SQL("GRANT {} TO {}").format(ident(roles["plain"]), ident(user)))
    admin = new_secret(pg.admin_secret())
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin))
    h = harness(ROTATOR)

    assert h.rotate(arn).succeeded
    clone = secret_value(sm, arn)
    name, clone_password = clone["username"], clone["password"]
    expected = {**grant_options(pg, user), user: (False, True, True)}
    assert grant_options(pg, name) == expected
    assert expected[roles["noinherit"]] == (False, False, False)
    select = sql.SQL("SELECT * FROM {}").format(ident(table)).as_string(None)
    assert not can(pg, user, password, select) and not can(pg, name, clone_password, select)
    set_role = f'SET ROLE "{roles["noinherit"]}"'
    assert not can(pg, name, clone_password, set_role)

    # Later: options change on the original, a grant is added; the clone follows.
    run(pg, sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(ident(roles["admin"]),
                                                                  ident(user)))
    run(pg, sql.SQL("GRANT {} TO {} WITH INHERIT FALSE").format(ident(roles["later"]),
                                                               ident(user)))
    assert h.rotate(arn).succeeded and h.rotate(arn).succeeded
    assert secret_value(sm, arn)["username"] == name
    assert grant_options(pg, name) == {**grant_options(pg, user), user: (False, True, True)}
    assert grant_options(pg, name)[roles["admin"]] == (False, True, False)


def test_noinherit_original_gives_no_inherited_privileges_to_the_clone(pg, sm, harness,
                                                                       new_secret, make_role,
                                                                       admin_arn):
    """Before PostgreSQL 16, inheritance is the member's attribute: an INHERIT clone directly
    in the roles of a NOINHERIT original would use privileges the original cannot."""
    user, password = make_role(pg)
    group, table = unique_user("grp"), unique_user("t")
    run(pg, sql.SQL("CREATE ROLE {}").format(sql.Identifier(group)))
    run(pg, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
    run(pg, sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table),
                                                       sql.Identifier(group)))
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
def _disabled(pg, make_role, new_secret, glass=None, in_rotated_secret=False):
    """A secret whose AWSCURRENT no longer logs in (the leaked password was changed)."""
    user, password = make_role(pg)
    run(pg, sql.SQL("ALTER ROLE {} PASSWORD 'changed-by-incident-response'").format(
        sql.Identifier(user)))
    arn_holder = {}
    admin_value = pg.admin_secret()
    admin = new_secret(admin_value)
    value = pg_secret(pg, user, password, masterarn=admin)
    arn = new_secret(value)
    arn_holder["arn"] = arn
    if glass is not None:
        entry = {arn: glass}
        if in_rotated_secret:
            new_value = {**value, "break_glass": entry}
            return arn, user, admin, new_value
        admin_value["break_glass"] = entry
    return arn, user, admin, admin_value


def _put(sm, secret_id, value):
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


def soon(hours=1):
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def test_break_glass_resets_a_disabled_credential(pg, sm, harness, new_secret, make_role,
                                                  caplog):
    arn, user, admin, admin_value = _disabled(pg, make_role, new_secret, glass=soon())
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded and "refusing to use the admin login" in report.steps[-1].error
    assert "'break_glass'" in report.steps[-1].error  # the error says what the way out is

    _put(sm, admin, admin_value)
    caplog.set_level(logging.WARNING)
    assert harness(ROTATOR).resume(arn, report.token).succeeded  # the service's retry
    used = [r for r in caplog.records if "BREAK GLASS" in r.getMessage()]
    assert len(used) == 1 and used[0].levelno == logging.WARNING
    assert used[0].secret_arn == arn and admin in used[0].admin
    new = secret_value(sm, arn)
    assert new["username"] == f"{user}_clone" and logs_in(pg, new["username"], new["password"])


@pytest.mark.parametrize("case", ["expired", "another secret", "in the rotated secret",
                                  "too far ahead", "not a time"])
def test_break_glass_is_narrow(pg, sm, harness, new_secret, make_role, case):
    glass = {"expired": soon(-1), "too far ahead": soon(24 * 8), "not a time": "tomorrow"}.get(
        case, soon())
    arn, user, admin, value = _disabled(pg, make_role, new_secret, glass=glass,
                                        in_rotated_secret=case == "in the rotated secret")
    if case == "another secret":
        value["break_glass"] = {arn.replace("rotor-test", "rotor-tast"): glass}
    _put(sm, arn if case == "in the rotated secret" else admin, value)
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    if case == "too far ahead":
        assert "more than 7 days ahead" in error
    elif case == "not a time":
        assert "must be an ISO 8601 time" in error
    else:
        assert "refusing to use the admin login" in error
    assert not role_exists(pg, f"{user}_clone")


# --- The admin secret named by masterarn -------------------------------------------------------
@pytest.mark.parametrize("case", ["missing", "itself"])
def test_unreadable_masterarn_is_a_clear_error(pg, sm, harness, new_secret, make_role, case):
    user, password = make_role(pg)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    arn = new_secret(pg_secret(pg, user, password, masterarn=missing))
    if case == "itself":
        _put(sm, arn, pg_secret(pg, user, password, masterarn=arn))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert "(named by key 'masterarn')" in error and "Traceback" not in error
    assert ("cannot be read (ResourceNotFoundException)" if case == "missing"
            else "is the rotated secret itself") in error
    assert not role_exists(pg, f"{user}_clone")
