"""The data-configured provider, the registry, and the HTTP client's retry rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from rotor.apikeys import HttpClient, HttpProvider, HttpSettings, registry
from rotor.apikeys.http import check_base_url, retry_after
from rotor.errors import AuthenticationFailed, SecretFormatError, ServiceError
from rotor.local.fakeproviders import SENDGRID_ADMIN_SCOPES, FakeSendGrid
from rotor.local.harness import Harness

from tests.apikey.conftest import KeySecret

# SendGrid's key API described as data: what a user writes for a service rotor does not know.
SENDGRID_AS_DATA: dict[str, Any] = {
    "admin_headers": {"Authorization": "Bearer {admin.api_key}"},
    "create": {
        "method": "POST",
        "path": "/v3/api_keys",
        "ok": [201],
        "body": {"name": "{name}", "scopes": ["mail.send"]},
        "value_path": "api_key",
        "id_path": "api_key_id",
    },
    "verify": {"method": "GET", "path": "/v3/scopes", "headers": {"Authorization": "Bearer {key}"}},
    "revoke": {"method": "DELETE", "path": "/v3/api_keys/{key_id}"},
    "list": {
        "method": "GET",
        "path": "/v3/api_keys",
        "params": {"limit": "100"},
        "items_path": "result",
        "id_path": "api_key_id",
        "name_path": "name",
    },
    # the fake's "who am I" call: proves a key is of the admin's account, and its id
    "owner": {
        "path": "/whoami",
        "headers": {"Authorization": "Bearer {key}"},
        "account_path": "account.id",
        "id_path": "key.id",
    },
}


def test_generic_provider_described_in_the_admin_secret(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret(
        provider="http", scopes=None, admin_settings={"http": SENDGRID_AS_DATA}
    )
    keys = [secret.initial.secret]
    for _ in range(2):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
        keys.append(secret.value(sm)["api_key"])
    assert not secret.api.works(keys[0])
    assert secret.api.works(keys[1]) and secret.api.works(keys[2])
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"], ["mail.send"]]


def test_description_in_the_rotated_secret_is_refused(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    """Whoever may write the rotated secret must not decide what is sent with the admin key:
    here the admin key would become the new key's name, listed to every reader of keys."""
    leaky = {
        **SENDGRID_AS_DATA,
        "create": {**SENDGRID_AS_DATA["create"], "body": {"name": "{admin.api_key}"}},
    }
    secret: KeySecret = sendgrid_secret(
        provider="http", scopes=None, http=leaky, admin_settings={"http": SENDGRID_AS_DATA}
    )
    before = secret.value(sm)
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    assert "key 'http' differs from the API description in Admin secret" in (
        report.steps[-1].error or ""
    )
    assert secret.api.requests == []
    assert secret.value(sm) == before
    assert all(k.name != secret.admin_values[0] for k in secret.api.live_keys())


@pytest.mark.parametrize("part", ["body", "path", "params", "headers"])
def test_admin_fields_only_in_admin_headers(part: str) -> None:
    create = dict(SENDGRID_AS_DATA["create"])
    create[part] = (
        "/v3/api_keys/{admin.api_key}" if part == "path" else {"name": "x {admin.api_key}"}
    )
    with pytest.raises(
        SecretFormatError, match=r"'\{admin.api_key\}' is allowed only in 'http.admin_headers'"
    ):
        HttpProvider.preset({**SENDGRID_AS_DATA, "create": create})


def test_registered_preset_provider(sm: Any, rotor_apikey: Harness, sendgrid_secret: Any) -> None:
    registry.register_provider("acme-mail", HttpProvider.preset(SENDGRID_AS_DATA))
    try:
        secret: KeySecret = sendgrid_secret(provider="acme-mail", scopes=None)
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
        assert secret.api.works(secret.value(sm)["api_key"])
    finally:
        registry._providers.pop("acme-mail", None)


def test_registry_refuses_a_silent_override() -> None:
    with pytest.raises(Exception, match="already registered"):
        registry.register_provider("sendgrid", HttpProvider.preset(SENDGRID_AS_DATA))
    assert "sendgrid" in registry.registered() and "datadog" in registry.registered()


def test_bad_http_description_names_the_key() -> None:
    broken = {**SENDGRID_AS_DATA, "create": {"path": "/v3/api_keys", "value_path": "api_key"}}
    with pytest.raises(SecretFormatError, match=r"key 'http.create'.id_path must be"):
        HttpProvider.preset(broken)


# --- the HTTP client ----------------------------------------------------------------------
@pytest.fixture
def api() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake  # type: ignore[misc]


def client(api: FakeSendGrid, sleeps: list[float], max_wait: float = 20) -> HttpClient:
    settings = HttpSettings(timeout=5, attempts=3, backoff=0.01, max_wait=max_wait)
    return HttpClient(api.base_url, provider="sendgrid", settings=settings, sleep=sleeps.append)


def test_get_is_retried_on_5xx_with_backoff(api: FakeSendGrid) -> None:
    key = api.add_key("k")
    api.fail("verify", times=2, status=503)
    sleeps: list[float] = []
    response = client(api, sleeps).request(
        "GET", "/v3/scopes", "verify", headers={"Authorization": f"Bearer {key.secret}"}
    )
    assert response is not None and response.status == 200
    assert [r.status for r in api.calls("verify")] == [503, 503, 200]
    assert len(sleeps) == 2 and all(0 < s <= 0.02 for s in sleeps)


def test_post_is_not_repeated_on_5xx_but_is_on_429(api: FakeSendGrid) -> None:
    admin = api.add_key("admin", scopes=SENDGRID_ADMIN_SCOPES)
    headers = {"Authorization": f"Bearer {admin.secret}"}
    sleeps: list[float] = []
    api.fail("create", times=1, status=500)
    with pytest.raises(ServiceError, match="answered 500"):
        client(api, sleeps).request(
            "POST", "/v3/api_keys", "create", headers=headers, json_body={"name": "x"}
        )
    assert len(api.calls("create")) == 1 and sleeps == []
    api.fail("create", times=1, status=429, retry_after=2)
    response = client(api, sleeps).request(
        "POST", "/v3/api_keys", "create", headers=headers, json_body={"name": "x"}
    )
    assert response is not None and response.status == 201
    assert sleeps == [2.0]  # Retry-After, not the back-off


def test_missing_key_on_delete_is_not_an_error(api: FakeSendGrid) -> None:
    admin = api.add_key("admin", scopes=SENDGRID_ADMIN_SCOPES)
    response = client(api, []).request(
        "DELETE",
        "/v3/api_keys/nosuchkey",
        "revoke",
        headers={"Authorization": f"Bearer {admin.secret}"},
        missing_ok=True,
    )
    assert response is None
    assert [r.status for r in api.calls("revoke")] == [404]


def test_revoked_key_is_an_authentication_failure(api: FakeSendGrid) -> None:
    key = api.add_key("k")
    api.keys.pop(key.key_id)
    with pytest.raises(AuthenticationFailed, match=r"rejected the new key \(401\)"):
        client(api, []).request(
            "GET",
            "/v3/scopes",
            "verify",
            credential="new key",
            headers={"Authorization": f"Bearer {key.secret}"},
        )


def test_retry_after_forms() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("1.5", now) == 1.5
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after(str(int(now.timestamp()) + 12), now) == 12.0  # a Unix time
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.sendgrid.com", True),
        ("https://api.eu.sendgrid.com/", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://api.sendgrid.com", False),
        ("http://10.0.0.1", False),
        ("ftp://api.sendgrid.com", False),
        ("https://a:b@api.sendgrid.com", False),
        ("api.sendgrid.com", False),
    ],
)
def test_base_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert check_base_url(url, "Secret s").startswith(url.split(":")[0])
    else:
        with pytest.raises(SecretFormatError, match="key 'base_url'"):
            check_base_url(url, "Secret s")
