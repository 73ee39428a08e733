"""The protocol's state machine and stage handling, in memory."""

from __future__ import annotations

import uuid

import pytest
from rotor.errors import EventError, StateError
from rotor.local.harness import STEPS, LambdaContext


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_a_rotation_moves_the_labels_and_the_credential(world, strategy):
    arn = world.app(alternating=strategy == "alternating")
    old = world.sm.value(arn)
    report = world.harness(strategy).rotate(arn)
    assert report.succeeded, report.steps
    stages = report.after
    assert stages[report.token] == ["AWSCURRENT"]
    assert [v for v, s in stages.items() if "AWSPREVIOUS" in s] == [
        v for v, s in report.before.items() if "AWSCURRENT" in s
    ]
    assert world.works(arn) and world.sm.value(arn) != old
    assert world.db.logs_in(old["username"], old["password"]) == (strategy == "alternating")


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (
            "single",
            [
                "describe_secret",
                "get_secret_value",
                "get_secret_value",
                "put_secret_value",
                "describe_secret",
                "describe_secret",
                "describe_secret",
                "update_secret_version_stage",
                "update_secret_version_stage",
            ],
        ),
        (
            "alternating",
            [
                "describe_secret",
                "get_secret_value",
                "get_secret_value",
                "put_secret_value",
                "describe_secret",
                "get_secret_value",
                "describe_secret",
                "describe_secret",
                "update_secret_version_stage",
                "update_secret_version_stage",
            ],
        ),
    ],
)
def test_secrets_manager_calls_per_rotation(world, strategy, expected):
    """The cost model in Secrets Manager calls (counted, not timed), warm container: one
    DescribeSecret per step; createSecret reads AWSCURRENT, looks for an AWSPENDING value
    (idempotency) and writes it; values are cached after that; alternating users read the
    admin secret once; finishSecret moves AWSCURRENT and removes AWSPENDING."""
    arn = world.app(alternating=strategy == "alternating")
    harness = world.harness(strategy)
    token = harness.start(arn)
    world.sm.calls.clear()
    for step in STEPS:
        assert harness.invoke(arn, token, step).error is None
    assert world.sm.calls == expected


@pytest.mark.parametrize("step", STEPS)
def test_every_step_replayed_changes_nothing(world, step):
    arn = world.app()
    harness = world.harness()
    token = harness.start(arn)
    for done in STEPS[: STEPS.index(step)]:
        assert harness.invoke(arn, token, done).error is None
    first = harness.invoke(arn, token, step)
    assert first.error is None, first.error
    state = (harness.stages(arn), dict(world.db.passwords))
    assert harness.invoke(arn, token, step).error is None
    assert (harness.stages(arn), dict(world.db.passwords)) == state


def test_unknown_and_not_pending_tokens_are_refused(world):
    arn = world.app()
    handler = world.rotator().handler
    report = world.harness().rotate(arn)
    previous = next(v for v, s in report.after.items() if "AWSPREVIOUS" in s)
    for token in (str(uuid.uuid4()), previous):
        before = world.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        for step in STEPS:
            with pytest.raises(StateError):
                handler(
                    {"Step": step, "SecretId": arn, "ClientRequestToken": token}, LambdaContext()
                )
        assert world.sm.describe_secret(SecretId=arn)["VersionIdsToStages"] == before


def test_rotation_never_configured_is_refused(world):
    """DescribeSecret has no RotationEnabled at all for a never-configured secret."""
    arn = world.app()
    with pytest.raises(StateError, match="Rotation is not enabled"):
        world.rotator().handler(
            {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": str(uuid.uuid4())},
            LambdaContext(),
        )


def test_malformed_events_are_permanent_errors(world):
    with pytest.raises(EventError) as caught:
        world.rotator().handler({"Step": "nope"}, LambdaContext())
    assert caught.value.permanent


def test_a_finish_already_done_only_cleans_up(world):
    """finishSecret on a version already AWSCURRENT (a retried finish) removes AWSPENDING."""
    arn = world.app()
    harness = world.harness()
    token = harness.start(arn)
    for step in STEPS:
        assert harness.invoke(arn, token, step).error is None
    world.sm.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSPENDING", MoveToVersionId=token
    )
    assert harness.invoke(arn, token, "finishSecret").error is None
    assert harness.stages(arn)[token] == ["AWSCURRENT"]


def test_a_second_rotation_while_one_is_pending_is_refused(world):
    """RotateSecret refuses while AWSPENDING is on a version that is not AWSCURRENT, and the
    harness says how to go on."""
    from rotor.local.harness import HarnessError

    arn = world.app()
    harness = world.harness()
    token = harness.start(arn)
    with pytest.raises(HarnessError, match="A previous rotation is still in progress"):
        harness.start(arn)
    assert harness.resume(arn, token).succeeded
    assert harness.rotate(arn).succeeded  # once finished, the next one starts


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_the_configuration_test_changes_nothing(world, strategy):
    arn = world.app(alternating=strategy == "alternating")
    before = (world.sm.value(arn), dict(world.db.passwords))
    report = world.harness(strategy).test_configuration(arn)
    assert report.succeeded and [s.step for s in report.steps] == ["testSecret"]
    assert (world.sm.value(arn), dict(world.db.passwords)) == before
