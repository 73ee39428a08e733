"""What a rotation may touch: only its own secret's keys, and the admin credential goes only
where the admin secret says. The rotated secret is writable by the key's users, so nothing in
it may steer the admin key or reach another secret's keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rotor.apikeys import ApiKeySecret, HttpProvider, registry
from rotor.local.fakeproviders import SENDGRID_ADMIN_SCOPES, SENDGRID_FULL_ACCESS, FakeSendGrid
from rotor.local.harness import Harness
from rotor.observability import redactor

from tests.apikey.conftest import KeySecret
from tests.apikey.test_generic_and_http import SENDGRID_AS_DATA
from tests.helpers import stages

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-{}-AbCdEf"


def live_keys_of(sm: Any, secret: KeySecret) -> list[str]:
    """The values of every key a labelled version of ``secret`` holds."""
    held = []
    for version, labels in stages(sm, secret.arn).items():
        if not labels:
            continue
        value = json.loads(
            sm.get_secret_value(SecretId=secret.arn, VersionId=version)["SecretString"]
        )
        held.append(value["api_key"])
    return held


@pytest.mark.parametrize(
    ("prefix_a", "prefix_b"), [("svc-", "svc-payments-"), ("svc-", "svc-"), ("svc", "svc-")]
)
def test_secrets_sharing_an_admin_key_never_revoke_each_others_keys(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    prefix_a: str,
    prefix_b: str,
) -> None:
    a = sendgrid_secret(name_prefix=prefix_a)
    b = sendgrid_secret(name_prefix=prefix_b, adminarn=a.admin_arn)  # one admin key for both
    for _ in range(2):
        assert rotor_apikey.rotate(b.arn).succeeded
    b_pending = rotor_apikey.start(b.arn)  # B's next rotation is under way
    assert rotor_apikey.invoke(b.arn, b_pending, "createSecret").error is None
    b_keys = live_keys_of(sm, b)
    assert len(b_keys) == 3 and all(a.api.works(k) for k in b_keys)

    abandoned = rotor_apikey.start(a.arn)  # an orphan of A's, which A's sweep must revoke
    assert rotor_apikey.invoke(a.arn, abandoned, "createSecret").error is None
    orphan = a.value(sm, "AWSPENDING")["api_key"]
    sm.update_secret_version_stage(
        SecretId=a.arn, VersionStage="AWSPENDING", RemoveFromVersionId=abandoned
    )
    for _ in range(3):
        report = rotor_apikey.rotate(a.arn)
        assert report.succeeded, report.steps

    assert [k for k in b_keys if not a.api.works(k)] == []  # none of B's keys was revoked
    assert not a.api.works(orphan)
    assert {k.secret for k in a.rotor_keys()} == set(live_keys_of(sm, a))
    assert {k.secret for k in b.rotor_keys()} == set(b_keys) - {b.initial.secret}


def test_sweep_never_revokes_a_key_a_labelled_version_holds(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    """A key named like an orphan of this secret (prefix + a UUID that is no version id) is
    spared while AWSPENDING holds its id (a value staged by hand, say)."""
    secret = sendgrid_secret()
    done = rotor_apikey.rotate(secret.arn)
    assert done.succeeded, done.steps
    staged = secret.api.add_key(secret.prefix() + str(uuid.uuid4()), scopes=["mail.send"])
    sm.put_secret_value(
        SecretId=secret.arn,
        ClientRequestToken=str(uuid.uuid4()),
        VersionStages=["AWSPENDING"],
        SecretString=json.dumps(
            {**secret.value(sm), "api_key": staged.secret, "key_id": staged.key_id}
        ),
    )
    assert rotor_apikey.invoke(secret.arn, done.token, "finishSecret").error is None
    assert secret.api.works(staged.secret)
    assert secret.api.works(secret.value(sm)["api_key"])


def test_sweep_spares_a_key_whose_value_a_labelled_version_holds(
    sm: Any, rotor_apikey: Harness, datadog_secret: Callable[..., KeySecret]
) -> None:
    """Datadog shows a key again: a held value protects a key even without its id."""
    secret = datadog_secret()
    done = rotor_apikey.rotate(secret.arn)
    assert done.succeeded, done.steps
    staged = secret.api.add_key(secret.prefix() + str(uuid.uuid4()))
    value = {k: v for k, v in secret.value(sm).items() if k != "key_id"}
    sm.put_secret_value(
        SecretId=secret.arn,
        ClientRequestToken=str(uuid.uuid4()),
        VersionStages=["AWSPENDING"],
        SecretString=json.dumps({**value, "api_key": staged.secret}),
    )
    assert rotor_apikey.invoke(secret.arn, done.token, "finishSecret").error is None
    assert secret.api.works(staged.secret)


def test_every_key_name_carries_the_secret_digest() -> None:
    def prefix(name_prefix: str | None, which: str) -> str:
        value = {"provider": "sendgrid", "api_key": "k", "adminarn": "admin"}
        if name_prefix is not None:
            value["name_prefix"] = name_prefix
        return ApiKeySecret.parse(value, "test").prefix_for(ARN.format(which))

    assert prefix(None, "a") != prefix(None, "b")
    assert prefix("svc-", "a") != prefix("svc-", "b")
    assert prefix("svc-", "a").startswith("svc-") and prefix("svc-", "a").endswith("-")
    assert prefix("svc", "a") == prefix("svc-", "a")  # a separator is added when missing
    assert prefix("rotor-", "a") == prefix(None, "a")


def test_rotated_secret_cannot_send_the_admin_key_elsewhere(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    with FakeSendGrid() as elsewhere:
        secret = sendgrid_secret(base_url=elsewhere.base_url)
        before = secret.value(sm)
        report = rotor_apikey.rotate(secret.arn)
        assert elsewhere.requests == []  # the admin key never reached the other server
        assert secret.api.requests == []  # and nothing was called at all
        assert not report.succeeded
        errors = [s.error or "" for s in report.steps]
        assert all("key 'base_url' differs from the endpoint" in e for e in errors), errors
        assert all(f"Admin secret {secret.admin_arn}" in e for e in errors)
    assert secret.value(sm) == before
    with pytest.raises(sm.exceptions.ResourceNotFoundException):  # no pending value was made
        sm.get_secret_value(SecretId=secret.arn, VersionStage="AWSPENDING")
    assert secret.api.works(secret.initial.secret)


def test_rotated_secret_may_repeat_the_allowed_base_url(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    sendgrid: FakeSendGrid,
) -> None:
    secret = sendgrid_secret(base_url=sendgrid.base_url + "/")
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert secret.api.works(secret.value(sm)["api_key"])


def test_endpoint_defaults_to_the_provider_not_the_rotated_secret(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    """An admin secret without base_url allows only the provider's default endpoint."""
    with FakeSendGrid() as elsewhere:
        secret = sendgrid_secret(base_url=elsewhere.base_url)
        sm.put_secret_value(
            SecretId=secret.admin_arn,  # no base_url: the provider's default
            SecretString=json.dumps({"api_key": secret.admin_values[0], "provider": "sendgrid"}),
        )
        report = rotor_apikey.rotate(secret.arn)
        assert not report.succeeded
        assert "the default of provider 'sendgrid', https://api.sendgrid.com" in (
            report.steps[-1].error or ""
        )
        assert elsewhere.requests == []


def test_every_string_of_the_admin_secret_is_redacted(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    account = f"acct-{uuid.uuid4().hex}"
    nested = f"nested-{uuid.uuid4().hex}"
    secret = sendgrid_secret(admin_settings={"account": account, "extra": {"id": [nested]}})
    assert redactor.scrub(account) == account  # not key-like: unknown to the redactor so far
    assert rotor_apikey.rotate(secret.arn).succeeded
    assert account not in redactor.scrub(f"x {account} y")
    assert nested not in redactor.scrub(nested)
    assert redactor.scrub(secret.api.base_url) == secret.api.base_url  # configuration


# --- a rotation never widens a key ----------------------------------------------------------
def refused_before_any_key(sm: Any, report: Any, secret: KeySecret, message: str) -> str:
    """The rotation failed in createSecret with ``message``; no key was made, nothing moved."""
    assert not report.succeeded
    errors = [s.error or "" for s in report.steps]
    assert all(s.step == "createSecret" for s in report.steps)
    assert all(message in e for e in errors), errors
    assert secret.api.calls("create") == []
    assert secret.rotor_keys() == []
    assert secret.value(sm) == secret.initial_value
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=secret.arn, VersionStage="AWSPENDING")
    return errors[-1]


def test_rotated_secret_cannot_ask_for_scopes_the_current_key_lacks(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    """The app team writes admin scopes into its secret: no key is made with them."""
    secret = sendgrid_secret(scopes=["mail.send", *SENDGRID_ADMIN_SCOPES])
    error = refused_before_any_key(
        sm,
        rotor_apikey.rotate(secret.arn),
        secret,
        "beyond the scopes SendGrid reports for the current key",
    )
    assert ", ".join(sorted(SENDGRID_ADMIN_SCOPES)) in error
    assert "no key was made" in error


def test_without_scopes_the_new_key_gets_the_current_keys_not_full_access(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    secret = sendgrid_secret(scopes=None)
    for _ in range(2):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"], ["mail.send"]]
    assert "scopes" not in secret.value(sm)


def test_rotated_secret_may_narrow_the_scopes(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    secret = sendgrid_secret(
        initial_scopes=("mail.send", "stats.read", "templates.read"),
        scopes=["stats.read", "mail.send"],
    )
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert [k.scopes for k in secret.rotor_keys()] == [["stats.read", "mail.send"]]


def test_key_id_of_a_wider_key_does_not_widen_the_new_key(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    sendgrid: FakeSendGrid,
) -> None:
    """key_id is only a claim of the rotated secret: naming a full-access key's id (ids are in
    logs and key values) gains nothing, the key the secret really holds bounds the new one."""
    wide = sendgrid.add_key("someone-elses-full-access-key", scopes=SENDGRID_FULL_ACCESS)
    secret = sendgrid_secret(scopes=None, key_id=wide.key_id)
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"]]
    got = {r.path.rsplit("/", 1)[-1] for r in sendgrid.calls("get")}
    assert got == {secret.initial.key_id}  # the record of the key held, not the one claimed


def test_key_id_that_is_not_the_keys_own_is_ignored_for_the_proven_id(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A SendGrid key carries its id (SG.<id>.<secret>): a claimed key_id that differs is a
    mistake or an attack, and the new version records the proven id as previous_key_id."""
    secret = sendgrid_secret(key_id="no-such-key-id")
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert secret.value(sm)["previous_key_id"] == secret.initial.key_id
    assert "The secret's key_id is not the id of the key it holds" in caplog.text


def test_current_key_already_revoked_is_refused_not_replaced_by_a_wider_one(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    sendgrid: FakeSendGrid,
) -> None:
    secret = sendgrid_secret(scopes=None)
    sendgrid.keys.pop(secret.initial.key_id)
    refused_before_any_key(
        sm,
        rotor_apikey.rotate(secret.arn),
        secret,
        "key 'api_key' is not proven to be a live key of the sendgrid account of Admin secret",
    )


def test_admin_allowed_scopes_bound_the_new_key(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    wide = ("mail.send", "stats.read")
    admin = {"allowed_scopes": ["mail.send"]}
    inherited = sendgrid_secret(admin_settings=admin, initial_scopes=wide, scopes=None)
    error = refused_before_any_key(
        sm,
        rotor_apikey.rotate(inherited.arn),
        inherited,
        "the current key's scopes (narrow them with key 'scopes') "
        "asks for scopes beyond 'allowed_scopes' of Admin secret",
    )
    assert error.endswith("stats.read. A rotation never widens a key; no key was made.")

    asked = sendgrid_secret(admin_settings=admin, initial_scopes=wide, scopes=list(wide))
    calls = len(asked.api.requests)
    report = rotor_apikey.rotate(asked.arn)
    refused_before_any_key(
        sm, report, asked, "key 'scopes' asks for scopes beyond 'allowed_scopes' of Admin secret"
    )
    assert asked.api.requests[calls:] == []  # checked before any call

    narrowed = sendgrid_secret(admin_settings=admin, initial_scopes=wide, scopes=["mail.send"])
    report = rotor_apikey.rotate(narrowed.arn)
    assert report.succeeded, report.steps
    assert [k.scopes for k in narrowed.rotor_keys()] == [["mail.send"]]


def test_an_empty_scope_list_is_refused_not_sent(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    """SendGrid makes a full-access key when given no scopes."""
    secret = sendgrid_secret(scopes=[])
    refused_before_any_key(
        sm, rotor_apikey.rotate(secret.arn), secret, "the new key would have no scopes"
    )


# --- the admin secret pins the provider ------------------------------------------------------
@pytest.fixture
def elsewhere_preset() -> Any:
    """A provider registered in code whose default endpoint is another server."""
    with FakeSendGrid() as elsewhere:
        registry.register_provider(
            "acme-mail", HttpProvider.preset(SENDGRID_AS_DATA, base_url=elsewhere.base_url)
        )
        try:
            yield elsewhere
        finally:
            registry._providers.pop("acme-mail", None)


@pytest.mark.parametrize(
    ("admin", "message"),
    [
        ({"provider": "sendgrid"}, "key 'provider' differs from key 'provider' of Admin secret"),
        ({}, "key 'provider' is missing. Without 'base_url' the provider decides where"),
    ],
)
def test_rotated_secret_cannot_switch_the_provider_of_an_admin_secret_without_base_url(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Callable[..., KeySecret],
    elsewhere_preset: FakeSendGrid,
    admin: dict[str, Any],
    message: str,
) -> None:
    """A SendGrid admin secret relying on SendGrid's default endpoint: a rotated secret that
    names another provider would send the admin key to that provider's endpoint."""
    secret = sendgrid_secret(
        provider="acme-mail", admin_settings={"base_url": None, "provider": None, **admin}
    )
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    assert all(message in (s.error or "") for s in report.steps), report.steps
    assert elsewhere_preset.requests == []  # the admin key never left
    assert secret.api.requests == []
    assert secret.value(sm) == secret.initial_value


def test_rotated_secret_must_name_the_provider_the_admin_secret_pins(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    secret = sendgrid_secret(provider="datadog", admin_settings={"provider": "sendgrid"})
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    errors = [s.error or "" for s in report.steps]
    assert all(
        f"key 'provider' differs from key 'provider' of Admin secret {secret.admin_arn}" in e
        for e in errors
    ), errors
    assert secret.api.requests == []


def test_pinned_provider_is_compared_like_the_rotated_one_and_is_not_redacted(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Callable[..., KeySecret]
) -> None:
    secret = sendgrid_secret(provider="SendGrid ", admin_settings={"provider": "sendgrid"})
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert redactor.scrub("sendgrid mail.send") == "sendgrid mail.send"
