"""SecretCredentials against moto: the cache, one read in flight, and the fallback order."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest
from rotor.client import CredentialsError, SecretCredentials

from tests.conftest import ROOT


@pytest.fixture
def reads(sm):
    """Counts GetSecretValue calls made through ``sm``."""
    seen = []

    def count(**kwargs):
        seen.append(kwargs["params"].get("VersionStage"))

    sm.meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", count)
    yield seen
    sm.meta.events.unregister("before-parameter-build.secrets-manager.GetSecretValue", count)


def put(sm, arn, value, stages=("AWSCURRENT",), token=None):
    kwargs = {"ClientRequestToken": token} if token else {}
    sm.put_secret_value(
        SecretId=arn, SecretString=json.dumps(value), VersionStages=list(stages), **kwargs
    )


def test_many_threads_one_read(sm, new_secret, reads):
    arn = new_secret({"username": "u", "password": "p1"})
    credentials = SecretCredentials(arn, client=sm)
    barrier = threading.Barrier(16)
    got = []

    def ask():
        barrier.wait()
        got.append(credentials.current()["password"])

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["p1"] * 16 and reads == ["AWSCURRENT"]


def test_the_cache_lives_for_its_ttl(sm, new_secret, reads):
    now = [0.0]
    arn = new_secret({"username": "u", "password": "p1"})
    credentials = SecretCredentials(arn, client=sm, ttl=60, clock=lambda: now[0])
    credentials.current()
    put(sm, arn, {"username": "u", "password": "p2"})
    now[0] = 59
    assert credentials.current()["password"] == "p1" and len(reads) == 1
    now[0] = 61
    assert credentials.current()["password"] == "p2" and len(reads) == 2


def test_after_rejection_current_first_then_pending(sm, new_secret, reads):
    arn = new_secret({"username": "u", "password": "p1"})
    credentials = SecretCredentials(arn, client=sm)
    first = credentials.current()
    assert credentials.after_rejection(first) is None  # nothing else: the failure is real
    put(sm, arn, {"username": "u", "password": "p2"}, stages=("AWSPENDING",))
    assert credentials.after_rejection(first)["password"] == "p2"  # single user, mid-rotation
    put(sm, arn, {"username": "u_clone", "password": "p3"})
    moved = credentials.after_rejection(first)
    assert (moved.stage, moved["username"]) == ("AWSCURRENT", "u_clone")  # the label moved


def test_a_missing_secret_is_a_clear_error_without_values(sm):
    credentials = SecretCredentials(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-x", client=sm
    )
    with pytest.raises(CredentialsError, match=r"cannot be read \(ResourceNotFoundException"):
        credentials.current()


def test_values_never_reach_the_log(sm, new_secret, caplog):
    caplog.set_level(logging.DEBUG, logger="rotor.client")
    arn = new_secret({"username": "u", "password": "first-secret-value"})
    credentials = SecretCredentials(arn, client=sm)
    first = credentials.current()
    put(sm, arn, {"username": "u", "password": "second-secret-value"}, stages=("AWSPENDING",))
    calls = []

    def attempt(credential):
        calls.append(credential)
        if credential["password"] == "first-secret-value":
            raise PermissionError("refused")
        return "ok"

    assert credentials.use(attempt, lambda exc: isinstance(exc, PermissionError)) == "ok"
    assert "trying AWSPENDING" in caplog.text and repr(first).startswith("Credential(")
    assert "secret-value" not in caplog.text + repr(first) + repr(calls)


def test_imports_with_boto3_alone():
    """An application installs `rotor` (boto3) only: the client imports no rotation code."""
    code = (
        "import sys; sys.modules.update(dict.fromkeys(['aws_lambda_powertools', 'psycopg',"
        " 'pymysql', 'requests', 'rotor.protocol'], None)); import rotor.client; "
        "import rotor.client.apikeys; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr
