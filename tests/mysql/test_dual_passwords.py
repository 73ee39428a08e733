"""Dual passwords on MariaDB: the old password keeps working until finishSecret, so even an
application that never reads AWSPENDING loses no query; the previous one stops after."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rotor.databases.dual import DualPasswords
from rotor.databases.mysql import MySQL
from rotor.local import loadtest
from rotor.local.harness import STEPS

from tests.faults import faulty_engine, faulty_store, rotations_with_a_fault
from tests.helpers import secret_value, stages
from tests.mysql.support import logs_in, my_secret, snapshot, sql

ROTATOR = "mysql_dual"


@pytest.fixture
def dual_secret(mdb, new_secret, make_user):
    def make():
        user, password = make_user(mdb)
        admin = new_secret(mdb.admin_secret())
        return user, password, new_secret(my_secret(mdb, user, password, masterarn=admin))

    return make


def test_both_passwords_work_until_the_rotation_finishes(mdb, sm, harness, dual_secret):
    user, old, arn = dual_secret()
    h = harness(ROTATOR)
    token = h.start(arn)
    for step in STEPS[:3]:
        assert h.invoke(arn, token, step).error is None
        assert logs_in(mdb, user, old), step  # the window is closed
    new = secret_value(sm, arn, "AWSPENDING")["password"]
    assert logs_in(mdb, user, new)
    assert h.invoke(arn, token, "finishSecret").error is None
    assert logs_in(mdb, user, new) and not logs_in(mdb, user, old)  # the old one discarded
    assert stages(sm, arn)[token] == ["AWSCURRENT"]
    shown = sql(mdb, "SHOW CREATE USER %s@'%%'", (user,))[0][0]
    assert " OR " not in shown and new not in shown  # one method, a hash


def test_every_step_replayed_converges(mdb, sm, harness, dual_secret):
    user, old, arn = dual_secret()
    h = harness(ROTATOR)
    for _ in range(2):
        token = h.start(arn)
        for step in STEPS:
            for _ in range(2):
                assert h.invoke(arn, token, step).error is None, step
        current = secret_value(sm, arn)
        assert logs_in(mdb, user, current["password"]) and not logs_in(mdb, user, old)
        old = current["password"]


def test_a_naive_client_loses_no_query(mdb, sm, harness, dual_secret):
    """What dual passwords buy: a client that only ever reads AWSCURRENT is not cut off."""
    _, _, arn = dual_secret()
    result = loadtest.run(
        sm=sm,
        harness=harness(ROTATOR),
        secret_arn=arn,
        engine="mysql",
        strategy="dual",
        client="naive",
        rotations=6,
        threads=3,
    )
    assert result.rotations_failed == 0 and result.queries_ok > 50
    assert result.queries_failed == 0, result.errors


def test_fault_at_every_call_converges_and_current_always_works(mdb, sm, harness, dual_secret):
    faulted = 0
    for faults, rotator in rotations_with_a_fault(
        lambda f: DualPasswords(faulty_engine(MySQL, f), store=faulty_store(sm, f))
    ):
        user, old, arn = dual_secret()
        report = harness(rotator.handler, attempts=1).rotate(arn)
        if not faults.fired:
            assert report.succeeded
            continue
        faulted += 1
        current = secret_value(sm, arn)
        assert logs_in(mdb, user, current["password"]), faults.log  # never a window
        retried = harness(ROTATOR).resume(arn, report.token)
        assert retried.succeeded, (faults.log, retried.steps)
        assert logs_in(mdb, user, secret_value(sm, arn)["password"])
        assert not logs_in(mdb, user, old)
    assert faulted > 10


def test_break_glass_keeps_no_leaked_password(mdb, sm, harness, new_secret, make_user):
    user, leaked = make_user(mdb)
    sql(mdb, "ALTER USER %s@'%%' IDENTIFIED BY 'changed-by-incident-response'", (user,))
    admin = new_secret(mdb.admin_secret())
    arn = new_secret(my_secret(mdb, user, leaked, masterarn=admin))
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sm.put_secret_value(
        SecretId=admin,
        SecretString=json.dumps(
            mdb.admin_secret(break_glass={arn: {"until": until, "username": user}})
        ),
    )
    assert harness(ROTATOR).rotate(arn).succeeded
    assert logs_in(mdb, user, secret_value(sm, arn)["password"])
    assert not logs_in(mdb, user, leaked)
    assert not logs_in(mdb, user, "changed-by-incident-response")


def test_an_account_of_another_plugin_chain_is_refused_unchanged(
    mdb, sm, harness, new_secret, make_user
):
    user, password = make_user(mdb)
    sql(
        mdb,
        "ALTER USER %s@'%%' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(%s)",
        (user, password),
    )
    before = snapshot(mdb, user)
    admin = new_secret(mdb.admin_secret())
    arn = new_secret(my_secret(mdb, user, password, masterarn=admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded and "several plugins" in (report.steps[-1].error or "")
    assert snapshot(mdb, user) == before
