"""rotor.client.apikeys: an application's key keeps working through rotations."""

from __future__ import annotations

import requests
from rotor.client import SecretCredentials
from rotor.client.apikeys import ApiKey


def test_api_key_refused_after_its_revocation_is_replaced(sm, rotor_apikey, sendgrid_secret):
    secret = sendgrid_secret()
    key = ApiKey(SecretCredentials(secret.arn, client=sm, ttl=3600))
    url = f"{secret.api.base_url}/v3/scopes"

    def call(value):
        return requests.get(url, headers={"Authorization": f"Bearer {value}"}, timeout=5)

    assert call(key.get()).status_code == 200
    for _ in range(3):  # the cached key is two generations old: revoked
        assert rotor_apikey.rotate(secret.arn).succeeded
    assert call(secret.initial.secret).status_code == 401
    assert key.call(call).status_code == 200  # refreshed once, the current key


def test_api_key_rotator_passes_the_configuration_test(sm, rotor_apikey, sendgrid_secret):
    secret = sendgrid_secret()
    before = secret.value(sm)
    report = rotor_apikey.test_configuration(secret.arn)
    assert report.succeeded, report.steps
    assert secret.value(sm) == before and secret.api.works(before["api_key"])
    assert len(secret.rotor_keys()) == 0  # no key made
