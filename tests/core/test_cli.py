"""The `rotor` command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.helpers import secret_value
from tests.pg import logs_in, pg_secret


def rotor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotor.cli", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def test_rotate_command(pg, sm, moto_endpoint, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    done = rotor("rotate", arn, "--rotator", "postgresql-single", "--endpoint-url", moto_endpoint)
    assert done.returncode == 0, done.stderr
    assert "finishSecret" in done.stdout and "rotation succeeded" in done.stdout
    new = secret_value(sm, arn)["password"]
    assert logs_in(pg, user, new) and not logs_in(pg, user, old)
    assert old not in done.stdout + done.stderr and new not in done.stdout + done.stderr


def test_rotate_command_reports_failure(pg, sm, moto_endpoint, new_secret, make_role):
    user, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, user, "wrong-password-here"))
    done = rotor(
        "rotate",
        arn,
        "--rotator",
        "postgresql-single",
        "--endpoint-url",
        moto_endpoint,
        "--attempts",
        "2",
    )
    assert done.returncode == 1
    assert done.stdout.count("FAILED") == 2 + 1  # two attempts, then the verdict
    assert done.stderr.startswith("rotor: rotation failed: setSecret still failed after 2 ")
    assert "wrong-password-here" not in done.stdout + done.stderr


def test_rotate_refuses_without_a_local_endpoint():
    done = rotor(
        "rotate",
        "x",
        "--rotator",
        "postgresql-single",
        SECRETS_MANAGER_ENDPOINT="",
        AWS_ENDPOINT_URL="",
        AWS_ENDPOINT_URL_SECRETS_MANAGER="",
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "rotor: `rotor rotate` needs --endpoint-url (a moto server, e.g. "
        "`rotor moto-server`): the harness never calls real AWS\n"
    )


def test_demo_runs_real_rotations():
    done = rotor("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All rotations succeeded" in done.stdout
    assert "✔ the old password is rejected" in done.stdout
    assert "✘" not in done.stdout and "initial-Password" not in done.stdout


def test_rotators_are_listed():
    done = rotor("rotators")
    assert done.returncode == 0
    assert "postgresql-single" in done.stdout and "postgresql-alternating" in done.stdout
