"""Datadog API keys rotated by the real handler against a fake Datadog over real HTTP."""

from __future__ import annotations

from typing import Any

import requests
from rotor.local.harness import Harness

from tests.apikey.conftest import KeySecret


def validate_status(api: Any, key: str) -> int:
    response = requests.get(
        f"{api.base_url}/api/v1/validate", headers={"DD-API-KEY": key}, timeout=5
    )
    return response.status_code


def test_three_rotations_keep_two_generations(
    sm: Any, rotor_apikey: Harness, datadog_secret: Any
) -> None:
    secret: KeySecret = datadog_secret()
    keys = [secret.initial.secret]
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
        keys.append(secret.value(sm)["api_key"])
        assert validate_status(secret.api, keys[-1]) == 200
        assert validate_status(secret.api, keys[-2]) == 200
    assert [validate_status(secret.api, k) for k in keys[:-2]] == [403, 403]
    assert {k.secret for k in secret.api.live_keys()} == {secret.admin_values[0], *keys[-2:]}


def test_key_made_but_not_stored_is_reused(
    sm: Any, rotor_apikey: Harness, datadog_secret: Any, put_fails_once: None
) -> None:
    """Datadog shows a key again (GET /api/v2/api_keys/{id}), so a retried createSecret stores
    the key its first attempt made instead of making another."""
    secret: KeySecret = datadog_secret()
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert len(secret.api.calls("create")) == 1
    made = secret.value(sm)["key_id"]
    assert [r.status for r in secret.api.calls("get") if r.path.endswith(made)] == [200]
    assert secret.api.calls("revoke") == []
    assert [k.secret for k in secret.rotor_keys()] == [secret.value(sm)["api_key"]]


def test_rate_limit_reset_header_is_honoured(
    sm: Any, rotor_apikey: Harness, datadog_secret: Any
) -> None:
    """Datadog's 429 says when to come back in X-RateLimit-Reset (seconds), not Retry-After."""
    secret: KeySecret = datadog_secret()
    secret.api.fail("list", times=1, status=429, retry_after=1)
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    limited, listed = secret.api.calls("list")[:2]
    assert (limited.status, listed.status) == (429, 200)
    assert listed.at - limited.at >= 1.0


def test_admin_without_application_key_is_refused_before_any_call(
    sm: Any, rotor_apikey: Harness, datadog_secret: Any, new_secret: Any
) -> None:
    secret: KeySecret = datadog_secret()
    secret.set_admin(sm, {"api_key": secret.admin_values[0]})
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    error = report.steps[-1].error or ""
    assert "key 'application_key' must be a non-empty string" in error
    assert secret.api.requests == []
    assert secret.value(sm)["api_key"] == secret.initial.secret
