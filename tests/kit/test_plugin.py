"""rotor's pytest plugin, exercised as a user meets it: a test file of their own, run by a
pytest of its own (a subprocess) that loads the plugin from its entry point and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).parent / "redis_users" / "app.py"

USER_TESTS = f"""
import os

import boto3
import pytest
from rotor import secrets as rotor_secrets
from rotor.pytest_plugin import RemoteEndpointRefused

APP = {str(APP)!r}


def test_handlers_and_plain_clients_reach_the_local_moto(rotor_sm, rotor_secret):
    arn = rotor_secret({{"token": "t0ken-value"}}, name="mine")
    endpoint = rotor_sm.meta.endpoint_url
    assert endpoint.startswith("http://127.0.0.1:")
    assert os.environ["SECRETS_MANAGER_ENDPOINT"] == endpoint
    assert rotor_secrets.client().meta.endpoint_url == endpoint
    listed = boto3.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["ARN"] for s in listed] == [arn]


def test_only_fake_credentials_are_used():
    credentials = boto3.Session().get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("testing", "testing")
    assert "AWS_PROFILE" not in os.environ


def test_a_real_aws_endpoint_is_refused(rotor_sm):
    client = boto3.client("secretsmanager",
                          endpoint_url="https://secretsmanager.us-east-1.amazonaws.com")
    with pytest.raises(RemoteEndpointRefused, match="secretsmanager.us-east-1.amazonaws.com"):
        client.list_secrets()


def test_harness_and_check_of_a_handler_file(rotor_harness, rotor_check, rotor_secret,
                                             rotor_redis):
    admin = rotor_secret(rotor_redis.admin_secret())
    with rotor_redis.connect() as r:
        r.execute_command("ACL", "SETUSER", "app", "on", ">first-password", "+@connection")
    value = {{"host": rotor_redis.host, "port": rotor_redis.port, "username": "app",
             "password": "first-password", "ssl": False, "adminarn": admin}}
    report = rotor_harness(APP).rotate(rotor_secret(value))
    assert report.succeeded, report.steps
    assert not rotor_redis.logs_in("app", "wrong-password")
    rotor_check(APP + ":lambda_handler").structure()
"""


def test_a_user_test_file_needs_nothing_but_the_plugin(pytester, monkeypatch):
    # A laptop with real credentials: none of them may be used.
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-looking-secret")
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize(
    ("fixture", "hint"),
    [
        ("rotor_redis", "rotor_redis: No redis-server found: install Redis"),
        ("rotor_mariadb", "rotor_mariadb: No MariaDB server found"),
        ("rotor_rabbitmq", "rotor_rabbitmq: No rabbitmq-server found: install RabbitMQ"),
    ],
)
def test_a_server_not_installed_fails_with_what_to_install(pytester, monkeypatch, fixture, hint):
    monkeypatch.setenv("PATH", str(pytester.mkdir("empty-bin")))
    # /usr/sbin is searched too (not on every user's PATH): a conftest hides it.
    pytester.makeconftest("import rotor.local.rabbitmq as r\nr._SEARCH = ()\n")
    pytester.makepyfile(test_user=f"def test_needs_a_server({fixture}):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_needs_a_server*", f"{hint}*"])
    assert "Traceback" not in result.stdout.str()


def test_loading_the_plugin_loads_no_rotation_code():
    """pytest loads the plugin in every run where rotor[dev] is installed: it must stay light
    and leave rotor's logger and metrics unmade until a fixture runs (a conftest may still set
    POWERTOOLS_SERVICE_NAME)."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, rotor.pytest_plugin; print(sorted(m for m in "
            "sys.modules if m.startswith(('rotor.', 'aws_lambda_powertools', 'boto'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "['rotor._version', 'rotor.pytest_plugin']"  # _version: one constant
