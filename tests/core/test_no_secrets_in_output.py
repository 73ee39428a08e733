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


def everything_logged(capture, caplog) -> str:
    """Captured output plus every log record with its structured extras (error, traceback)."""
    out = capture.readouterr()
    records = " ".join(str(vars(record)) for record in caplog.records)
    return out.out + out.err + caplog.text + records


def test_rotations_log_no_password(
    pg, sm, harness, new_secret, make_role, admin_arn, capsys, caplog
):
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

    text = everything_logged(capsys, caplog)
    assert "Step completed" in text and "Rotation step failed" in text  # logs were captured
    passwords = {
        old,
        other_old,
        "wrong-password-for-user",
        pg.superuser_password,
        secret_value(sm, single)["password"],
        secret_value(sm, alternating)["password"],
    }
    assert not [p for p in passwords if p in text]


def test_driver_errors_quoting_a_secret_are_scrubbed(
    pg, sm, harness, new_secret, make_role, capfd, caplog
):
    """A real server error that quotes a secret value is masked in the raised error and logs.

    The secret names its password as the database too, so PostgreSQL's own message
    ('database "<password>" does not exist') carries the password through the driver.
    """
    caplog.set_level(logging.DEBUG)
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password, dbname=password))
    token = harness("postgresql_single").start(arn)
    capfd.readouterr()
    caplog.clear()
    event = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token}
    handler("postgresql_single")(event, LambdaContext())
    event["Step"] = "setSecret"
    with pytest.raises(RotationError) as caught:
        handler("postgresql_single")(event, LambdaContext())
    message = str(caught.value)
    assert "does not exist" in message and MASK in message  # the real driver message, masked
    assert password not in message and caught.value.__cause__ is None
    text = everything_logged(capfd, caplog)
    assert "does not exist" in text  # the error was logged, with the driver's message
    assert password not in text


def test_redactor_masks_registered_values_only():
    redactor = Redactor()
    redactor.register_secret(
        {"username": "alice", "password": "s3cr3t-value", "nested": {"api_key": "key-123456"}}
    )
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
