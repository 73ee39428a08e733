"""Fakes of the providers' key APIs over real HTTP on 127.0.0.1, and secrets wired to them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rotor import secrets as rotor_secrets
from rotor.local.fakeproviders import (
    SENDGRID_ADMIN_SCOPES,
    FakeDatadog,
    FakeKey,
    FakeSendGrid,
)
from rotor.local.harness import Harness


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short back-offs so 5xx retries cost milliseconds (Retry-After is still honoured)."""
    monkeypatch.setenv("ROTOR_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("ROTOR_HTTP_ATTEMPTS", "3")
    monkeypatch.setenv("ROTOR_HTTP_TIMEOUT", "10")


@pytest.fixture
def put_fails_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first PutSecretValue of the test dies (after the provider made the key)."""
    real_put = rotor_secrets.SecretStore.put_pending
    failures = iter([True])

    def flaky_put(self: Any, *args: Any, **kwargs: Any) -> None:
        if next(failures, False):
            raise ConnectionError("PutSecretValue timed out")
        real_put(self, *args, **kwargs)

    monkeypatch.setattr(rotor_secrets.SecretStore, "put_pending", flaky_put)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    with FakeDatadog() as api:
        yield api  # type: ignore[misc]


@dataclass
class KeySecret:
    """A rotated secret in moto, the fake it points at, and the keys seeded there.

    The fake's address is in the admin secret (``base_url``): the endpoint is trusted only
    from there, never from the rotated secret."""

    arn: str
    admin_arn: str
    api: Any
    initial: FakeKey
    admin_values: list[str]
    initial_value: dict[str, Any]

    def value(self, sm: Any, stage: str = "AWSCURRENT") -> dict[str, Any]:
        return json.loads(
            sm.get_secret_value(SecretId=self.arn, VersionStage=stage)["SecretString"]
        )

    def set_admin(self, sm: Any, value: dict[str, Any]) -> None:
        """Replace the admin secret's value, still pointing at the fake."""
        sm.put_secret_value(
            SecretId=self.admin_arn,
            SecretString=json.dumps({"base_url": self.api.base_url, **value}),
        )

    def prefix(self) -> str:
        from rotor.apikeys import ApiKeySecret

        return ApiKeySecret.parse(self.initial_value, "test").prefix_for(self.arn)

    def rotor_keys(self) -> list[FakeKey]:
        """Keys at the provider that rotor made for this secret."""
        return self.api.live_keys(self.prefix())


@pytest.fixture
def sendgrid_secret(
    sendgrid: FakeSendGrid, new_secret: Callable[..., str]
) -> Callable[..., KeySecret]:
    def make(
        admin_settings: dict[str, Any] | None = None,
        initial_scopes: tuple[str, ...] = ("mail.send",),
        **overrides: Any,
    ) -> KeySecret:
        """The admin secret pins the endpoint and the provider (the rotated secret's, unless
        ``admin_settings`` says otherwise; a None there drops the key)."""
        admin = sendgrid.add_key("rotor-admin", scopes=SENDGRID_ADMIN_SCOPES)
        initial = sendgrid.add_key("payments-initial", scopes=initial_scopes)
        admin_value = {
            "api_key": admin.secret,
            "base_url": sendgrid.base_url,
            "provider": overrides.get("provider", "sendgrid"),
            **(admin_settings or {}),
        }
        admin_arn = new_secret({k: v for k, v in admin_value.items() if v is not None})
        value: dict[str, Any] = {
            "provider": "sendgrid",
            "api_key": initial.secret,
            "key_id": initial.key_id,
            "adminarn": admin_arn,
            "scopes": ["mail.send"],
        }
        value.update(overrides)
        value = {k: v for k, v in value.items() if v is not None}
        arn = new_secret(value)
        return KeySecret(arn, admin_arn, sendgrid, initial, [admin.secret], value)

    return make


@pytest.fixture
def datadog_secret(
    datadog: FakeDatadog, new_secret: Callable[..., str]
) -> Callable[..., KeySecret]:
    def make(**overrides: Any) -> KeySecret:
        admin = datadog.add_key("rotor-admin")
        app_key = datadog.add_application_key()
        initial = datadog.add_key("agents-initial")
        admin_arn = new_secret(
            {
                "api_key": admin.secret,
                "application_key": app_key,
                "base_url": datadog.base_url,
                "provider": "datadog",
            }
        )
        value: dict[str, Any] = {
            "provider": "datadog",
            "api_key": initial.secret,
            "key_id": initial.key_id,
            "adminarn": admin_arn,
        }
        value.update(overrides)
        arn = new_secret(value)
        return KeySecret(arn, admin_arn, datadog, initial, [admin.secret, app_key], value)

    return make


@pytest.fixture
def rotor_apikey(harness: Callable[..., Harness]) -> Harness:
    """The real handler of rotators/apikey/app.py, driven as Secrets Manager drives it."""
    return harness("apikey")
