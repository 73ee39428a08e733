"""Whatever fails, a retried rotation converges and AWSCURRENT keeps working (in memory, so
every call of every step can fail in turn in well under a second)."""

from __future__ import annotations

import pytest
from rotor import secrets as rotor_secrets

from tests.faults import faulty_store, rotations_with_a_fault


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_a_secrets_manager_failure_at_every_call_converges(world_factory, strategy):
    """Each call of the rotator fails in turn, before it runs or after (its answer lost); the
    retry with the same token converges, on a warm container or a cold one."""
    faulted = 0
    for faults, world in rotations_with_a_fault(lambda faults: world_factory()):
        arn = world.app(alternating=strategy == "alternating")
        token = world.harness(strategy).start(arn)
        store = faulty_store(world.sm, faults)
        first = world.harness(strategy, store, attempts=1).resume(arn, token)
        if not faults.fired:
            assert first.succeeded
            continue
        faulted += 1
        where = f"fault {'before' if faults.before else 'after'} call {faults.at}"
        assert strategy == "single" or world.works(arn), where  # AWSCURRENT always works
        if faults.at % 2:
            rotor_secrets.reset_client()  # half the retries in a cold container
        retried = world.harness(strategy).resume(arn, token)
        assert retried.succeeded, (where, retried.steps)
        assert world.works(arn), where
    assert faulted >= 16


@pytest.mark.parametrize("strategy", ["single", "alternating"])
@pytest.mark.parametrize(
    "call", ["connect", "set_own_password", "set_password", "ensure_clone", "check"]
)
def test_a_database_failure_converges(world, strategy, call):
    arn = world.app(alternating=strategy == "alternating")
    world.failing.add(call)
    report = world.harness(strategy).rotate(arn)  # the harness retries, as the service does
    assert report.succeeded, report.steps
    assert world.works(arn)


def test_a_permanent_error_is_tried_once(world):
    arn = world.secret({"engine": "postgres", "host": world.db.host, "username": "u"})
    report = world.harness().rotate(arn)
    assert report.attempts == 1 and report.steps[-1].permanent


def test_a_transient_error_is_retried(world):
    arn = world.app()
    world.failing.add("connect")
    report = world.harness().rotate(arn)
    assert report.succeeded and report.attempts == 2
