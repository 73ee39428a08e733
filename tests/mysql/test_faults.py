"""Whatever call fails, a retried rotation converges and no working credential is lost.

The fault walks across every Secrets Manager and engine call of a rotation (tests/faults.py),
once before the call (it never happens) and once after (it happens, its answer is lost); the
retry is the real handler with the same token, as Secrets Manager would send it.
"""

from __future__ import annotations

import json

import pytest
from rotor.databases import AlternatingUsers, SingleUser
from rotor.databases.mysql import MySQL

from tests.faults import faulty_engine, faulty_store, rotations_with_a_fault
from tests.helpers import secret_value
from tests.mysql.support import grant_to, grants, logs_in, my_secret


def _rotations_with_a_fault(strategy, sm):
    return rotations_with_a_fault(
        lambda f: strategy(faulty_engine(MySQL, f), store=faulty_store(sm, f))
    )


def _login(server, value):
    return logs_in(server, value["username"], value["password"])


@pytest.mark.parametrize("strategy", [SingleUser, AlternatingUsers], ids=["single", "alternating"])
def test_fault_at_every_call_then_retry_converges(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, database, strategy, capsys, caplog
):
    db = database()
    faulted, passwords, errors = 0, [mdb.superuser_password], []
    for faults, rotator in _rotations_with_a_fault(strategy, sm):
        user, old = make_user(mdb)
        grant_to(mdb, user, f"GRANT SELECT ON `{db}`.*")
        extra = {"masterarn": mdb_admin_arn} if strategy is AlternatingUsers else {}
        arn = new_secret(my_secret(mdb, user, old, **extra))
        report = harness(rotator.handler, attempts=1).rotate(arn)
        errors += [step.error for step in report.steps if step.error]
        if not faults.fired:  # past the last call
            assert report.succeeded
            continue
        faulted += 1
        current = secret_value(sm, arn)
        if strategy is AlternatingUsers:
            assert _login(mdb, current), faults.log  # AWSCURRENT works at every moment
        else:  # only the setSecret -> finishSecret window leaves AWSCURRENT behind AWSPENDING
            assert _login(mdb, current) or _login(mdb, secret_value(sm, arn, "AWSPENDING")), (
                faults.log
            )

        name = "mysql_single" if strategy is SingleUser else "mysql_alternating"
        retried = harness(name).resume(arn, report.token)

        assert retried.succeeded, (faults.log, retried.steps)
        new = secret_value(sm, arn)
        passwords += [old, new["password"]]
        assert _login(mdb, new) and new["password"] != old
        if strategy is SingleUser:
            assert not logs_in(mdb, user, old)
        else:
            assert new["username"] == f"{user}_clone"
            assert grants(mdb, new["username"]) == grants(mdb, user)
            assert logs_in(mdb, user, old)  # AWSPREVIOUS keeps working
    assert faulted >= 16  # every call of a rotation was hit, before and after
    captured = capsys.readouterr()
    output = "\n".join(
        [
            captured.out,
            captured.err,
            caplog.text,
            *(str(record.__dict__) for record in caplog.records),
            *errors,
        ]
    )
    assert "injected" in output  # the failures were logged...
    leaked = [p for p in passwords if p in output or json.dumps(p)[1:-1] in output]
    assert leaked == []  # ...without any password


class _StatementFaults(MySQL):
    """Counts every SQL statement the engine runs, so a fault can land between two of them
    (the clone created but its grants not yet copied, half the grants copied...)."""

    def __init__(self, faults):
        self.faults = faults

    def connect(self, login, tls):
        session = super().connect(login, tls)
        execute = session.execute
        session.execute = lambda *a, **k: self.faults.call("sql", execute, *a, **k)
        return session


def test_fault_between_statements_of_the_clone_update(
    mdb, sm, harness, new_secret, make_user, mdb_admin_arn, database
):
    db, other = database(), database()
    faulted = 0
    for faults, rotator in rotations_with_a_fault(lambda f: AlternatingUsers(_StatementFaults(f))):
        user, old = make_user(mdb)
        grant_to(mdb, user, f"GRANT SELECT ON `{db}`.*")
        grant_to(mdb, user, f"GRANT INSERT ON `{other}`.*")
        arn = new_secret(my_secret(mdb, user, old, masterarn=mdb_admin_arn))
        report = harness(rotator.handler, attempts=1).rotate(arn)
        if not faults.fired:
            assert report.succeeded
            continue
        faulted += 1
        assert _login(mdb, secret_value(sm, arn)), faults.log
        retried = harness("mysql_alternating").resume(arn, report.token)
        assert retried.succeeded, (faults.log, retried.steps)
        new = secret_value(sm, arn)
        assert _login(mdb, new) and grants(mdb, new["username"]) == grants(mdb, user)
    assert faulted >= 12
