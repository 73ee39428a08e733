"""AWS's configuration test (RotateSecret with RotateImmediately=false): the service runs only
testSecret, on a transient AWSPENDING version holding a copy of AWSCURRENT, then removes it.
Every shipped rotator must pass it and change nothing."""

from __future__ import annotations

import pytest

from tests.helpers import secret_value, stages
from tests.mysql.support import logs_in as my_logs_in
from tests.mysql.support import my_secret
from tests.pg import logs_in as pg_logs_in
from tests.pg import pg_secret


@pytest.mark.parametrize(
    "rotator",
    [
        "postgresql_single",
        "postgresql_alternating",
        "mysql_single",
        "mysql_alternating",
        "mysql_dual",
    ],
)
def test_database_rotators_pass_the_configuration_test(
    pg, mdb, sm, harness, new_secret, make_role, make_user, admin_arn, rotator
):
    if rotator.startswith("postgresql"):
        user, password = make_role(pg)
        extra = {"masterarn": admin_arn} if rotator.endswith("alternating") else {}
        arn = new_secret(pg_secret(pg, user, password, **extra))
        works = pg_logs_in
        server = pg
    else:
        user, password = make_user(mdb)
        extra = {} if rotator.endswith("single") else {"masterarn": new_secret(mdb.admin_secret())}
        arn = new_secret(my_secret(mdb, user, password, **extra))
        server = mdb
        works = my_logs_in
    before_value, before_stages = secret_value(sm, arn), stages(sm, arn)
    report = harness(rotator).test_configuration(arn)
    assert report.succeeded, report.steps
    assert [s.step for s in report.steps] == ["testSecret"]
    assert secret_value(sm, arn) == before_value
    assert {v: s for v, s in stages(sm, arn).items() if s} == {
        v: s for v, s in before_stages.items() if s
    }
    assert works(server, user, password)
    assert harness(rotator).rotate(arn).succeeded  # and the real rotation still works after


def test_a_testsecret_that_cannot_handle_it_is_reported(sm, harness, new_secret):
    arn = new_secret(
        {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": 1,
            "username": "u",
            "password": "p",
            "ssl": False,
        }
    )
    report = harness("postgresql_single").test_configuration(arn)
    assert not report.succeeded and "Could not connect" in (report.steps[-1].error or "")
    assert all("AWSPENDING" not in s for s in stages(sm, arn).values())
