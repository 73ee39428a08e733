"""Whatever call fails, a retried rotation converges and no working credential is lost.

The fault walks across every Secrets Manager and database call of a rotation, once before the
call (it never happens) and once after (it happens, its answer is lost).
"""

from __future__ import annotations

import pytest
from rotor import secrets as rotor_secrets
from rotor.databases import AlternatingUsers, SingleUser
from rotor.databases.postgresql import PostgreSQL

from tests.faults import faulty_engine, faulty_store, rotations_with_a_fault
from tests.helpers import secret_value
from tests.pg import logs_in, pg_secret


def _login(pg, value):
    return logs_in(pg, value["username"], value["password"])


CASES = {
    "single": (SingleUser, 0),
    "alternating-creating-clone": (AlternatingUsers, 0),
    "alternating-back-to-original": (AlternatingUsers, 1),  # admin resets the original
}


@pytest.mark.parametrize("case", list(CASES))
def test_fault_at_every_call_then_retry_converges(
    pg, sm, harness, new_secret, make_role, admin_arn, case
):
    strategy, clean_rotations = CASES[case]
    name = "postgresql_single" if strategy is SingleUser else "postgresql_alternating"

    def build(faults):
        return strategy(faulty_engine(PostgreSQL, faults), store=faulty_store(sm, faults))

    faulted = 0
    for faults, rotator in rotations_with_a_fault(build):
        user, first = make_role(pg)
        extra = {"masterarn": admin_arn} if strategy is AlternatingUsers else {}
        arn = new_secret(pg_secret(pg, user, first, **extra))
        for _ in range(clean_rotations):
            assert harness(name).rotate(arn).succeeded
        old = secret_value(sm, arn)
        report = harness(rotator.handler, attempts=1).rotate(arn)
        if not faults.fired:  # past the last call: the generator moves on
            assert report.succeeded
            continue
        faulted += 1
        current = secret_value(sm, arn)
        if strategy is AlternatingUsers:
            assert _login(pg, current), faults.log  # AWSCURRENT works at every moment
        else:  # only the set -> finish window may leave AWSCURRENT behind AWSPENDING
            assert _login(pg, current) or _login(pg, secret_value(sm, arn, "AWSPENDING")), (
                faults.log
            )

        if faults.at % 2:  # half the retries land on a cold container (no cached values)
            rotor_secrets.reset_client()
        retried = harness(name).resume(arn, report.token)
        assert retried.succeeded, (faults.log, retried.steps)
        new = secret_value(sm, arn)
        assert _login(pg, new) and new["password"] != old["password"]
        if strategy is SingleUser:
            assert not _login(pg, old)
        else:
            assert _login(pg, old)  # AWSPREVIOUS keeps working
    assert faulted >= 20  # every call of a rotation was hit, before and after
