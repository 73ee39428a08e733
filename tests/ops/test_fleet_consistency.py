"""The six fleet commands as an on-call engineer meets them: the same mistake gives the same
one-line answer and exit code everywhere, the same fact has the same JSON key, and a secret no
command may act on (scheduled for deletion, a rotation in progress) is refused in the same
words, before any request that would change it."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import uuid
from typing import Any

import pytest
from rotor.local.throttling_proxy import ThrottlingProxy

from tests.core.cli_support import DEV_ONLY, SCRIPT, without

pytestmark = pytest.mark.functional

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rotor-PostgresqlSingle"
SCHEDULE = ["--days", "7", "--function", f"postgresql-single={FUNCTION}"]

# Each fleet command with what it needs besides a selection; dry runs where they exist, so a
# command that wrongly went ahead would still change nothing.
COMMANDS = {
    "schedule": ["schedule", *SCHEDULE, "--dry-run"],
    "status": ["status"],
    "resume": ["resume", "--dry-run"],
    "cancel": ["cancel", "--dry-run"],
    "check": ["check", "--no-iam"],
    "rotate-all": ["rotate-all", "--dry-run"],
}


def state(sm: Any, arn: str) -> tuple[Any, ...]:
    meta = sm.describe_secret(SecretId=arn)
    return (
        bool(meta.get("RotationEnabled")),
        meta.get("RotationLambdaARN"),
        {v: sorted(s) for v, s in (meta.get("VersionIdsToStages") or {}).items()},
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_selection_matching_nothing_is_not_found_everywhere(rotor, command):
    ran = rotor(*COMMANDS[command], "--prefix", f"nothing-{uuid.uuid4().hex}/")
    assert ran.code == 4 and ran.out == ""
    assert "no secret matches the selection" in ran.error_line()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_from_file_names_the_file(rotor, command, tmp_path):
    listing = tmp_path / "names.txt"
    listing.write_text("# nobody yet\n\n")
    ran = rotor(*COMMANDS[command], "--from-file", str(listing))
    assert ran.code == 2 and ran.out == ""
    assert f"--from-file {listing} names no secret" in ran.error_line()


@pytest.mark.parametrize("command", ["resume", "rotate-all", "check"])
def test_rotator_without_local_is_a_usage_error(rotor, sm, new_secret, command):
    arn = new_secret({"engine": "postgres"})
    sm.put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])
    before = state(sm, arn)
    ran = rotor(command, arn, "--rotator", "postgresql-single")
    assert ran.code == 2 and ran.out == ""
    assert f"{command}: --rotator needs --local" in ran.error_line()
    assert state(sm, arn) == before


def test_a_secret_scheduled_for_deletion_is_refused_by_every_command_in_one_line(
    rotor, sm, new_secret
):
    arn = new_secret({"engine": "postgres"})
    sm.put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    before = state(sm, arn)
    why = "scheduled for deletion: restore it first (aws secretsmanager restore-secret)"
    for command in ("schedule", "resume", "cancel"):
        real = [a for a in COMMANDS[command] if a != "--dry-run"]
        doc = rotor(*real, arn, "--output", "json").json()
        assert doc["results"][0]["result"] == "failed"
        assert doc["results"][0]["detail"].startswith(why), command
    plan = rotor("rotate-all", arn, "--output", "json").json()["secrets"][0]
    assert plan["result"] == "refused" and plan["reason"].startswith(why)
    status = rotor("status", arn, "--output", "json").json()["secrets"][0]
    assert status["state"] == "deleted" and status["deleted"] is not None
    assert state(sm, arn) == before


def test_a_rotation_in_progress_is_refused_in_the_same_words(rotor, sm, new_secret):
    arn = new_secret({"engine": "postgres"})
    pending = sm.put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    schedule = rotor("schedule", arn, *SCHEDULE, "--output", "json").json()["results"][0]
    rotate_all = rotor("rotate-all", arn, "--dry-run", "--output", "json").json()["secrets"][0]
    assert schedule["detail"] == rotate_all["reason"]
    assert pending in schedule["detail"] and "`rotor resume`" in schedule["detail"]
    assert "`rotor cancel`" in schedule["detail"]


def test_every_per_secret_entry_names_its_secret_and_arn_with_the_same_keys(rotor, sm, new_secret):
    arn = new_secret({"engine": "postgres"})
    name = sm.describe_secret(SecretId=arn)["Name"]
    entries = {
        "schedule": rotor(*COMMANDS["schedule"], arn, "--output", "json").json()["results"],
        "resume": rotor(*COMMANDS["resume"], arn, "--output", "json").json()["results"],
        "cancel": rotor(*COMMANDS["cancel"], arn, "--output", "json").json()["results"],
        "status": rotor("status", arn, "--output", "json").json()["secrets"],
        "check": rotor("check", arn, "--no-iam", "--output", "json").json()["secrets"],
        "rotate-all": rotor(*COMMANDS["rotate-all"], arn, "--output", "json").json()["secrets"],
    }
    for command, listed in entries.items():
        assert [(e["secret"], e["arn"]) for e in listed] == [(name, arn)], command


def test_a_value_that_cannot_tell_its_rotator_is_refused_in_the_same_words(rotor, sm, new_secret):
    arn = new_secret({"engine": "postgres"})
    sm.put_secret_value(SecretId=arn, SecretString="not json at all")
    schedule = rotor("schedule", arn, *SCHEDULE, "--dry-run", "--output", "json").json()
    local = rotor("rotate-all", arn, "--local", "--dry-run", "--output", "json").json()
    assert local["secrets"][0]["result"] == "refused"
    assert local["secrets"][0]["reason"] == schedule["results"][0]["detail"]
    assert "AWSCURRENT is not a JSON object" in local["secrets"][0]["reason"]
    check = rotor("check", arn, "--local", "--no-iam", "--output", "json").json()["secrets"][0]
    assert [(c["check"], c["status"]) for c in check["checks"]] == [("rotator", "fail")]
    assert check["checks"][0]["reason"] == schedule["results"][0]["detail"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_table_without_a_terminal_keeps_each_secret_on_one_line(
    rotor, sm, new_secret, command, monkeypatch
):
    monkeypatch.delenv("COLUMNS", raising=False)
    arn = new_secret({"engine": "postgres"})
    name = sm.describe_secret(SecretId=arn)["Name"]
    ran = rotor(*COMMANDS[command], arn)
    rows = [line for line in ran.out.splitlines() if line.startswith(name)]
    assert rows and all(len(row.split()) > 1 for row in rows[:1]), ran.out


def test_a_deleted_secret_with_nothing_in_progress_is_unchanged_by_resume_and_cancel(
    rotor, sm, new_secret
):
    arn = new_secret({"engine": "postgres"})
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    for command in ("resume", "cancel"):
        ran = rotor(command, arn, "--output", "json")
        assert ran.code == 0 and ran.json()["results"][0]["result"] == "unchanged", command


def configured(sm: Any, arn: str) -> None:
    """Rotation on with FUNCTION, nothing in progress (moto stores the settings, fails to find
    the function and leaves its own AWSPENDING version, removed here as AWS would)."""
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=FUNCTION,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    for version, labels in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
        if labels == ["AWSPENDING"]:
            sm.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )


def test_an_aws_refusal_reads_the_same_in_schedule_and_rotate_all(
    rotor, sm, new_secret, aws_endpoint
):
    arn = new_secret({"engine": "postgres"})
    configured(sm, arn)
    aws_endpoint.fail("RotateSecret", "AccessDeniedException", "not authorized to rotate")
    schedule = rotor(
        "schedule", arn, "--days", "3", "--function", f"postgresql-single={FUNCTION}",
        "--output", "json", endpoint=aws_endpoint.url,
    ).json()["results"][0]  # fmt: skip
    rotate_all = rotor("rotate-all", arn, "--output", "json", endpoint=aws_endpoint.url)
    assert rotate_all.code == 1
    (entry,) = rotate_all.json()["secrets"]
    assert entry["result"] == "failed"
    assert entry["reason"] == schedule["detail"]
    assert entry["reason"] == "RotateSecret: AccessDeniedException: not authorized to rotate"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_mistyped_option_is_told_by_its_command_with_the_option_meant(rotor, command):
    ran = rotor(*COMMANDS[command], "--all", "--prefx=app/")
    assert ran.code == 2 and ran.out == ""
    assert ran.error_line() == (
        f"rotor: {command}: unrecognized arguments: --prefx=app/; did you mean --prefix? "
        f"(see `rotor {command} --help`)"
    )


class HeldOnce:
    """Holds the first call of ``operation`` until released, then lets it through: a request
    certainly under way when the test presses Ctrl-C."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.reached, self.release = threading.Event(), threading.Event()

    def throttle(self, operation: str) -> bool:
        if operation == self.operation and not self.reached.is_set():
            self.reached.set()
            self.release.wait(60)
        return False


def test_ctrl_c_in_a_batch_still_reports_which_secrets_were_reached(moto_endpoint, sm, new_secret):
    run = f"cc{uuid.uuid4().hex[:8]}"
    arns = []
    for n in range(3):
        arns.append(new_secret({"engine": "postgres"}, f"{run}/s{n}"))
        sm.put_secret_value(SecretId=arns[-1], SecretString="{}", VersionStages=["AWSPENDING"])
    before = {arn: state(sm, arn) for arn in arns}
    policy = HeldOnce("UpdateSecretVersionStage")
    with ThrottlingProxy(moto_endpoint, policy) as proxy:
        command = [str(SCRIPT), "cancel", "--prefix", f"{run}/", "--output", "json",
                   "--endpoint-url", proxy.endpoint]  # fmt: skip
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as cli:
            assert policy.reached.wait(60), "the first cancel never reached the endpoint"
            cli.send_signal(signal.SIGINT)
            policy.release.set()
            out, err = cli.communicate(timeout=60)
    assert cli.returncode == 130
    assert err.splitlines() == [
        "rotor: interrupted: 0 done, 1 cut short (it may have been done), 2 not started: "
        "the report says which"
    ]
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert [(r["secret"], r["result"]) for r in doc["results"]] == [
        (f"{run}/s0", "interrupted"),
        (f"{run}/s1", "not_started"),
        (f"{run}/s2", "not_started"),
    ]
    assert doc["summary"]["not_started"] == 2
    assert [state(sm, arn) for arn in arns[1:]] == [before[arn] for arn in arns[1:]]


def test_resume_and_its_mistakes_need_only_the_cli_extra(moto_endpoint, sm, new_secret, tmp_path):
    arn = new_secret({"engine": "postgres"})
    configured(sm, arn)
    sm.put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])
    loaded = tmp_path / "modules.json"
    endpoint = ["--endpoint-url", moto_endpoint]
    ran = without(DEV_ONLY, "resume", arn, "--dry-run", "--output", "json", *endpoint,
                  report=loaded)  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.json()["results"][0]["result"] == "planned"
    assert not {m.split(".")[0] for m in json.loads(loaded.read_text())} & set(DEV_ONLY)
    empty = without(DEV_ONLY, "cancel", "--prefix", f"none-{uuid.uuid4().hex}/", *endpoint)
    assert empty.code == 4 and empty.error_line().startswith("rotor: no secret matches")


def test_a_secret_left_alone_is_unchanged_with_action_none_everywhere(rotor, new_secret):
    arn = new_secret({"engine": "postgres"})  # rotation off, nothing in progress
    for args in (["schedule", "--remove"], ["resume"], ["cancel"]):
        (entry,) = rotor(*args, arn, "--output", "json").json()["results"]
        assert (entry["action"], entry["result"]) == ("none", "unchanged"), args


def test_a_malformed_region_is_named_as_the_region(rotor):
    ran = rotor("status", "--all", "--region", "us_east!1")
    assert ran.code == 2 and ran.out == ""
    assert ran.error_line() == (
        "rotor: invalid region 'us_east!1' (from --region, AWS_REGION or the profile): give one "
        "such as us-east-1"
    )


def test_the_commands_with_dry_run_and_local_say_so_with_the_same_keys(rotor, new_secret):
    arn = new_secret({"engine": "postgres"})
    for command in ("schedule", "resume", "cancel", "rotate-all"):
        doc = rotor(*COMMANDS[command], arn, "--output", "json").json()
        assert doc["dry_run"] is True, command
        assert doc.get("local", False) is False, command
        assert doc["interrupted"] is False, command
    for command in ("schedule", "resume", "rotate-all"):  # the ones with --local
        assert "local" in rotor(*COMMANDS[command], arn, "--output", "json").json(), command
