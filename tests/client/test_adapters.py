"""The driver adapters keep applications connected through rotations, against real servers:
during single user's window (only AWSPENDING works) and after alternating users reset the
user an application still holds."""

from __future__ import annotations

import pytest
from rotor.client import SecretCredentials
from rotor.client import psycopg as pg_client
from rotor.client import pymysql as my_client
from rotor.client.sqlalchemy import attach

from tests.helpers import secret_value
from tests.mysql.support import my_secret
from tests.pg import pg_secret


def in_the_window(harness, arn):
    """A single-user rotation stopped after setSecret: only AWSPENDING logs in now."""
    token = harness.start(arn)
    for step in ("createSecret", "setSecret"):
        assert harness.invoke(arn, token, step).error is None
    return token


def finish(harness, arn, token):
    for step in ("testSecret", "finishSecret"):
        assert harness.invoke(arn, token, step).error is None


def pg_query(conn):
    with conn:
        return conn.execute("SELECT current_user").fetchone()[0]


def my_query(conn):
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        return cursor.fetchone()[0].split("@")[0]


def test_psycopg_through_the_single_user_window(pg, sm, harness, new_secret, make_role):
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password))
    credentials = SecretCredentials(arn, client=sm)
    assert pg_query(pg_client.connect(credentials, sslmode="disable")) == user
    h = harness("postgresql_single")
    token = in_the_window(h, arn)
    assert not pg.logs_in(user, password)
    assert pg_query(pg_client.connect(credentials, sslmode="disable")) == user  # AWSPENDING
    finish(h, arn, token)
    assert pg_query(pg_client.connect(credentials, sslmode="disable")) == user


def test_psycopg_follows_the_alternating_user(pg, sm, harness, new_secret, make_role, admin_arn):
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password, masterarn=admin_arn))
    credentials = SecretCredentials(arn, client=sm, ttl=3600)
    assert pg_query(pg_client.connect(credentials, sslmode="disable")) == user
    h = harness("postgresql_alternating")
    assert h.rotate(arn).succeeded and h.rotate(arn).succeeded  # the cached user is reset
    assert pg_query(pg_client.connect(credentials, sslmode="disable")) == user  # new password
    assert h.rotate(arn).succeeded
    assert secret_value(sm, arn)["username"] == f"{user}_clone"


def test_pymysql_through_the_single_user_window(mdb, sm, harness, new_secret, make_user):
    user, password = make_user(mdb)
    arn = new_secret(my_secret(mdb, user, password))
    credentials = SecretCredentials(arn, client=sm)
    assert my_query(my_client.connect(credentials)) == user
    h = harness("mysql_single")
    token = in_the_window(h, arn)
    assert my_query(my_client.connect(credentials)) == user
    finish(h, arn, token)
    assert my_query(my_client.connect(credentials)) == user


def test_a_real_failure_is_raised_as_it_is(pg, sm, new_secret, make_role):
    """No rotation in progress and AWSCURRENT refused: the driver's own error, once."""
    import psycopg

    user, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, user, "not-the-password"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_client.connect(SecretCredentials(arn, client=sm), sslmode="disable")


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "mysql+pymysql"])
def test_sqlalchemy_pool_connections_through_the_window(
    pg, mdb, sm, harness, new_secret, make_role, make_user, driver
):
    import sqlalchemy

    if driver.startswith("postgresql"):
        user, password = make_role(pg)
        arn = new_secret(pg_secret(pg, user, password))
        engine = sqlalchemy.create_engine(f"{driver}://", poolclass=sqlalchemy.pool.NullPool)
        attach(engine, SecretCredentials(arn, client=sm), sslmode="disable")
        rotator, who = "postgresql_single", "SELECT current_user"
    else:
        user, password = make_user(mdb)
        arn = new_secret(my_secret(mdb, user, password))
        engine = sqlalchemy.create_engine(f"{driver}://", poolclass=sqlalchemy.pool.NullPool)
        attach(engine, SecretCredentials(arn, client=sm))
        rotator, who = "mysql_single", "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"

    def query():
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(who)).scalar()

    assert query() == user
    h = harness(rotator)
    token = in_the_window(h, arn)
    assert query() == user
    finish(h, arn, token)
    assert query() == user
