"""The attacks of the API-key security review, performed against the real handler.

The attacker writes only their own application's secret (any key, any stage's value, version
ids of their choosing) and holds valid keys of their OWN provider account; the admin secret is
the platform team's. One fake endpoint serves several accounts, as SendGrid and Datadog do.
Every attack must fail with a clear one-line error (or, in finishSecret, a warning) and have
no effect: no key made for the attacker, no key revoked, the secret's stages unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from rotor.apikeys import ApiKeySecret, IssuedKey, SendGrid, register_provider, registry
from rotor.apikeys.http import UnsafePathValue, path
from rotor.apikeys.secret import previous_key_check
from rotor.local.fakeproviders import (
    DEFAULT_ACCOUNT,
    SENDGRID_ADMIN_SCOPES,
    SENDGRID_FULL_ACCESS,
    FakeDatadog,
    FakeKeyApi,
    FakeSendGrid,
)
from rotor.local.harness import Harness, RotationReport

from tests.apikey.conftest import KeySecret
from tests.apikey.test_generic_and_http import SENDGRID_AS_DATA
from tests.helpers import stages

ATTACKER = "acct-attacker"  # the attacker's own provider account
VICTIM = "acct-victim"  # another organisation, with its own admin secret

# Datadog's key API described as data, proving ownership by showing a key (``fetch``).
DATADOG_AS_DATA: dict[str, Any] = {
    "admin_headers": {
        "DD-API-KEY": "{admin.api_key}",
        "DD-APPLICATION-KEY": "{admin.application_key}",
    },
    "create": {
        "method": "POST",
        "path": "/api/v2/api_keys",
        "ok": [201],
        "body": {"data": {"type": "api_keys", "attributes": {"name": "{name}"}}},
        "value_path": "data.attributes.key",
        "id_path": "data.id",
    },
    "verify": {"path": "/api/v1/validate", "headers": {"DD-API-KEY": "{key}"}},
    "revoke": {"path": "/api/v2/api_keys/{key_id}"},
    "list": {
        "path": "/api/v2/api_keys",
        "params": {"page[size]": "100"},
        "items_path": "data",
        "id_path": "id",
        "name_path": "attributes.name",
    },
    "fetch": {
        "path": "/api/v2/api_keys/{key_id}",
        "value_path": "data.attributes.key",
        "name_path": "data.attributes.name",
    },
}
UNSAFE_IDS = [
    "",
    ".",
    "..",
    "a/b",
    "../../v3/scopes",
    "a\\b",
    "a?b",
    "a#b",
    "%2e%2e",
    "%2E.",
    "a%2fb",
    "a\nb",
    "a\x00b",
    "a\x7fb",
]


# --- what "no effect" means -----------------------------------------------------------------
def keys_of(api: FakeKeyApi) -> set[tuple[str, str]]:
    """Every live key at the fake, of every account: (account, id)."""
    return {(k.account, k.key_id) for k in api.live_keys()}


def versions(sm: Any, arn: str) -> dict[str, tuple[list[str], str | None]]:
    """Each version's labels and value (``None``: no value, as RotateSecret leaves AWSPENDING)."""
    found: dict[str, tuple[list[str], str | None]] = {}
    for version, labels in stages(sm, arn).items():
        try:
            value = sm.get_secret_value(SecretId=arn, VersionId=version)["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            value = None
        found[version] = (labels, value)
    return found


def odd_requests(api: FakeKeyApi) -> list[str]:
    """Requests that reached anything but a known operation, or carried a dot segment."""
    return [
        f"{r.method} {r.path}"
        for r in api.requests
        if r.op == "unknown" or any(s in (".", "..") for s in r.path.split("/"))
    ]


def refused(
    sm: Any,
    report: RotationReport,
    arn: str,
    before: dict[str, Any],
    apis: dict[FakeKeyApi, tuple[int, set[tuple[str, str]]]],
    message: str,
) -> str:
    """The rotation failed in createSecret with ``message`` in a one-line error, and changed
    nothing: no key made or revoked at any account (``apis``: requests and keys before), every
    version as it was, AWSPENDING without a value."""
    assert not report.succeeded
    errors = [s.error or "" for s in report.steps]
    assert all(s.step == "createSecret" for s in report.steps), report.steps
    assert all(message in e and "\n" not in e for e in errors), errors
    for api, (seen, keys) in apis.items():
        assert [r for r in api.requests[seen:] if r.op in ("create", "revoke")] == []
        assert keys_of(api) == keys
        assert odd_requests(api) == []
    after = versions(sm, arn)
    assert {v: after[v] for v in before} == before
    assert set(after) - set(before) == {report.token}
    assert after[report.token] == (["AWSPENDING"], None)
    return errors[-1]


@pytest.fixture
def admin_of(new_secret: Callable[..., str]) -> Callable[..., str]:
    """An admin secret for ``account`` at a fake (SendGrid: a key with the api_keys scopes)."""

    def make(api: FakeKeyApi, account: str = DEFAULT_ACCOUNT, **settings: Any) -> str:
        if isinstance(api, FakeSendGrid):
            admin = {
                "api_key": api.add_key("admin", SENDGRID_ADMIN_SCOPES, account).secret,
                "provider": "sendgrid",
            }
        else:
            assert isinstance(api, FakeDatadog)
            admin = {
                "api_key": api.add_key("admin", account=account).secret,
                "application_key": api.add_application_key(account),
                "provider": "datadog",
            }
        return new_secret({**admin, "base_url": api.base_url, **settings})

    return make


def attempt(sm: Any, rotor_apikey: Harness, arn: str, *apis: FakeKeyApi, message: str) -> str:
    before = versions(sm, arn)
    state = {api: (len(api.requests), keys_of(api)) for api in apis}
    report = rotor_apikey.rotate(arn)
    return refused(sm, report, arn, before, state, message)


NOT_PROVEN = "key 'api_key' is not proven to be a live key of the"


# --- 1. SendGrid scope widening -------------------------------------------------------------
@pytest.mark.parametrize("claim", ["none", "own-key-id", "company-full-access-key-id"])
def test_full_access_key_of_the_attackers_own_account_gets_no_company_key(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid: FakeSendGrid,
    admin_of: Any,
    new_secret: Callable[..., str],
    claim: str,
) -> None:
    """The scopes of a new key used to come from GET /v3/scopes with whatever key the secret
    held: a full-access key of the attacker's own account gave the company key every scope."""
    admin_arn = admin_of(sendgrid)
    company_wide = sendgrid.add_key("ops-full-access", SENDGRID_FULL_ACCESS)
    own = sendgrid.add_key("attacker-full", SENDGRID_FULL_ACCESS, ATTACKER)
    value: dict[str, Any] = {"provider": "sendgrid", "api_key": own.secret, "adminarn": admin_arn}
    if claim != "none":
        value["key_id"] = own.key_id if claim == "own-key-id" else company_wide.key_id
    arn = new_secret(value)
    error = attempt(sm, rotor_apikey, arn, sendgrid, message=NOT_PROVEN)
    assert f"sendgrid account of Admin secret {admin_arn}" in error
    assert "no key was made" in error


def test_forged_key_carrying_a_company_key_id_is_not_proven(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid: FakeSendGrid,
    admin_of: Any,
    new_secret: Callable[..., str],
) -> None:
    """SG.<a company key's id>.<anything>: the id in the value proves nothing unless the whole
    key authenticates."""
    admin_arn = admin_of(sendgrid)
    wide = sendgrid.add_key("ops-full-access", SENDGRID_FULL_ACCESS)
    own = sendgrid.add_key("attacker-full", SENDGRID_FULL_ACCESS, ATTACKER)
    forged = f"SG.{wide.key_id}.{own.secret.split('.')[2]}"
    arn = new_secret(
        {"provider": "sendgrid", "api_key": forged, "key_id": wide.key_id, "adminarn": admin_arn}
    )
    attempt(sm, rotor_apikey, arn, sendgrid, message=NOT_PROVEN)


def test_claimed_id_of_a_wider_company_key_does_not_widen(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    sendgrid: FakeSendGrid,
) -> None:
    """The secret holds its own mail.send key but claims a full-access key's id: the new key
    gets the held key's scopes, and the claimed id is never recorded to be revoked."""
    wide = sendgrid.add_key("ops-full-access", SENDGRID_FULL_ACCESS)
    secret = sendgrid_secret(scopes=None, key_id=wide.key_id)
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"], ["mail.send"]]
    assert sendgrid.works(wide.secret)
    assert not sendgrid.works(secret.initial.secret)  # the proven one was revoked instead


# --- 2. revoking other teams' keys ---------------------------------------------------------
@pytest.fixture
def victims(sendgrid: FakeSendGrid) -> list[Any]:
    """Keys of other teams in the company's account (ids are in logs and in key values)."""
    return [sendgrid.add_key(f"team-{n}", ["mail.send"]) for n in range(2)]


def hand_write(sm: Any, arn: str, value: dict[str, Any], stage: str = "AWSCURRENT") -> str:
    version = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=version,
        SecretString=json.dumps(value),
        VersionStages=[stage],
    )
    return version


def test_hand_written_current_naming_other_teams_keys_revokes_none_of_them(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    victims: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """AWSCURRENT written by hand with the app's real key but another team's key_id and
    previous_key_id: three rotations later both victims still work."""
    secret = sendgrid_secret()
    hand_write(
        sm,
        secret.arn,
        {**secret.initial_value, "key_id": victims[0].key_id, "previous_key_id": victims[1].key_id},
    )
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert all(secret.api.works(v.secret) for v in victims)
    assert [
        r.path
        for r in secret.api.calls("revoke")
        if victims[0].key_id in r.path or victims[1].key_id in r.path
    ] == []
    assert not secret.api.works(secret.initial.secret)  # the app's own, proven key
    assert "not made by rotor" in caplog.text and "revoke it by hand" in caplog.text


@pytest.mark.parametrize("named", ["other-team", "rotor-made-current"])
def test_hand_written_previous_leads_to_no_revocation(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    victims: list[Any],
    named: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """AWSPREVIOUS written by hand, then a retried finishSecret. Its key_id names another
    team's key, or the key rotor made for AWSCURRENT (whose value the app holds): either way
    it is not the key rotor made for THAT version, so its previous_key_id is not revoked."""
    secret = sendgrid_secret()
    done = rotor_apikey.rotate(secret.arn)
    assert done.succeeded, done.steps
    current = secret.value(sm)
    held = (
        (victims[0].secret, victims[0].key_id)
        if named == "other-team"
        else (current["api_key"], current["key_id"])
    )
    hand_write(
        sm,
        secret.arn,
        {**current, "api_key": held[0], "key_id": held[1], "previous_key_id": victims[1].key_id},
        stage="AWSPREVIOUS",
    )
    before = versions(sm, secret.arn)
    keys = keys_of(secret.api)
    assert rotor_apikey.invoke(secret.arn, done.token, "finishSecret").error is None
    assert keys_of(secret.api) == keys
    assert versions(sm, secret.arn) == before
    assert "not made by rotor" in caplog.text


def test_value_written_into_the_rotations_own_version_cannot_borrow_rotors_key(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    victims: list[Any],
    put_fails_once: None,
) -> None:
    """createSecret made key <prefix><token> but its PutSecretValue failed; the attacker writes
    that version first, naming the id of rotor's key (it is logged) with the app's own key and
    a victim as previous_key_id. The version's key name matches, but the value it holds is not
    that key: it is not rotor's version, and the victim survives."""
    secret = sendgrid_secret()
    token = rotor_apikey.start(secret.arn)
    assert rotor_apikey.invoke(secret.arn, token, "createSecret").error is not None
    made = secret.api.live_keys(secret.prefix() + token)
    assert len(made) == 1
    sm.put_secret_value(
        SecretId=secret.arn,
        ClientRequestToken=token,
        VersionStages=["AWSPENDING"],
        SecretString=json.dumps(
            {**secret.initial_value, "key_id": made[0].key_id, "previous_key_id": victims[0].key_id}
        ),
    )
    assert rotor_apikey.resume(secret.arn, token).succeeded
    for _ in range(2):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert secret.api.works(victims[0].secret)


def test_version_written_by_an_earlier_release_does_not_revoke_the_id_it_copied(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    victims: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before the ownership proof rotor copied previous_key_id from the secret's key_id, so a
    version it made can name another team's key, with a check field planted beside it. After
    the upgrade such a version, though rotor made it, revokes nothing."""
    secret = sendgrid_secret()
    planted = previous_key_check(victims[0].key_id, victims[0].key_id)
    hand_write(
        sm,
        secret.arn,
        {**secret.initial_value, "key_id": victims[0].key_id, "previous_key_check": planted},
    )

    def earlier_release(
        self: ApiKeySecret, issued: IssuedKey, previous_key_id: str | None = None
    ) -> dict[str, Any]:
        value = {**self.raw, "api_key": issued.key, "key_id": issued.key_id}
        return {**value, "previous_key_id": self.key_id}

    with monkeypatch.context() as patch:
        patch.setattr(ApiKeySecret, "successor", earlier_release)
        assert rotor_apikey.rotate(secret.arn).succeeded
    assert secret.value(sm)["previous_key_id"] == victims[0].key_id
    for _ in range(2):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert secret.api.works(victims[0].secret)
    assert "not made by rotor" in caplog.text


@pytest.mark.parametrize("bad", UNSAFE_IDS)
def test_unsafe_ids_in_the_secret_never_reach_a_url(
    sm: Any,
    rotor_apikey: Harness,
    datadog_secret: Callable[..., KeySecret],
    bad: str,
) -> None:
    """Datadog reads the claimed key_id's value: an id with a dot segment, a slash, a
    percent-encoded dot or a control character would address another path with the admin
    key. Such a claim is ignored (the key is found by value); as previous_key_id of a version
    written by hand it is never used. Empty ids and control characters are refused outright
    as a malformed secret."""
    secret = datadog_secret(key_id=bad, previous_key_id=bad)
    if not bad or any(ord(c) < 32 or ord(c) == 127 for c in bad):
        message = "must be a non-empty string" if not bad else "contains control characters"
        attempt(sm, rotor_apikey, secret.arn, secret.api, message=f"key 'key_id' {message}")
        return
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert odd_requests(secret.api) == []
    assert all(r.path.count("/") == 4 for r in secret.api.calls("revoke"))
    assert not secret.api.works(secret.initial.secret)  # proven by value, revoked in time


@pytest.mark.parametrize("bad", UNSAFE_IDS)
def test_path_refuses_unsafe_ids_without_showing_them(bad: str) -> None:
    with pytest.raises(
        UnsafePathValue,
        match=r"^The id to put in the URL path /v3/api_keys/\{id\} "
        r"(is empty|is a dot segment|contains)",
    ) as caught:
        path("/v3/api_keys/{id}", id=bad)
    if len(bad) > 2:
        assert bad not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_path_encodes_plain_ids() -> None:
    assert path("/v1/keys/{id}", id="a b+é") == "/v1/keys/a%20b%2B%C3%A9"
    assert path("/v1/keys/{id}", id="...") == "/v1/keys/..."


def test_unsafe_ids_in_a_providers_listing_are_left_alone(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
) -> None:
    """A listing naming '..' (a broken or hostile endpoint) is never turned into a DELETE."""
    secret = sendgrid_secret()
    prefix = secret.prefix()
    for bad in ("..", "."):
        odd = secret.api.add_key(prefix + str(uuid.uuid4()), ["mail.send"])
        secret.api.keys[bad] = secret.api.keys.pop(odd.key_id)
        odd.key_id = bad
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert odd_requests(secret.api) == []


# --- 3. borrowing another organisation's admin ----------------------------------------------
@pytest.mark.parametrize("held", ["garbage", "garbage-sg-shape", "own-org-key", "victim-id"])
def test_secret_naming_another_orgs_sendgrid_admin_is_refused(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid: FakeSendGrid,
    admin_of: Any,
    new_secret: Callable[..., str],
    held: str,
) -> None:
    victim_admin = admin_of(sendgrid, VICTIM)
    victim_key = sendgrid.add_key("victim-app", ["mail.send"], VICTIM)
    own = sendgrid.add_key("attacker-app", ["mail.send"], ATTACKER)
    value: dict[str, Any] = {
        "provider": "sendgrid",
        "adminarn": victim_admin,
        "scopes": ["mail.send"],
        "api_key": {
            "garbage": "not-a-key-at-all",
            "garbage-sg-shape": f"SG.{victim_key.key_id}.garbage",
            "own-org-key": own.secret,
            "victim-id": own.secret,
        }[held],
    }
    if held == "victim-id":
        value["key_id"] = victim_key.key_id
    arn = new_secret(value)
    attempt(sm, rotor_apikey, arn, sendgrid, message=NOT_PROVEN)
    assert len(sendgrid.live_keys(account=VICTIM)) == 2  # its admin and its app key, no more


@pytest.mark.parametrize("held", ["garbage", "own-org-key", "victim-id"])
def test_secret_naming_another_orgs_datadog_admin_is_refused(
    sm: Any,
    rotor_apikey: Harness,
    datadog: FakeDatadog,
    admin_of: Any,
    new_secret: Callable[..., str],
    held: str,
) -> None:
    victim_admin = admin_of(datadog, VICTIM)
    victim_key = datadog.add_key("victim-app", account=VICTIM)
    own = datadog.add_key("attacker-app", account=ATTACKER)
    value: dict[str, Any] = {
        "provider": "datadog",
        "adminarn": victim_admin,
        "api_key": "0" * 28 + victim_key.secret[-4:] if held == "garbage" else own.secret,
    }
    if held == "victim-id":
        value["key_id"] = victim_key.key_id
    arn = new_secret(value)
    attempt(sm, rotor_apikey, arn, datadog, message=NOT_PROVEN)


@pytest.mark.parametrize("description", ["owner", "fetch"])
def test_generic_provider_refuses_a_key_of_another_account(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid: FakeSendGrid,
    datadog: FakeDatadog,
    admin_of: Any,
    new_secret: Callable[..., str],
    description: str,
) -> None:
    api: FakeKeyApi = sendgrid if description == "owner" else datadog
    spec = SENDGRID_AS_DATA if description == "owner" else DATADOG_AS_DATA
    victim_admin = admin_of(api, VICTIM, provider="http", http=spec)
    own = api.add_key("attacker-app", account=ATTACKER)
    victim_key = api.add_key("victim-app", account=VICTIM)
    arn = new_secret(
        {
            "provider": "http",
            "api_key": own.secret,
            "key_id": victim_key.key_id,
            "adminarn": victim_admin,
        }
    )
    attempt(sm, rotor_apikey, arn, api, message=NOT_PROVEN)


def test_generic_provider_without_fetch_or_owner_is_refused_before_any_call(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
) -> None:
    blind = {k: v for k, v in SENDGRID_AS_DATA.items() if k != "owner"}
    secret = sendgrid_secret(provider="http", scopes=None, admin_settings={"http": blind})
    calls = len(secret.api.requests)
    error = attempt(
        sm,
        rotor_apikey,
        secret.arn,
        secret.api,
        message="key 'http' describes neither 'fetch' nor 'owner'",
    )
    assert "describe 'fetch'" in error
    assert secret.api.requests[calls:] == []


# --- break glass: the admin secret, and only it, authorises a reset without proof -----------
def glass(arn: str, hours: float = 1) -> dict[str, dict[str, str]]:
    until = datetime.now(UTC) + timedelta(hours=hours)
    return {arn: {"until": until.isoformat().replace("+00:00", "Z")}}


def revoked_current(secret: KeySecret) -> None:
    """The app's key leaked and was revoked by hand: it proves nothing any more."""
    secret.api.keys.pop(secret.initial.key_id)


@pytest.fixture
def leaked(sm: Any, sendgrid_secret: Callable[..., KeySecret]) -> Iterator[KeySecret]:
    secret = sendgrid_secret(
        initial_scopes=("mail.send", "stats.read"),
        scopes=None,
        admin_settings={"allowed_scopes": ["mail.send"]},
    )
    revoked_current(secret)
    yield secret


def admin_value(sm: Any, secret: KeySecret) -> dict[str, Any]:
    return json.loads(sm.get_secret_value(SecretId=secret.admin_arn)["SecretString"])


def test_break_glass_replaces_a_revoked_key_with_the_allowed_scopes(
    sm: Any,
    rotor_apikey: Harness,
    leaked: KeySecret,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = leaked
    secret.set_admin(sm, {**admin_value(sm, secret), "break_glass": glass(secret.arn)})
    with caplog.at_level(logging.WARNING):
        report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"]]
    current = secret.value(sm)
    assert secret.api.works(current["api_key"])
    assert "previous_key_id" not in current  # the unproven id is never revoked later
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("BREAK GLASS" in w for w in warnings), warnings

    # Once the entry is gone, rotations prove the (rotor-made) current key again.
    secret.set_admin(sm, {k: v for k, v in admin_value(sm, secret).items() if k != "break_glass"})
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps


def test_break_glass_narrowed_by_the_secrets_scopes_and_required_allowed_scopes(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
) -> None:
    secret = sendgrid_secret(
        scopes=["mail.send"], admin_settings={"allowed_scopes": ["mail.send", "stats.read"]}
    )
    revoked_current(secret)
    secret.set_admin(sm, {**admin_value(sm, secret), "break_glass": glass(secret.arn)})
    assert rotor_apikey.rotate(secret.arn).succeeded
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"]]

    bare = sendgrid_secret(scopes=None)
    revoked_current(bare)
    bare.set_admin(sm, {**admin_value(sm, bare), "break_glass": glass(bare.arn)})
    attempt(
        sm,
        rotor_apikey,
        bare.arn,
        bare.api,
        message="key 'allowed_scopes' is missing; a break-glass reset",
    )


@pytest.mark.parametrize("where", ["expired", "other-arn", "rotated-secret"])
def test_break_glass_that_does_not_apply_is_refused(
    sm: Any,
    rotor_apikey: Harness,
    leaked: KeySecret,
    where: str,
) -> None:
    secret = leaked
    admin = admin_value(sm, secret)
    if where == "expired":
        secret.set_admin(sm, {**admin, "break_glass": glass(secret.arn, hours=-1)})
    elif where == "other-arn":
        secret.set_admin(
            sm, {**admin, "break_glass": glass(secret.arn.replace("rotor-test", "rotor-else"))}
        )
    else:  # the rotated secret cannot authorise itself
        hand_write(sm, secret.arn, {**secret.initial_value, "break_glass": glass(secret.arn)})
    attempt(sm, rotor_apikey, secret.arn, secret.api, message=NOT_PROVEN)


def test_break_glass_for_datadog(
    sm: Any,
    rotor_apikey: Harness,
    datadog_secret: Callable[..., KeySecret],
) -> None:
    secret = datadog_secret()
    revoked_current(secret)
    attempt(sm, rotor_apikey, secret.arn, secret.api, message=NOT_PROVEN)
    sm.update_secret_version_stage(
        SecretId=secret.arn,
        VersionStage="AWSPENDING",
        RemoveFromVersionId=next(
            v for v, s in stages(sm, secret.arn).items() if s == ["AWSPENDING"]
        ),
    )
    secret.set_admin(sm, {**admin_value(sm, secret), "break_glass": glass(secret.arn)})
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert secret.api.works(secret.value(sm)["api_key"])


# --- what keeps working ---------------------------------------------------------------------
@pytest.mark.parametrize("key_id", [True, False])
def test_initial_datadog_key_is_proven_and_revoked_two_rotations_later(
    sm: Any,
    rotor_apikey: Harness,
    datadog_secret: Callable[..., KeySecret],
    key_id: bool,
) -> None:
    """Without key_id the key is found by value among the admin's keys ending alike."""
    secret = datadog_secret(**({} if key_id else {"key_id": None}))
    if not key_id:  # a decoy of the same last4 in the account: read, compared, not taken
        secret.api.add_key("decoy").secret = "f" * 28 + secret.initial.secret[-4:]
    assert rotor_apikey.rotate(secret.arn).succeeded
    assert secret.value(sm)["previous_key_id"] == secret.initial.key_id
    assert secret.api.works(secret.initial.secret)
    assert rotor_apikey.rotate(secret.arn).succeeded
    assert not secret.api.works(secret.initial.secret)
    assert len(secret.rotor_keys()) == 2


def test_generic_owner_without_id_rotates_and_leaves_the_unknown_key_to_the_operator(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = {k: v for k, v in SENDGRID_AS_DATA["owner"].items() if k != "id_path"}
    spec = {**{k: v for k, v in SENDGRID_AS_DATA.items() if k != "owner"}, "owner": owner}
    secret = sendgrid_secret(provider="http", scopes=None, admin_settings={"http": spec})
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert secret.api.works(secret.initial.secret)  # its id was never proven: not revoked
    assert "does not prove its id" in caplog.text
    assert len(secret.rotor_keys()) == 2  # rotor's own keys are swept as usual


def test_generic_fetch_proves_and_revokes_the_initial_key(
    sm: Any,
    rotor_apikey: Harness,
    datadog_secret: Callable[..., KeySecret],
) -> None:
    secret = datadog_secret(provider="http", key_id=None)
    secret.set_admin(sm, {**admin_value(sm, secret), "provider": "http", "http": DATADOG_AS_DATA})
    for _ in range(2):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert not secret.api.works(secret.initial.secret)


def test_retried_finish_converges(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
) -> None:
    secret = sendgrid_secret()
    for _ in range(2):
        done = rotor_apikey.rotate(secret.arn)
        assert done.succeeded, done.steps
    keys = keys_of(secret.api)
    for _ in range(2):
        assert rotor_apikey.invoke(secret.arn, done.token, "finishSecret").error is None
    assert keys_of(secret.api) == keys
    assert not secret.api.works(secret.initial.secret)


def test_no_value_reaches_logs_or_errors_during_attacks(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid: FakeSendGrid,
    admin_of: Any,
    new_secret: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim_admin = admin_of(sendgrid, VICTIM)
    own = sendgrid.add_key("attacker-full", SENDGRID_FULL_ACCESS, ATTACKER)
    victim = sendgrid.add_key("victim-app", ["mail.send"], VICTIM)
    garbage = "SG.abcdefghij.klmnopqrstuvwxyz0123456789"
    reports = [
        rotor_apikey.rotate(
            new_secret(
                {"provider": "sendgrid", "api_key": key, "adminarn": victim_admin, "key_id": "../x"}
            )
        )
        for key in (own.secret, garbage)
    ]
    out = capsys.readouterr()
    text = "\n".join(
        [out.out, out.err, caplog.text, *(s.error or "" for r in reports for s in r.steps)]
    )
    assert "is not proven" in text
    admin = json.loads(sm.get_secret_value(SecretId=victim_admin)["SecretString"])["api_key"]
    for value in (own.secret, garbage, victim.secret, admin):
        assert value not in text
    assert not re.search(r"SG\.[\w-]+\.[\w-]{8,}", text)


class ActivatingSendGrid(SendGrid):
    """A provider with a setSecret step that acts on the pending key's id with the admin."""

    activated: ClassVar[list[str]] = []

    def activate(self, key: IssuedKey) -> None:
        type(self).activated.append(key.key_id)


@pytest.fixture
def activating() -> Iterator[type[ActivatingSendGrid]]:
    register_provider("sendgrid-activating", ActivatingSendGrid)
    ActivatingSendGrid.activated = []
    try:
        yield ActivatingSendGrid
    finally:
        registry._providers.pop("sendgrid-activating", None)


def test_activate_runs_only_for_the_key_rotor_made(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    victims: list[Any],
    activating: type[ActivatingSendGrid],
) -> None:
    secret = sendgrid_secret(provider="sendgrid-activating")
    assert rotor_apikey.rotate(secret.arn).succeeded
    made = secret.value(sm)["key_id"]
    assert activating.activated == [made]

    token = rotor_apikey.start(secret.arn)  # the pending value is written by hand first
    sm.put_secret_value(
        SecretId=secret.arn,
        ClientRequestToken=token,
        VersionStages=["AWSPENDING"],
        SecretString=json.dumps({**secret.value(sm), "key_id": victims[0].key_id}),
    )
    report = rotor_apikey.resume(secret.arn, token)
    assert not report.succeeded
    errors = [s.error or "" for s in report.steps if s.step == "setSecret"]
    assert errors and all("the pending key is not the key rotor made" in e for e in errors)
    assert activating.activated == [made]
    assert secret.value(sm)["key_id"] == made
