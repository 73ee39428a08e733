"""SendGrid API keys rotated by the real handler against a fake SendGrid over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from rotor.apikeys import ApiKeyRotator
from rotor.apikeys.http import HttpSettings
from rotor.local.harness import STEPS, Harness

from tests.apikey.conftest import KeySecret
from tests.helpers import stages


def scopes_status(api: Any, key: str) -> int:
    """What SendGrid answers a client using ``key`` (200 live, 401 revoked)."""
    response = requests.get(
        f"{api.base_url}/v3/scopes", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    return response.status_code


def test_three_rotations_keep_current_and_previous_and_revoke_the_one_before(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    api = secret.api
    generations = [secret.initial.secret]
    for _ in range(3):
        report = rotor_apikey.rotate(secret.arn)
        assert report.succeeded, report.steps
        current = secret.value(sm)
        generations.append(current["api_key"])
        assert scopes_status(api, current["api_key"]) == 200
        assert secret.value(sm, "AWSPREVIOUS")["api_key"] == generations[-2]
        assert scopes_status(api, generations[-2]) == 200
        assert current["key_id"] != secret.value(sm, "AWSPREVIOUS")["key_id"]
        assert current["previous_key_id"] == secret.value(sm, "AWSPREVIOUS")["key_id"]
        assert current["scopes"] == ["mail.send"]  # every other key kept
    for revoked in generations[:-2]:
        assert scopes_status(api, revoked) == 401
        assert not api.works(revoked)
    live = {k.secret for k in api.live_keys()}
    assert live == {*secret.admin_values, *generations[-2:]}
    assert [k.scopes for k in secret.rotor_keys()] == [["mail.send"], ["mail.send"]]
    assert len(api.calls("create")) == 3


def test_each_step_replayed_twice_creates_no_extra_key(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    token = rotor_apikey.start(secret.arn)
    for step in STEPS:
        for _ in range(2):
            result = rotor_apikey.invoke(secret.arn, token, step)
            assert result.error is None, result
    assert "AWSCURRENT" in stages(sm, secret.arn)[token]
    assert len(secret.api.calls("create")) == 1
    assert [k.name for k in secret.rotor_keys()] == [secret.prefix() + token]
    assert secret.api.works(secret.value(sm)["api_key"])
    assert secret.api.works(secret.initial.secret)  # AWSPREVIOUS keeps working


def test_key_made_but_not_stored_is_replaced_not_leaked(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any, put_fails_once: None
) -> None:
    """createSecret dies between the provider's create and PutSecretValue: the retry finds the
    key by its name (the token). SendGrid never shows a key twice, so it is revoked and made
    again: one key per token at the provider at any time."""
    secret: KeySecret = sendgrid_secret()
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert report.attempts == 2
    created = [r for r in secret.api.calls("create") if r.status == 201]
    assert len(created) == 2
    assert len([r for r in secret.api.calls("revoke") if r.status == 204]) == 1
    assert [k.secret for k in secret.rotor_keys()] == [secret.value(sm)["api_key"]]


def test_create_failing_leaves_current_working_and_a_retry_converges(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    secret.api.fail("create", times=3, status=500)
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    assert all(s.step == "createSecret" for s in report.steps)
    assert "500" in (report.steps[-1].error or "")
    assert secret.value(sm)["api_key"] == secret.initial.secret
    assert secret.api.works(secret.initial.secret)
    assert secret.rotor_keys() == []

    retried = rotor_apikey.resume(secret.arn, report.token)
    assert retried.succeeded, retried.steps
    assert secret.api.works(secret.value(sm)["api_key"])
    assert len(secret.rotor_keys()) == 1


def test_verify_failing_leaves_current_working_and_a_retry_converges(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    """The new key is refused three times (as while a new key propagates): nothing moves."""
    secret: KeySecret = sendgrid_secret()
    token = rotor_apikey.start(secret.arn)
    # createSecret reads the current key's scopes with GET /v3/scopes too: refuse only later
    assert rotor_apikey.invoke(secret.arn, token, "createSecret").error is None
    secret.api.fail("verify", times=3, status=401)
    report = rotor_apikey.resume(secret.arn, token)
    assert not report.succeeded
    assert report.steps[-1].step == "testSecret"
    assert "rejected the new API key (401)" in (report.steps[-1].error or "")
    assert secret.value(sm)["api_key"] == secret.initial.secret
    assert secret.api.works(secret.initial.secret)

    retried = rotor_apikey.resume(secret.arn, report.token)
    assert retried.succeeded, retried.steps
    assert len(secret.api.calls("create")) == 1  # the pending key was kept, not remade
    assert secret.api.works(secret.value(sm)["api_key"])


def test_revoke_failing_after_the_move_converges_on_retry(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    assert rotor_apikey.rotate(secret.arn).succeeded
    first = secret.value(sm)["api_key"]
    # 3 harness attempts x 3 HTTP attempts (DELETE is retried on 5xx): every try fails.
    secret.api.fail("revoke", times=9, status=503)
    report = rotor_apikey.rotate(secret.arn)
    assert not report.succeeded
    assert report.steps[-1].step == "finishSecret"
    assert "503" in (report.steps[-1].error or "")
    current = secret.value(sm)["api_key"]
    assert secret.api.works(current) and secret.api.works(first)
    assert secret.api.works(secret.initial.secret)  # not revoked yet: nothing lost

    retried = rotor_apikey.resume(secret.arn, report.token)
    assert retried.succeeded, retried.steps
    assert not secret.api.works(secret.initial.secret)
    assert secret.api.works(current) and secret.api.works(first)


@pytest.fixture
def waits(harness: Any) -> tuple[Harness, list[float]]:
    """The real rotator with a sleep that records each wait and refuses one beyond the cap
    (ROTOR_HTTP_MAX_WAIT, default 20 s): a broken cap fails the test at once, never hangs it."""
    asked: list[float] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        if seconds > HttpSettings().max_wait:
            raise AssertionError(f"asked to sleep {seconds} s, beyond the cap")

    return harness(ApiKeyRotator(sleep=sleep).handler), asked


def test_rate_limit_retry_after_is_honoured(
    waits: tuple[Harness, list[float]], sendgrid_secret: Any
) -> None:
    rotator, asked = waits
    secret: KeySecret = sendgrid_secret()
    secret.api.fail("create", times=1, status=429, retry_after=1)
    report = rotator.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert report.attempts == 1  # absorbed inside the step, not a failed step
    limited, created = secret.api.calls("create")
    assert (limited.status, created.status) == (429, 201)
    assert asked == [1.0]  # Retry-After, not the back-off


def test_rate_limit_longer_than_the_cap_fails_the_step_at_once(
    waits: tuple[Harness, list[float]], sendgrid_secret: Any
) -> None:
    rotator, asked = waits
    secret: KeySecret = sendgrid_secret()
    secret.api.fail("create", times=1, status=429, retry_after=3600)
    report = rotator.rotate(secret.arn)
    assert "asks to wait 3600 s" in (report.steps[0].error or ""), report.steps[0].error
    assert asked == []
    assert report.succeeded, report.steps  # the retried rotation is not rate limited
    assert len(secret.rotor_keys()) == 1


def test_abandoned_rotation_key_is_swept_by_the_next_finish(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    secret: KeySecret = sendgrid_secret()
    token = rotor_apikey.start(secret.arn)
    assert rotor_apikey.invoke(secret.arn, token, "createSecret").error is None
    orphan = secret.value(sm, "AWSPENDING")["api_key"]
    sm.update_secret_version_stage(
        SecretId=secret.arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )  # an operator gives up on it
    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert not secret.api.works(orphan)
    assert [k.secret for k in secret.rotor_keys()] == [secret.value(sm)["api_key"]]
    assert secret.api.works(secret.initial.secret)  # AWSPREVIOUS


def test_sweep_spares_the_key_of_a_rotation_that_just_started(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any
) -> None:
    """A retried finishSecret of the last rotation runs while the next one has created its
    key: that key's version is AWSPENDING, so the sweep leaves it alone."""
    secret: KeySecret = sendgrid_secret()
    done = rotor_apikey.rotate(secret.arn)
    assert done.succeeded, done.steps
    token = rotor_apikey.start(secret.arn)
    assert rotor_apikey.invoke(secret.arn, token, "createSecret").error is None
    assert rotor_apikey.invoke(secret.arn, done.token, "finishSecret").error is None
    pending = secret.value(sm, "AWSPENDING")["api_key"]
    assert secret.api.works(pending)
    report = rotor_apikey.resume(secret.arn, token)
    assert report.succeeded, report.steps
    assert secret.value(sm)["api_key"] == pending and secret.api.works(pending)


def test_no_key_value_reaches_logs_or_errors(
    sm: Any,
    rotor_apikey: Harness,
    sendgrid_secret: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret: KeySecret = sendgrid_secret()
    secret.api.fail("verify", times=1, status=401)
    secret.api.fail("create", times=1, status=429, retry_after=0)
    reports = [rotor_apikey.rotate(secret.arn) for _ in range(2)]
    assert all(r.succeeded for r in reports)
    out = capsys.readouterr()
    text = "\n".join(
        [out.out, out.err, caplog.text, *(s.error or "" for r in reports for s in r.steps)]
    )
    assert "Rotation step failed" in text  # the refused key (GET /v3/scopes) was logged...
    values = [
        secret.initial.secret,
        *secret.admin_values,
        secret.value(sm)["api_key"],
        secret.value(sm, "AWSPREVIOUS")["api_key"],
    ]
    for value in values:
        assert value not in text  # ...without any key in it


def test_more_than_a_hundred_keys_are_all_listed(
    sm: Any, rotor_apikey: Harness, sendgrid_secret: Any, put_fails_once: None
) -> None:
    """SendGrid documents only ``limit`` for GET /v3/api_keys (no offset or cursor): rotor
    asks for enough that a retried createSecret finds its own key after 150 others, and the
    sweep sees that far too."""
    secret: KeySecret = sendgrid_secret()
    api = secret.api
    api.max_keys = 1000  # above SendGrid's documented 100 per account
    for n in range(150):
        api.add_key(f"other-team-{n}", scopes=["mail.send"])
    admin = {"Authorization": f"Bearer {secret.admin_values[0]}"}
    listed = requests.get(
        f"{api.base_url}/v3/api_keys", params={"limit": "100"}, headers=admin, timeout=5
    ).json()["result"]
    assert len(listed) == 100  # the fake honours limit: the first 100 only

    report = rotor_apikey.rotate(secret.arn)
    assert report.succeeded, report.steps
    assert report.attempts == 2
    assert len([r for r in api.calls("revoke") if r.status == 204]) == 1
    assert [k.secret for k in secret.rotor_keys()] == [secret.value(sm)["api_key"]]
    assert len(api.live_keys("other-team-")) == 150
