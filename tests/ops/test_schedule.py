"""`rotor schedule`: the plan, the functions per rotator (stack outputs, --function), AWS's
configuration test reproduced locally through the rotators' real handlers against real
PostgreSQL, idempotent re-runs, removal, per-secret failures, and bad input refused before
anything changes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from rotor.local.harness import Harness

from tests.conftest import handler
from tests.core.cli_support import DEV_ONLY, without
from tests.helpers import secret_value, stages
from tests.pg import logs_in, pg_secret

ACCOUNT, REGION = "123456789012", "us-east-1"
PG_SINGLE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rotor-PostgresqlSingle"
PG_ALT = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rotor-PostgresqlAlternating"
BOTH = (
    "--function",
    f"postgresql-single={PG_SINGLE}",
    "--function",
    f"postgresql_alternating={PG_ALT}",
)
MARKER = "do-not-print-" + uuid.uuid4().hex


@pytest.fixture
def run_id() -> str:
    return f"sch{uuid.uuid4().hex[:8]}"


def rotation(sm: Any, arn: str) -> tuple[bool, str | None, dict[str, Any]]:
    meta = sm.describe_secret(SecretId=arn)
    return (
        bool(meta.get("RotationEnabled")),
        meta.get("RotationLambdaARN"),
        meta.get("RotationRules", {}),
    )


def labelled(sm: Any, arn: str) -> dict[str, list[str]]:
    return {v: s for v, s in stages(sm, arn).items() if s}


@pytest.mark.functional
def test_dry_run_shows_the_plan_and_changes_nothing(rotor, sm, new_secret, run_id):
    pg = new_secret({"engine": "postgres", "username": "u", "password": MARKER}, f"{run_id}/pg")
    alt = new_secret(
        {"engine": "aurora-postgresql", "username": "u", "password": MARKER, "masterarn": "a"},
        f"{run_id}/alt",
    )
    ran = rotor("schedule", "--prefix", f"{run_id}/", "--days", "30", "--dry-run", *BOTH,
                "--output", "json")  # fmt: skip
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert doc["dry_run"] is True and doc["rotate_immediately"] is False
    assert doc["schedule"] == {"AutomaticallyAfterDays": 30}
    assert [(r["secret"], r["rotator"], r["function"], r["current"], r["new"], r["result"])
            for r in doc["results"]] == [
        (f"{run_id}/alt", "postgresql-alternating", PG_ALT, "off", "every 30 days", "planned"),
        (f"{run_id}/pg", "postgresql-single", PG_SINGLE, "off", "every 30 days", "planned"),
    ]  # fmt: skip
    assert {r["rotator_source"] for r in doc["results"]} == {"value"}
    assert doc["summary"] == {
        "planned": 2, "done": 0, "unchanged": 0, "failed": 0, "interrupted": 0, "not_started": 0
    }  # fmt: skip
    for arn in (pg, alt):
        assert rotation(sm, arn) == (False, None, {}) and len(labelled(sm, arn)) == 1
    table = rotor("schedule", "--prefix", f"{run_id}/", "--days", "30", "--dry-run",
                  "--function", f"postgresql-single={PG_SINGLE}")  # fmt: skip
    assert table.code == 3  # the alternating one has no function here
    assert "RotateImmediately=false (rotor's default)" in table.out
    assert f"{run_id}/alt: no function serves rotator postgresql-alternating: pass --function" in (
        table.out
    )
    assert "(value)" in table.out  # marked: the application's own value chose the rotator
    assert MARKER not in ran.out + ran.err + table.out + table.err
    sm.tag_resource(SecretId=pg, Tags=[{"Key": "rotor:rotator", "Value": "postgresql_alternating"}])
    pinned = rotor("schedule", pg, "--days", "30", "--dry-run", *BOTH, "--output", "json")
    (row,) = pinned.json()["results"]
    assert (row["rotator"], row["rotator_source"], row["function"]) == (
        "postgresql-alternating", "tag", PG_ALT
    )  # fmt: skip


@pytest.mark.functional
def test_functions_come_from_the_stack_outputs_and_function_overrides(
    rotor, sm, new_secret, run_id
):
    cf = _cloudformation(sm)
    outputs = {
        "PostgresqlSingleFunctionArn": {"Value": PG_SINGLE},
        "MysqlAlternatingFunctionArn": {"Value": f"{PG_SINGLE}-mysql"},
        "LayerArn": {"Value": "arn:aws:lambda:us-east-1:1:layer:x:1"},
    }
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": outputs,
    }
    cf.create_stack(StackName=run_id, TemplateBody=json.dumps(template))
    new_secret({"engine": "postgres", "username": "u", "password": "p"}, f"{run_id}/pg")
    new_secret({"engine": "mariadb", "masterarn": "x", "username": "u"}, f"{run_id}/my")
    new_secret("not json", f"{run_id}/txt")
    args = ("schedule", "--prefix", f"{run_id}/", "--days", "7", "--dry-run", "--output", "json")
    doc = rotor(*args, "--stack", run_id).json()
    by_name = {r["secret"].split("/")[1]: r for r in doc["results"]}
    assert by_name["pg"]["function"] == PG_SINGLE
    assert by_name["my"]["rotator"] == "mysql-alternating"
    assert by_name["my"]["function"] == f"{PG_SINGLE}-mysql"
    assert by_name["txt"]["result"] == "failed"
    assert "tag the secret rotor:rotator=NAME" in by_name["txt"]["detail"]
    other = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mine"
    ran = rotor(*args, "--stack", run_id, "--function", f"MySQL-Alternating={other}")
    assert ran.code == 3  # the text secret failed, the others are planned
    assert {r["secret"]: r["function"] for r in ran.json()["results"]}[f"{run_id}/my"] == other
    missing = rotor(*args, "--stack", f"{run_id}-gone")
    assert missing.code == 4 and missing.out == ""
    assert (
        missing.error_line()
        == f"rotor: no stack '{run_id}-gone': check --stack, --region and --profile"
    )


@pytest.mark.integration
def test_configuration_test_runs_locally_then_the_schedule_is_set_once(
    rotor, sm, pg, new_secret, make_role, admin_arn, run_id
):
    user, password = make_role(pg)
    single = new_secret(pg_secret(pg, user, password), f"{run_id}/single")
    alt_user, alt_password = make_role(pg)
    alt = new_secret(pg_secret(pg, alt_user, alt_password, masterarn=admin_arn), f"{run_id}/alt")
    before = {arn: (labelled(sm, arn), secret_value(sm, arn)) for arn in (single, alt)}
    args = (
        "schedule", "--prefix", f"{run_id}/", "--days", "30", "--local", "--output", "json", *BOTH,
    )  # fmt: skip
    ran = rotor(*args)
    assert ran.code == 0, ran.out + ran.err
    assert [(r["result"], r["detail"]) for r in ran.json()["results"]] == [
        ("done", "configuration test passed (local)")
    ] * 2
    assert rotation(sm, single) == (True, PG_SINGLE, {"AutomaticallyAfterDays": 30})
    assert rotation(sm, alt) == (True, PG_ALT, {"AutomaticallyAfterDays": 30})
    for arn, (labels, value) in before.items():  # testSecret only: nothing moved, nothing left
        assert labelled(sm, arn) == labels and secret_value(sm, arn) == value
    assert logs_in(pg, user, password) and logs_in(pg, alt_user, alt_password)
    again = rotor(*args)
    assert again.code == 0
    assert [(r["action"], r["result"]) for r in again.json()["results"]] == [
        ("none", "unchanged")
    ] * 2
    removed = rotor("schedule", "--prefix", f"{run_id}/", "--remove")
    assert removed.code == 0 and "2 done" in removed.out
    assert rotation(sm, single)[0] is False and rotation(sm, alt)[0] is False
    assert "2 unchanged" in rotor("schedule", "--prefix", f"{run_id}/", "--remove").out


@pytest.mark.integration
def test_a_failing_configuration_test_fails_that_secret_only(
    rotor, sm, pg, new_secret, make_role, run_id
):
    user, password = make_role(pg)
    good = new_secret(pg_secret(pg, user, password), f"{run_id}/good")
    bad = new_secret({**pg_secret(pg, user, password), "port": 1}, f"{run_id}/bad")
    ran = rotor("schedule", "--prefix", f"{run_id}/", "--days", "10", "--local",
                "--function", f"postgresql-single={PG_SINGLE}")  # fmt: skip
    assert ran.code == 3, ran.err
    assert f"{run_id}/bad: configuration test failed: testSecret: " in ran.out
    assert "the schedule is set, as AWS leaves it" in ran.out
    assert "1 done, 1 failed" in ran.out
    for arn in (good, bad):  # as AWS: the settings stay, the transient version does not
        assert rotation(sm, arn) == (True, PG_SINGLE, {"AutomaticallyAfterDays": 10})
        assert all("AWSPENDING" not in s for s in stages(sm, arn).values())
    assert password not in ran.out + ran.err


@pytest.mark.functional
def test_a_rotation_in_progress_is_not_rescheduled(rotor, sm, new_secret, run_id):
    arn = new_secret({"engine": "postgres", "username": "u", "password": "p"}, f"{run_id}/s")
    token = Harness(sm, handler("postgresql_single")).start(arn)
    ran = rotor("schedule", arn, "--days", "5", "--function", f"postgresql-single={PG_SINGLE}")
    assert ran.code == 3
    assert f"a rotation is in progress (AWSPENDING on version {token}): `rotor resume`" in ran.out
    assert "AWSPENDING" in stages(sm, arn)[token]


@pytest.mark.functional
def test_the_real_aws_path_sends_the_rules_asked_for(rotor, sm, new_secret, aws_endpoint, run_id):
    """Without --local, RotateSecret goes to the endpoint as asked (moto drops
    ScheduleExpression, so the request itself is checked, at a real endpoint in front of it)."""
    arn = new_secret({"engine": "postgres", "username": "u", "password": "p"}, f"{run_id}/s")
    aws_endpoint.answer("RotateSecret", {"ARN": arn, "Name": f"{run_id}/s"})
    ran = rotor(
        "schedule", arn, "--schedule-expression", "cron(0 4 ? * SUN *)", "--duration", "3h",
        "--function", f"postgresql-single={PG_SINGLE}", "--rotate-immediately",
        endpoint=aws_endpoint.url,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "every secret scheduled or changed starts a rotation NOW" in ran.out
    (sent,) = aws_endpoint.called("RotateSecret")
    assert sent["RotationLambdaARN"] == PG_SINGLE and sent["RotateImmediately"] is True
    assert sent["RotationRules"] == {"ScheduleExpression": "cron(0 4 ? * SUN *)", "Duration": "3h"}
    assert sent["ClientRequestToken"]
    aws_endpoint.fail("RotateSecret", "AccessDeniedException", "not authorized to invoke")
    failed = rotor("schedule", arn, "--days", "3", "--function", f"postgresql-single={PG_SINGLE}",
                   "--output", "json", endpoint=aws_endpoint.url)  # fmt: skip
    assert failed.code == 3
    assert failed.json()["results"][0]["detail"] == (
        "RotateSecret: AccessDeniedException: not authorized to invoke"
    )


@pytest.mark.functional
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--schedule-expression", "rate(1 hours)"],
            "a rate must be between 4 hours and 1000 days",
        ),
        (["--schedule-expression", "cron(0 4 * *)"], "cron() takes six fields"),
        (["--schedule-expression", "cron(0 4 1 * MON *)"], "one of day-of-month and day-of-week"),
        (["--schedule-expression", "every day"], "expected rate(N hours|days) or cron(...)"),
        (["--days", "0"], "expected a number of days from 1 to 1000"),
        (["--days", "7", "--duration", "2h"], "--duration needs --schedule-expression"),
        (["--schedule-expression", "rate(4 hours)", "--duration", "5h"], "is longer than"),
        (["--schedule-expression", "rate(4 days)", "--duration", "30h"], "a window of 1h to 24h"),
        (["--days", "7", "--function", "postgresql-single"], "expected ROTATOR=ARN"),
        (["--days", "7"], "name the functions: --stack NAME"),
        (["--remove", "--rotate-immediately"], "--remove takes no function"),
        (["--days", "7", "--local", "--rotate-immediately"], "--local runs AWS's configuration"),
        (["--days", "7", "--remove"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(rotor, sm, new_secret, args, message):
    arn = new_secret({"engine": "postgres"})
    function = [] if "--function" in args or args[0] == "--remove" or args == ["--days", "7"] else [
        "--function", f"postgresql-single={PG_SINGLE}"
    ]  # fmt: skip
    ran = rotor("schedule", arn, *args, *function)
    assert ran.code == 2 and ran.out == ""
    assert message in ran.error_line()
    assert rotation(sm, arn) == (False, None, {})


@pytest.mark.functional
def test_missing_secrets_and_a_remote_local_are_refused_before_anything(rotor, sm, new_secret):
    arn = new_secret({"engine": "postgres"})
    fn = ["--days", "7", "--function", f"postgresql-single={PG_SINGLE}"]
    ran = rotor("schedule", arn, "no/such/secret", *fn)
    assert ran.code == 4 and "no/such/secret" in ran.error_line()
    remote = rotor(
        "schedule", arn, *fn, "--local", endpoint="https://secretsmanager.eu-west-1.amazonaws.com"
    )
    assert remote.code == 2 and "only talks to moto on this machine" in remote.error_line()
    assert rotation(sm, arn) == (False, None, {})


@pytest.mark.functional
def test_schedule_runs_without_the_development_kit(moto_endpoint, new_secret, tmp_path):
    arn = new_secret({"engine": "postgres", "username": "u", "password": MARKER})
    loaded = tmp_path / "modules.json"
    ran = without(
        DEV_ONLY, "schedule", arn, "--days", "7", "--dry-run", "--endpoint-url", moto_endpoint,
        "--function", f"postgresql-single={PG_SINGLE}", report=loaded,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "planned" in ran.out and MARKER not in ran.out + ran.err
    modules = set(json.loads(loaded.read_text()))
    assert not {m.split(".")[0] for m in modules} & set(DEV_ONLY)
    local = without(DEV_ONLY, "schedule", arn, "--days", "7", "--local", "--endpoint-url",
                    moto_endpoint, "--function", f"postgresql-single={PG_SINGLE}")  # fmt: skip
    assert local.code == 7 and "pip install 'rotor[dev]'" in local.error_line()


def _cloudformation(sm: Any) -> Any:
    import boto3

    return boto3.client(
        "cloudformation", endpoint_url=sm.meta.endpoint_url, region_name=sm.meta.region_name
    )
