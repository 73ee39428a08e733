"""What a new user ran into, each now a clear one-line error with its own exit code (or the
thing working): the handler named wrongly or as Lambda names it, no credentials, a missing
secret, no moto, a failed rotation left in progress, a permanent error, noisy handler logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rotor.local.harness import Harness
from rotor.local.servers import free_port

from tests.conftest import ROOT, handler
from tests.core.cli_support import run, script
from tests.helpers import secret_value, stages
from tests.pg import logs_in, pg_secret

SINGLE = "postgresql-single"


@pytest.fixture
def rotate(capsys, moto_endpoint):
    def call(*args: str):
        return run(capsys, "rotate", *args, "--endpoint-url", moto_endpoint)

    return call


def test_a_wrong_handler_path_is_not_found(rotate, sm, new_secret):
    arn = new_secret({"anything": "here"})
    ran = rotate(arn, "--handler", "rotators/postgresql_single/ap.py:lambda_handler")
    assert ran.code == 4
    assert ran.error_line() == "rotor: no handler file rotators/postgresql_single/ap.py"
    assert list(stages(sm, arn).values()) == [["AWSCURRENT"]]  # nothing started


def test_a_wrong_function_name_is_not_found_and_the_right_one_suggested(rotate, new_secret):
    ran = rotate(
        new_secret({"a": "b"}), "--handler", "rotators/postgresql_single/app.py:lambda_handlr"
    )
    assert ran.code == 4
    assert ran.error_line() == (
        "rotor: rotators/postgresql_single/app.py has no function "
        "'lambda_handlr'; did you mean 'lambda_handler'?"
    )


def test_a_missing_handler_module_is_not_found(rotate, new_secret):
    ran = rotate(new_secret({"a": "b"}), "--handler", "no_such_package.app.lambda_handler")
    assert ran.code == 4
    assert ran.error_line().startswith("rotor: no handler module no_such_package.app ")


def test_a_handler_whose_module_fails_to_import_fails_the_rotation(rotate, new_secret, tmp_path):
    broken = tmp_path / "app.py"
    broken.write_text("raise RuntimeError('the init failed')\n")
    ran = rotate(new_secret({"a": "b"}), "--handler", str(broken))
    assert ran.code == 1
    assert "RuntimeError: the init failed" in ran.error_line()


@pytest.mark.parametrize(
    "spec, cwd",
    [
        ("rotators/postgresql_single/app.lambda_handler", ROOT),  # Lambda's subfolder form
        ("rotators.postgresql_single.app.lambda_handler", ROOT),  # pkg.module.func
        ("app.lambda_handler", ROOT / "rotators" / "postgresql_single"),  # Lambda's plain form
    ],
)
def test_lambda_handler_syntax_rotates(
    spec, cwd, rotate, pg, sm, new_secret, make_role, monkeypatch
):
    monkeypatch.chdir(cwd)
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    ran = rotate(arn, "--handler", spec)
    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[-1] == "rotation succeeded" and ran.err == ""
    assert logs_in(pg, user, secret_value(sm, arn)["password"])


def test_no_credentials(moto_endpoint, new_secret, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    ran = script(
        "rotate",
        new_secret({"a": "b"}),
        "--rotator",
        SINGLE,
        "--endpoint-url",
        moto_endpoint,
        env=env,
    )
    assert ran.code == 6
    line = ran.error_line()
    assert line.startswith("rotor: no AWS credentials found") and "AWS_ACCESS_KEY_ID" in line


def test_a_missing_secret_is_not_found(rotate, moto_endpoint):
    ran = rotate("no-such-secret", "--rotator", SINGLE)
    assert ran.code == 4
    assert ran.error_line() == f"rotor: secret 'no-such-secret' not found in {moto_endpoint}"


def test_moto_not_running(capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ran = run(capsys, "rotate", "any-secret", "--rotator", SINGLE, "--endpoint-url", endpoint)
    assert ran.code == 6
    assert ran.error_line().startswith(
        f"rotor: cannot reach {endpoint}: is a moto server running there (`rotor moto-server`)?"
    )


def test_a_failed_rotation_is_resumed_with_its_token(rotate, pg, sm, new_secret, make_role):
    """The first rotation fails (the secret's password is not the database's), which leaves
    AWSPENDING behind; once the database is fixed, the next `rotor rotate` reattempts that
    rotation with its token, as Secrets Manager does."""
    user, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, user, "not-the-password-1"))
    failed = rotate(arn, "--rotator", SINGLE, "--attempts", "1")
    assert failed.code == 1
    (pending,) = [v for v, s in stages(sm, arn).items() if s == ["AWSPENDING"]]
    assert pending in failed.error_line() and "`rotor rotate` reattempts" in failed.error_line()

    with pg.connect() as conn:  # the fix: the database now has the secret's password
        conn.execute(f"ALTER ROLE {user} PASSWORD 'not-the-password-1'")
    resumed = rotate(arn, "--rotator", SINGLE, "--output", "json")
    assert resumed.code == 0, resumed.err
    doc = resumed.json()
    assert doc["resumed"] is True and doc["token"] == pending and doc["succeeded"] is True
    assert stages(sm, arn)[pending] == ["AWSCURRENT"]
    assert logs_in(pg, user, secret_value(sm, arn)["password"])

    again = rotate(arn, "--rotator", SINGLE)  # a new rotation: nothing left to resume
    assert again.code == 0 and "A previous rotation" not in again.out


def test_the_resume_is_announced(rotate, pg, sm, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    token = Harness(sm, handler("postgresql_single")).start(arn)  # left as a crash leaves it
    ran = rotate(arn, "--rotator", SINGLE)
    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == (
        f"A previous rotation isn't complete. That rotation will be reattempted (token {token})."
    )
    assert "AWSCURRENT" in stages(sm, arn)[token]


def test_cancel_removes_a_stale_pending_and_says_which(rotate, sm, new_secret):
    arn = new_secret({"anything": "here"})
    before = stages(sm, arn)
    token = Harness(sm, handler("postgresql_single")).start(arn)
    ran = rotate(arn, "--cancel")
    assert ran.code == 0 and ran.err == ""
    assert ran.out.startswith(f"removed AWSPENDING from version {token}: ")
    assert {v: s for v, s in stages(sm, arn).items() if s} == before
    ran = rotate(arn, "--cancel", "--output", "json")
    assert ran.code == 0 and ran.json() == {"secret_id": arn, "removed": None, "versions": before}


def test_cancel_leaves_pending_on_current_alone(rotate, sm, new_secret):
    arn = new_secret({"anything": "here"})
    (current,) = stages(sm, arn)
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", MoveToVersionId=current)
    ran = rotate(arn, "--cancel")
    assert ran.code == 0 and "Nothing removed" in ran.out
    assert stages(sm, arn)[current] == ["AWSCURRENT", "AWSPENDING"]


def test_a_permanent_error_is_shown_once_and_not_retried(rotate, sm, new_secret):
    arn = new_secret({"engine": "postgres", "host": "127.0.0.1", "username": "u"})  # no password
    ran = rotate(arn, "--rotator", SINGLE)
    assert ran.code == 1
    assert (ran.out + ran.err).count("key 'password'") == 1
    assert ran.out.count("attempt ") == 1 and "(permanent: not retried)" in ran.out
    assert ran.error_line().startswith(
        "rotor: rotation failed: createSecret failed with a permanent error, not retried"
    )


def test_handler_logs_only_with_verbose(rotate, new_secret):
    arn = new_secret({"engine": "postgres", "host": "127.0.0.1", "username": "u"})
    quiet = rotate(arn, "--rotator", SINGLE)
    assert quiet.code == 1
    quiet.error_line()  # the only line on stderr: no handler ERROR log
    verbose = rotate(arn, "--rotator", SINGLE, "-v")
    assert verbose.code == 1
    assert '"level":"ERROR"' in verbose.err and "Rotation step failed" in verbose.err
    assert '"level"' not in verbose.out  # stdout carries rotor's own output only
    assert verbose.err.splitlines()[-1].startswith("rotor: rotation failed")


def test_a_secret_marked_for_deletion_is_a_conflict(rotate, sm, new_secret):
    arn = new_secret({"anything": "here"})
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    ran = rotate(arn, "--rotator", SINGLE)
    assert ran.code == 5
    assert ran.error_line().startswith("rotor: RotateSecret refused (InvalidRequestException)")


def test_rotator_names_in_one_spelling_either_accepted(
    rotate, capsys, pg, sm, new_secret, make_role
):
    unknown = rotate("x", "--rotator", "mysql_alternatin")
    assert unknown.code == 4
    known = unknown.error_line().partition("(known: ")[2]
    assert "mysql-alternating" in known and "_" not in known
    listed = run(capsys, "rotators", "--output", "json").json()["rotators"]
    assert {r["name"] for r in listed} >= {"mysql-alternating", "postgresql-single"}
    assert all("_" not in r["name"] for r in listed)
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    assert rotate(arn, "--rotator", "postgresql_single").code == 0  # the folder's spelling


def test_the_local_harness_refuses_a_remote_endpoint(capsys, new_secret):
    ran = run(
        capsys,
        "rotate",
        "x",
        "--rotator",
        SINGLE,
        "--endpoint-url",
        "https://secretsmanager.us-east-1.amazonaws.com",
    )
    assert ran.code == 2
    assert "only talks to moto on this machine" in ran.error_line()


def test_a_handler_of_ones_own_by_path_and_function(
    rotate, pg, sm, new_secret, make_role, tmp_path: Path
):
    """A handler of one's own, outside the repository, by path and function."""
    own = tmp_path / "mine.py"
    own.write_text(
        "from rotor.databases import SingleUser\n"
        "from rotor.databases.postgresql import PostgreSQL\n"
        "handle = SingleUser(PostgreSQL()).handler\n"
    )
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    ran = rotate(arn, "--handler", f"{own}:handle")
    assert ran.code == 0, ran.err
