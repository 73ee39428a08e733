"""The protocol checks every step makes: bad input gets a clear error and changes nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from rotor import secrets as rotor_secrets
from rotor.errors import EventError, SecretFormatError, StateError
from rotor.local.harness import LambdaContext

from tests.conftest import handler
from tests.helpers import secret_value, stages
from tests.pg import logs_in, pg_secret

ROTATOR = "postgresql_single"


def _event(arn, token, step="createSecret", **extra):
    return {"Step": step, "SecretId": arn, "ClientRequestToken": token, **extra}


@pytest.mark.parametrize(
    "event, fragment",
    [
        ({}, "'Step' must be one of"),
        ({"Step": "dropSecret", "SecretId": "x", "ClientRequestToken": "t" * 36}, "'Step'"),
        ({"Step": "createSecret", "ClientRequestToken": "t" * 36}, "'SecretId'"),
        ({"Step": "createSecret", "SecretId": "x"}, "'ClientRequestToken'"),
        (
            {"Step": "createSecret", "SecretId": "x", "ClientRequestToken": "short"},
            "'ClientRequestToken'",
        ),
        (
            {
                "Step": "setSecret",
                "SecretId": "x",
                "ClientRequestToken": "t" * 36,
                "RotationToken": 7,
            },
            "'RotationToken'",
        ),
        ("not a dict", "JSON object"),
    ],
)
def test_malformed_events_are_refused(event, fragment):
    with pytest.raises(EventError, match=fragment):
        handler(ROTATOR)(event, LambdaContext())


@pytest.fixture
def rotation_ready(pg, sm, harness, new_secret, make_role):
    """A secret with a rotation started (valueless AWSPENDING under ``token``)."""
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password))
    token = harness(ROTATOR).start(arn)
    return arn, token, user, password


def test_rotation_disabled_is_refused(pg, sm, new_secret, make_role):
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password))
    token = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(pg_secret(pg, user, "x" * 20)),
        VersionStages=["AWSPENDING"],
    )
    before = stages(sm, arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        with pytest.raises(StateError, match="Rotation is not enabled"):
            handler(ROTATOR)(_event(arn, token, step), LambdaContext())
    assert stages(sm, arn) == before
    assert logs_in(pg, user, password)


def test_unknown_token_is_refused(sm, rotation_ready):
    arn = rotation_ready[0]
    before = stages(sm, arn)
    with pytest.raises(StateError, match="is not a version of secret"):
        handler(ROTATOR)(_event(arn, str(uuid.uuid4()), "finishSecret"), LambdaContext())
    assert stages(sm, arn) == before


def test_token_that_is_not_pending_is_refused(sm, harness, rotation_ready):
    arn, token, *_ = rotation_ready
    assert harness(ROTATOR).resume(arn, token).succeeded
    previous = next(v for v, s in stages(sm, arn).items() if "AWSPREVIOUS" in s)
    before = stages(sm, arn)
    with pytest.raises(StateError, match="is not AWSPENDING"):
        handler(ROTATOR)(_event(arn, previous, "setSecret"), LambdaContext())
    assert stages(sm, arn) == before


def test_steps_on_the_current_version_do_nothing(pg, sm, harness, rotation_ready):
    arn, token, user, _ = rotation_ready
    assert harness(ROTATOR).resume(arn, token).succeeded
    value, before = secret_value(sm, arn), stages(sm, arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        handler(ROTATOR)(_event(arn, token, step), LambdaContext())
    assert stages(sm, arn) == before and secret_value(sm, arn) == value
    assert logs_in(pg, user, value["password"])


def test_rotation_token_is_passed_to_put_secret_value(sm, rotation_ready):
    arn, token, *_ = rotation_ready
    sent = []
    events = rotor_secrets.client().meta.events
    hook = "provide-client-params.secrets-manager.PutSecretValue"

    def capture(params, **_):
        sent.append(params.get("RotationToken"))

    events.register(hook, capture)
    rotation_token = str(uuid.uuid4())
    try:
        handler(ROTATOR)(_event(arn, token, RotationToken=rotation_token), LambdaContext())
    finally:
        events.unregister(hook, capture)
    assert sent == [rotation_token]
    assert "AWSPENDING" in stages(sm, arn)[token]
    assert secret_value(sm, arn, "AWSPENDING")["password"]


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("not json", "is not valid JSON"),
        ('["a", "list"]', "not an object"),
        ({"engine": "postgres", "host": "h", "port": 5432, "password": "p" * 12}, "'username'"),
        (
            {
                "engine": "postgres",
                "host": "h",
                "port": "five",
                "username": "u",
                "password": "p" * 12,
            },
            "'port'",
        ),
        (
            {"engine": "oracle", "host": "h", "username": "u", "password": "p" * 12},
            "engine 'oracle'",
        ),
        ({"engine": "postgres", "host": "h", "username": "u"}, "'password'"),
        (
            {"engine": "postgres", "host": "h", "username": "u\x00x", "password": "p" * 12},
            "'username' contains control",
        ),
        (
            {
                "engine": "postgres",
                "host": "h",
                "username": "u",
                "password": "p" * 12,
                "ssl": "maybe",
            },
            "'ssl'",
        ),
    ],
)
def test_malformed_secret_is_named_not_shown(sm, harness, new_secret, value, fragment):
    arn = new_secret(value)
    before = stages(sm, arn)
    token = harness(ROTATOR).start(arn)
    with pytest.raises(SecretFormatError, match=fragment) as caught:
        handler(ROTATOR)(_event(arn, token), LambdaContext())
    assert "p" * 12 not in str(caught.value)
    assert all(stages(sm, arn)[v] == s for v, s in before.items())
    assert stages(sm, arn)[token] == ["AWSPENDING"]  # nothing stored under the token


def test_aurora_and_rds_engine_names_are_accepted(pg, sm, harness, new_secret, make_role):
    for engine in ("aurora-postgresql", "postgres"):
        user, old = make_role(pg)
        arn = new_secret(pg_secret(pg, user, old, engine=engine, port=str(pg.port)))
        assert harness(ROTATOR).rotate(arn).succeeded
        assert logs_in(pg, user, secret_value(sm, arn)["password"])
