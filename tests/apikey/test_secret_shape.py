"""Malformed rotated or admin secrets: a clear error naming the key, no value, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from rotor.local.harness import Harness

from tests.apikey.conftest import KeySecret


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adminarn": None}, "key 'adminarn' is missing"),
        ({"api_key": None}, "key 'api_key' is missing"),
        ({"api_key": ""}, "key 'api_key' must be a non-empty string"),
        ({"provider": "nosuch"}, "key 'provider' names no registered provider"),
        ({"base_url": "http://api.sendgrid.com"}, "key 'base_url' must use https://"),
        ({"base_url": "https://user:pw@api.sendgrid.com"}, "must not carry credentials"),
        ({"base_url": "https://api.sendgrid.com"}, "key 'base_url' differs from the endpoint"),
        ({"scopes": "mail.send"}, "key 'scopes' must be a list"),
        ({"name_prefix": "bad prefix!"}, "key 'name_prefix' must be"),
        (
            {"adminarn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"},
            "named by key 'adminarn') cannot be read (ResourceNotFoundException)",
        ),
    ],
)
def test_bad_rotated_secret_fails_clearly_and_changes_nothing(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Any,
    overrides: dict[str, Any],
    message: str,
) -> None:
    secret: KeySecret = sendgrid_secret(**overrides)
    before = secret.value(sm)
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    errors = [s.error or "" for s in report.steps]
    assert all(s.step == "createSecret" for s in report.steps)
    assert all(message in e for e in errors), errors
    for value in (secret.initial.secret, *secret.admin_values):
        assert all(value not in e for e in errors)
    assert secret.value(sm) == before
    assert secret.api.requests == []  # not one call reached the provider


def test_admin_secret_without_api_key_names_the_key(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    secret.set_admin(sm, {"apikey": "x" * 20})
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    assert f"Admin secret {secret.admin_arn}: key 'api_key' must be a non-empty string" in (
        report.steps[-1].error or ""
    )
    assert secret.api.requests == []


def test_admin_key_without_permission_is_reported_as_the_admin_credential(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    weak = secret.api.add_key("mail-only", scopes=["mail.send"])
    secret.set_admin(sm, {"api_key": weak.secret})
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert "rejected the admin credential (403)" in error
    assert weak.secret not in error
    assert secret.api.works(secret.initial.secret)
