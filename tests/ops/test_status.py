"""`rotor status` and the stuck rotations it finds, resumed (`rotor resume`) or given up
(`rotor cancel`): states from moto's real stages, RotationFailed from a real CloudTrail endpoint
on 127.0.0.1 (moto has none), and what happens when CloudTrail cannot be read."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rotor.cli.aws import Aws
from rotor.cli.cloudtrail import Failures
from rotor.cli.local_runs import LocalRuns
from rotor.cli.rotation_rules import Schedule
from rotor.cli.rotation_state import status_of
from rotor.cli.selection import Secret
from rotor.local.harness import Harness

from tests.conftest import handler
from tests.core.cli_support import DEV_ONLY, without
from tests.helpers import secret_value, stages
from tests.ops.aws_endpoint import rotation_failed
from tests.pg import logs_in, pg_secret

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rotor-PostgresqlSingle"
REATTEMPTED = "A previous rotation isn't complete. That rotation will be reattempted."
KEYS = {
    "secret", "name", "arn", "deleted", "rotation_enabled", "function", "schedule",
    "last_rotated", "next_rotation", "next_rotation_estimated", "state", "problems", "pending",
    "last_failure", "failures_unknown",
}  # fmt: skip


def schedule(sm: Any, arn: str, days: int = 30) -> None:
    """Rotation on, as `rotor schedule` stores it (moto knows no function to invoke)."""
    LocalRuns("test", sm, Aws(None, None, None), False).store(
        arn, FUNCTION, {"AutomaticallyAfterDays": days}
    )


@pytest.fixture
def fleet(sm: Any, new_secret: Any) -> dict[str, str]:
    """Four secrets: rotating fine, off, stuck in a rotation, and rotating but failed."""
    run = f"st{uuid.uuid4().hex[:8]}"
    value = {"engine": "postgres", "username": "u", "password": "p"}
    arns = {name: new_secret(value, f"{run}/{name}") for name in ("ok", "off", "pending", "failed")}
    for name in ("ok", "pending", "failed"):
        schedule(sm, arns[name])
    arns["token"] = Harness(sm, handler("postgresql_single")).start(arns["pending"])
    arns["prefix"] = f"{run}/"
    return arns


@pytest.mark.functional
def test_status_tells_each_state(rotor, fleet, cloudtrail):
    cloudtrail.answer(
        "LookupEvents", {"Events": [rotation_failed(fleet["failed"], time.time() - 3600)]}
    )
    ran = rotor("status", "--prefix", fleet["prefix"], "--output", "json")
    assert ran.code == 0, ran.err
    doc = ran.json()
    rows = {s["name"].rpartition("/")[2]: s for s in doc["secrets"]}
    assert {name: row["state"] for name, row in rows.items()} == {
        "failed": "failed", "off": "off", "ok": "ok", "pending": "pending",
    }  # fmt: skip
    assert all(set(row) == KEYS for row in rows.values())
    assert rows["ok"]["function"] == FUNCTION
    assert rows["ok"]["schedule"] == {"AutomaticallyAfterDays": 30}
    assert rows["ok"]["next_rotation"] > doc["checked_at"]
    assert rows["off"]["next_rotation"] is None and rows["off"]["rotation_enabled"] is False
    assert rows["pending"]["pending"]["version"] == fleet["token"]
    assert rows["failed"]["last_failure"].endswith("Z") and doc["failures_unknown"] is None
    assert doc["stuck"] == 2
    (lookup,) = cloudtrail.called("LookupEvents")
    assert lookup["LookupAttributes"] == [
        {"AttributeKey": "EventName", "AttributeValue": "RotationFailed"}
    ]
    week = datetime.now(UTC) - timedelta(days=7)
    assert abs(lookup["StartTime"] - week.timestamp()) < 3600
    table = rotor("status", "--prefix", fleet["prefix"], "--stuck", "--fail-on-stuck")
    assert table.code == 3
    lines = table.out.splitlines()
    assert "ok" not in {cell for line in lines for cell in line.split()}  # only the stuck
    assert sum(line.split()[-1] in ("failed", "pending") for line in lines if line.split()) == 2
    assert f"AWSPENDING on version {fleet['token']}" in table.out
    assert "`rotor resume` reattempts that rotation, `rotor cancel` gives it up" in table.out
    assert lines[-1] == "2 of 4 secret(s) stuck"


@pytest.mark.functional
def test_an_unreadable_cloudtrail_is_said_and_never_fails(
    rotor, fleet, cloudtrail, moto_endpoint, monkeypatch
):
    cloudtrail.fail("LookupEvents", "AccessDeniedException", "User: x is not authorized")
    ran = rotor("status", "--prefix", fleet["prefix"])
    assert ran.code == 0 and ran.err == ""
    assert (
        "failed rotations: unknown (CloudTrail: AccessDeniedException: this identity may not call "
        "cloudtrail:LookupEvents); pending and overdue are shown regardless"
    ) in ran.out
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDTRAIL")  # to moto, which has no LookupEvents
    doc = rotor("status", "--prefix", fleet["prefix"], "--output", "json").json()
    assert "this endpoint does not serve CloudTrail" in doc["failures_unknown"]
    assert {s["state"] for s in doc["secrets"]} == {"ok", "off", "pending"}


@pytest.mark.functional
def test_cancel_gives_up_only_stuck_rotations_and_is_safe_to_rerun(rotor, sm, fleet):
    ok_stages = stages(sm, fleet["ok"])
    (current,) = [v for v, s in ok_stages.items() if "AWSCURRENT" in s]
    sm.update_secret_version_stage(
        SecretId=fleet["ok"], VersionStage="AWSPENDING", MoveToVersionId=current
    )
    dry = rotor("cancel", "--prefix", fleet["prefix"], "--dry-run", "--output", "json")
    assert [r["result"] for r in dry.json()["results"]] == [
        "unchanged",
        "unchanged",
        "unchanged",
        "planned",
    ]
    assert "AWSPENDING" in stages(sm, fleet["pending"])[fleet["token"]]
    ran = rotor("cancel", "--prefix", fleet["prefix"])
    assert ran.code == 0, ran.err
    assert f"removed AWSPENDING from version {fleet['token']}" in ran.out
    assert "1 done, 3 unchanged" in ran.out
    assert all("AWSPENDING" not in s for s in stages(sm, fleet["pending"]).values())
    assert stages(sm, fleet["ok"])[current] == ["AWSCURRENT", "AWSPENDING"]  # left alone
    again = rotor("cancel", "--prefix", fleet["prefix"], "--output", "json").json()
    assert again["summary"] == {
        "planned": 0, "done": 0, "unchanged": 4, "failed": 0, "interrupted": 0, "not_started": 0
    }  # fmt: skip


@pytest.mark.integration
def test_resume_local_completes_the_stuck_rotation(rotor, sm, pg, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    token = Harness(sm, handler("postgresql_single")).start(arn)  # as a crash leaves it
    ran = rotor("resume", arn, "--local")
    assert ran.code == 0, ran.out + ran.err
    assert f"rotation {token} completed (local, postgresql-single)" in ran.out
    assert "AWSCURRENT" in stages(sm, arn)[token]
    new = secret_value(sm, arn)["password"]
    assert new != old and logs_in(pg, user, new) and not logs_in(pg, user, old)
    assert old not in ran.out + ran.err and new not in ran.out + ran.err
    again = rotor("resume", arn, "--local", "--output", "json").json()
    assert again["results"][0]["result"] == "unchanged"


@pytest.mark.functional
def test_resume_asks_aws_to_reattempt_with_no_token(rotor, sm, fleet, aws_endpoint):
    aws_endpoint.fail("RotateSecret", "InvalidRequestException", REATTEMPTED)
    dry = rotor("resume", "--prefix", fleet["prefix"], "--dry-run", endpoint=aws_endpoint.url)
    assert dry.code == 0 and not aws_endpoint.called("RotateSecret")
    ran = rotor(
        "resume", "--prefix", fleet["prefix"], "--output", "json", endpoint=aws_endpoint.url
    )
    assert ran.code == 0, ran.err
    assert [r["result"] for r in ran.json()["results"]] == [
        "unchanged",
        "unchanged",
        "unchanged",
        "done",
    ]
    (sent,) = aws_endpoint.called("RotateSecret")  # as `aws secretsmanager rotate-secret` sends it
    assert set(sent) == {"SecretId", "ClientRequestToken"} and sent["SecretId"] == fleet["pending"]
    assert sent["ClientRequestToken"] != fleet["token"]  # botocore's fresh one: AWS reattempts
    aws_endpoint.fail("RotateSecret", "AccessDeniedException", "not allowed")
    denied = rotor("resume", fleet["pending"], "--output", "json", endpoint=aws_endpoint.url)
    assert denied.code == 3
    assert (
        denied.json()["results"][0]["detail"] == "RotateSecret: AccessDeniedException: not allowed"
    )


@pytest.mark.functional
def test_resume_needs_a_function_and_local_needs_moto(rotor, sm, new_secret):
    arn = new_secret({"engine": "postgres", "username": "u", "password": "p"})
    sm.put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])
    ran = rotor("resume", arn)
    assert ran.code == 3
    assert "no rotation function configured: `rotor schedule` it, or `rotor cancel`" in ran.out
    remote = rotor(
        "resume", arn, "--local", endpoint="https://secretsmanager.us-east-1.amazonaws.com"
    )
    assert remote.code == 2 and remote.out == ""


@pytest.mark.functional
def test_status_runs_without_the_development_kit(moto_endpoint, fleet, cloudtrail, tmp_path):
    loaded = tmp_path / "modules.json"
    ran = without(DEV_ONLY, "status", "--prefix", fleet["prefix"], "--output", "json",
                  "--endpoint-url", moto_endpoint, report=loaded)  # fmt: skip
    assert ran.code == 0, ran.err
    assert len(json.loads(ran.out)["secrets"]) == 4
    assert not {m.split(".")[0] for m in json.loads(loaded.read_text())} & set(DEV_ONLY)
    cancel = without(DEV_ONLY, "cancel", fleet["pending"], "--endpoint-url", moto_endpoint)
    assert cancel.code == 0 and "1 done" in cancel.out


# --- the state of one secret, computed (moto always sets NextRotationDate in the future) -------
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def secret(**kw: Any) -> Secret:
    base: dict[str, Any] = {
        "name": "s", "arn": "arn:s", "rotation_enabled": True, "rotation_lambda": FUNCTION,
        "rules": {"AutomaticallyAfterDays": 7}, "last_rotated": None, "last_changed": None,
        "next_rotation": None, "tags": {}, "stages": {"v1": ("AWSCURRENT",)}, "created": None,
    }  # fmt: skip
    return Secret(**{**base, **kw})


@pytest.mark.unit
def test_overdue_once_the_window_has_passed():
    def state(**kw: Any) -> str:
        return status_of(secret(**kw), Failures(), None, NOW).state

    assert state(next_rotation=NOW - timedelta(hours=23)) == "ok"  # its day's window is open
    assert state(next_rotation=NOW - timedelta(hours=25)) == "overdue"
    hours = {"ScheduleExpression": "rate(4 hours)"}
    assert state(rules=hours, next_rotation=NOW - timedelta(hours=2)) == "overdue"
    windowed = {"ScheduleExpression": "rate(2 days)", "Duration": "3h"}
    assert state(rules=windowed, next_rotation=NOW - timedelta(hours=2)) == "ok"
    assert state(rotation_enabled=False, next_rotation=NOW - timedelta(days=9)) == "off"


@pytest.mark.unit
def test_next_rotation_is_estimated_when_the_endpoint_gives_none():
    found = status_of(secret(created=NOW - timedelta(days=10)), Failures(), None, NOW)
    assert found.estimated and found.next_rotation == NOW - timedelta(days=3)
    assert found.state == "overdue"
    assert found.row()[5] == "2026-05-29 12:00 (estimated)"
    rotated = status_of(secret(last_rotated=NOW - timedelta(days=1)), Failures(), None, NOW)
    assert rotated.next_rotation == NOW + timedelta(days=6) and rotated.state == "ok"
    cron = status_of(
        secret(rules={"ScheduleExpression": "cron(0 4 ? * SUN *)"}), Failures(), None, NOW
    )
    assert cron.next_rotation is None and cron.state == "ok"


@pytest.mark.unit
def test_a_failure_before_the_last_rotation_is_over():
    failures = Failures({"arn:s": NOW - timedelta(days=2)})
    assert status_of(secret(), failures, None, NOW).state == "failed"
    healed = secret(last_rotated=NOW - timedelta(days=1))
    assert status_of(healed, failures, None, NOW).state == "ok"
    stuck = secret(stages={"v1": ("AWSCURRENT",), "v2": ("AWSPENDING",)})
    assert status_of(stuck, failures, NOW, NOW).problems == ("pending", "failed")


@pytest.mark.unit
def test_days_and_a_daily_rate_are_the_same_schedule():
    assert Schedule(days=30).same_as(Schedule(expression="rate(30 days)"))
    assert not Schedule(days=30).same_as(Schedule(expression="rate(30 days)", duration="2h"))
    assert not Schedule(expression="rate(12 hours)").same_as(Schedule(days=1))
    assert Schedule.from_rules({"AutomaticallyAfterDays": 0}) is None  # moto's "none"


@pytest.mark.unit
def test_cloudtrail_follows_a_local_endpoint_only(monkeypatch):
    for name in ("AWS_ENDPOINT_URL_CLOUDTRAIL", "AWS_ENDPOINT_URL"):  # botocore's own settings
        monkeypatch.delenv(name, raising=False)
    moto = Aws("http://127.0.0.1:5000", "eu-west-1", None)
    assert moto.client("cloudtrail").meta.endpoint_url == "http://127.0.0.1:5000"
    vpce = "https://vpce-0a1b.secretsmanager.eu-west-1.vpce.amazonaws.com"
    remote = Aws(vpce, "eu-west-1", None)
    assert (
        remote.client("cloudtrail").meta.endpoint_url
        == "https://cloudtrail.eu-west-1.amazonaws.com"
    )
    assert remote.client("secretsmanager").meta.endpoint_url == vpce
    assert remote.target == vpce  # messages still name Secrets Manager's endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", "http://127.0.0.1:9")
    assert moto.client("cloudtrail").meta.endpoint_url == "http://127.0.0.1:9"
