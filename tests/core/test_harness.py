"""The harness behaves as Secrets Manager does, so it cannot hide a broken rotator."""

from __future__ import annotations

import pytest
from rotor.local.harness import Harness, HarnessError

from tests.conftest import handler
from tests.helpers import secret_value, stages
from tests.pg import logs_in, pg_secret


def test_a_finish_step_that_moves_nothing_is_reported(pg, sm, harness, new_secret, make_role):
    real = handler("postgresql_single")

    def broken(event, context):
        if event["Step"] != "finishSecret":
            real(event, context)

    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    before = stages(sm, arn)
    report = harness(broken).rotate(arn)
    assert not report.succeeded  # every step "succeeded", but AWSCURRENT did not move
    assert all(r.error is None for r in report.steps)
    current = next(v for v, s in report.after.items() if "AWSCURRENT" in s)
    assert current in before and "AWSPENDING" in report.after[report.token]


def test_the_whole_rotation_is_retried_with_the_same_token(pg, sm, harness, new_secret, make_role):
    real = handler("postgresql_single")
    calls = []

    def flaky(event, context):
        calls.append((event["Step"], event["ClientRequestToken"]))
        if len(calls) == 3:  # testSecret of the first attempt
            raise RuntimeError("transient")
        real(event, context)

    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    report = harness(flaky).rotate(arn)
    assert report.succeeded and report.attempts == 2
    assert [c[0] for c in calls] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert {c[1] for c in calls} == {report.token}
    assert logs_in(pg, user, secret_value(sm, arn)["password"])


def test_the_placeholder_has_no_value_and_current_does_not_move(sm, harness, new_secret):
    arn = new_secret({"anything": "here"})
    before = stages(sm, arn)
    token = harness("postgresql_single").start(arn)
    after = stages(sm, arn)
    assert after[token] == ["AWSPENDING"]
    assert {v: s for v, s in after.items() if v != token} == before
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    assert sm.describe_secret(SecretId=arn)["RotationEnabled"] is True


def test_a_rotation_in_progress_blocks_a_new_one(sm, harness, new_secret):
    arn = new_secret({"anything": "here"})
    h = harness("postgresql_single")
    h.start(arn)
    with pytest.raises(HarnessError, match="previous rotation is still in progress"):
        h.start(arn)


def test_the_harness_refuses_a_remote_endpoint(new_secret):
    import boto3

    real_aws = boto3.client(  # no request is sent (the plugin would refuse it anyway)
        "secretsmanager", endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"
    )
    with pytest.raises(HarnessError, match="only runs against moto on this machine"):
        Harness(real_aws, handler("postgresql_single")).start("any-secret")


def test_a_permanent_error_is_not_retried(sm, harness, new_secret):
    """A secret missing a key cannot rotate however often it is tried: one attempt."""
    arn = new_secret({"engine": "postgres", "host": "127.0.0.1", "username": "u"})  # no password
    report = harness("postgresql_single").rotate(arn)
    assert not report.succeeded and report.attempts == 1
    assert report.steps[-1].permanent and "key 'password'" in (report.steps[-1].error or "")


def test_pending_left_on_the_new_version_is_a_failed_rotation(
    pg, sm, harness, new_secret, make_role
):
    """finishSecret must remove AWSPENDING from the new version, not only move AWSCURRENT."""
    real = handler("postgresql_single")

    def sloppy(event, context):
        real(event, context)
        if event["Step"] == "finishSecret":  # put the label back, as a sloppy finish leaves it
            sm.update_secret_version_stage(
                SecretId=event["SecretId"],
                VersionStage="AWSPENDING",
                MoveToVersionId=event["ClientRequestToken"],
            )

    user, old = make_role(pg)
    report = harness(sloppy, attempts=1).rotate(new_secret(pg_secret(pg, user, old)))
    assert all(r.error is None for r in report.steps)
    assert "AWSPENDING" in report.after[report.token] and not report.succeeded
