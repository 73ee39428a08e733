"""Secrets never appear in logs, exceptions or test output."""

from __future__ import annotations

import logging

import pytest
from rotor.errors import RotationError
from rotor.local.harness import LambdaContext
from rotor.observability import MASK, Redactor, describe_exception

from tests.conftest import handler
from tests.helpers import secret_value
from tests.pg import pg_secret


def test_rotations_log_no_password(pg, sm, harness, new_secret, make_role, admin_arn,
                                   capsys, caplog):
    caplog.set_level(logging.DEBUG)
    user, old = make_role(pg)
    single = new_secret(pg_secret(pg, user, old))
    other, other_old = make_role(pg)
    alternating = new_secret(pg_secret(pg, other, other_old, masterarn=admin_arn))
    broken = new_secret(pg_secret(pg, user, "wrong-password-for-user"))
    capsys.readouterr()
    caplog.clear()  # what the test itself did is not the rotator's output

    assert harness("postgresql_single").rotate(single).succeeded
    assert harness("postgresql_alternating").rotate(alternating).succeeded
    # and a failing one, whose error messages are logged
    assert not harness("postgresql_single", attempts=1).rotate(broken).succeeded

    out = capsys.readouterr()
    text = out.out + out.err + caplog.text
    assert "Step completed" in text and "Rotation step failed" in text  # logs were captured
    passwords = {old, other_old, "wrong-password-for-user", pg.superuser_password,
                 secret_value(sm, single)["password"], secret_value(sm, alternating)["password"]}
    assert not [p for p in passwords if p in text]


def test_exceptions_quoting_a_secret_are_scrubbed(pg, sm, harness, new_secret, make_role,
                                                  capsys, caplog):
    """A driver error that quotes the password is masked before it is logged or raised."""
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    token = harness("postgresql_single").start(arn)
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token,
                        SecretString=pg_secret_text(pg, user, old, port="not-a-port"),
                        VersionStages=["AWSPENDING"])
    event = {"Step": "setSecret", "SecretId": arn, "ClientRequestToken": token}
    with pytest.raises(RotationError) as caught:
        handler("postgresql_single")(event, LambdaContext())
    assert old not in str(caught.value) and caught.value.__cause__ is None
    out = capsys.readouterr()
    assert old not in out.out + out.err + caplog.text


def pg_secret_text(pg, user, password, **extra):
    import json

    return json.dumps(pg_secret(pg, user, password, **extra))


def test_redactor_masks_registered_values_only():
    redactor = Redactor()
    redactor.register_secret({"username": "alice", "password": "s3cr3t-value",
                              "nested": {"api_key": "key-123456"}})
    text = redactor.scrub("login alice with s3cr3t-value and key-123456")
    assert text == f"login alice with {MASK} and {MASK}"


def test_describe_exception_follows_causes_and_scrubs():
    from rotor.observability import redactor

    redactor.register("hunter2-hunter2")
    try:
        try:
            raise KeyError("hunter2-hunter2")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        text = describe_exception(exc)
    assert "hunter2" not in text and "KeyError" in text and "ValueError: outer" in text
