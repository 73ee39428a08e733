"""`rotor rotate-all`: every selected secret rotated (or refused, untouched, with its reason),
paced by a rate limit that survives throttling, proven against moto over HTTP, a real
throttling proxy, and real PostgreSQL and MariaDB users through the local harness."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from rotor.cli.fleet_rotation import FleetRotation, Outcome, Polling, Result
from rotor.cli.rate_limit import TokenBucket
from rotor.cli.selection import Secret
from rotor.cli.service_rotation import end_of
from rotor.cli.throttling import Backoff, RetryingClient, Throttled
from rotor.local.fleet import FUNCTION, make_fleet
from rotor.local.throttling_proxy import EveryNth, Quotas, ThrottlingProxy

from tests.core.cli_support import DEV_ONLY, SCRIPT, run, without
from tests.helpers import secret_value, stages
from tests.mysql.support import logs_in as my_logs_in
from tests.mysql.support import my_secret
from tests.pg import logs_in as pg_logs_in
from tests.pg import pg_secret


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fleet(sm: Any) -> Callable[..., str]:
    """``fleet(n, configured=True)``: n secrets under a fresh prefix; returns the prefix."""

    def make(n: int, configured: bool = True) -> str:
        prefix = f"ra{uuid.uuid4().hex[:8]}/"
        make_fleet(sm, prefix, n, configured=configured, threads=1)
        return prefix

    return make


def current_version(sm: Any, name: str) -> str:
    return next(v for v, s in stages(sm, name).items() if "AWSCURRENT" in s)


# --- the rate limiter and the end of a rotation, in memory --------------------------------------
@pytest.mark.unit
def test_token_bucket_spaces_starts_and_halves_on_throttling() -> None:
    clock = Clock()
    bucket = TokenBucket(5, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0, 0.2, 0.4])
    clock.now += 10  # idle: no credit beyond the burst (1)
    assert [bucket.reserve() for _ in range(2)] == pytest.approx([0, 0.2])
    bucket.slow_down()
    bucket.slow_down()  # the same burst of throttles: one halving
    assert bucket.rate == 2.5
    clock.now += 10
    assert [bucket.reserve() for _ in range(2)] == pytest.approx([0, 0.4])
    for _ in range(30):
        bucket.speed_up()
    assert bucket.rate == 5  # back to what was configured, never above
    for _ in range(10):
        clock.now += 1  # a throttle per cooldown: halved each time
        bucket.slow_down()
    assert bucket.rate == 0.5  # the floor: a throttled run still moves


@pytest.mark.unit
def test_token_bucket_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, burst=3, clock=clock)
    clock.now += 5
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


@pytest.mark.unit
@pytest.mark.parametrize(
    "labels, end",
    [
        ({"new": ["AWSCURRENT", "AWSPENDING"], "old": ["AWSPREVIOUS"]}, Result.ROTATED),
        ({"new": ["AWSCURRENT"], "old": ["AWSPREVIOUS"]}, Result.ROTATED),
        ({"new": ["AWSPENDING"], "old": ["AWSCURRENT"]}, None),  # running
        ({"old": ["AWSCURRENT"]}, None),  # createSecret has not stored it yet
        ({"new": [], "old": ["AWSCURRENT"]}, Result.FAILED),  # abandoned
        ({"other": ["AWSPENDING"], "old": ["AWSCURRENT"]}, Result.FAILED),  # taken over
    ],
)
def test_the_end_of_a_rotation_is_read_from_its_version_labels(
    labels: dict[str, list[str]], end: Result | None
) -> None:
    seen = end_of(labels, "new")
    assert (seen[0] if seen else None) is end


@pytest.mark.unit
def test_cancel_stops_new_starts_and_reports_what_was_in_flight() -> None:
    secrets = [
        Secret(f"s{i}", f"arn:s{i}", True, FUNCTION, {}, None, None, None, {}) for i in range(5)
    ]
    plan = [Outcome(s, FUNCTION) for s in secrets]
    started: list[str] = []

    class Rotation:  # the second start is where the operator presses Ctrl-C
        def start(self, outcome: Outcome, token: str) -> None:
            started.append(outcome.secret.name)
            if len(started) == 2:
                engine.cancel()

        def check(self, outcome: Outcome) -> tuple[Result, str | None] | None:
            return (Result.ROTATED, None) if outcome.secret.name == "s0" else None

    engine = FleetRotation(
        Rotation(), TokenBucket(1000), concurrency=1, new_token=lambda: str(uuid.uuid4())
    )
    done = engine.run(plan)
    assert done.interrupted and started == ["s0", "s1"]
    assert [o.result for o in plan] == [Result.ROTATED, Result.IN_FLIGHT] + [Result.NOT_STARTED] * 3
    assert "interrupted" in str(plan[1].reason) and plan[1].token is not None


@pytest.mark.unit
def test_a_rotation_not_seen_ending_by_its_timeout_is_left_in_flight() -> None:
    clock = Clock()
    plan = [Outcome(Secret("s", "arn:s", True, FUNCTION, {}, None, None, None, {}), FUNCTION)]
    checks: list[float] = []

    class Slow:  # its function never finishes
        def start(self, outcome: Outcome, token: str) -> None:
            pass

        def check(self, outcome: Outcome) -> tuple[Result, str | None] | None:
            checks.append(clock.now)
            clock.now += 4  # each look takes the clock forward
            return None

    engine = FleetRotation(
        Slow(),
        TokenBucket(1000, clock=clock),
        concurrency=1,
        polling=Polling(timeout=10, first=0, factor=1, cap=0),
        new_token=lambda: "token",
        clock=clock,
    )
    done = engine.run(plan)
    assert not done.interrupted and plan[0].result is Result.IN_FLIGHT
    assert plan[0].reason is not None and plan[0].reason.startswith("not finished after 10 s")
    assert checks == [100, 104, 108]  # looked until the timeout, then stopped
    assert done.count(Result.IN_FLIGHT) == 1


@pytest.mark.functional
def test_a_call_throttled_on_every_attempt_gives_up_and_says_so(moto_endpoint: str) -> None:
    with ThrottlingProxy(moto_endpoint, EveryNth(1, ("DescribeSecret",))) as proxy:
        client = boto3.client(
            "secretsmanager",
            endpoint_url=proxy.endpoint,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 0}),
        )
        slowed: list[str] = []
        retrying = RetryingClient(
            client,
            wait=lambda _s: False,
            attempts=3,
            backoff=Backoff(base=0),
            on_throttle=slowed.append,
        )
        with pytest.raises(Throttled, match="DescribeSecret still throttled after 3 attempt"):
            retrying.describe_secret(SecretId="any")
    assert proxy.calls["DescribeSecret"] == 3 == retrying.throttles["DescribeSecret"]
    assert slowed == ["DescribeSecret"] * 3


# --- against Secrets Manager's API (moto over HTTP) ---------------------------------------------
@pytest.mark.functional
def test_rotates_a_selection_and_finds_each_end_by_polling(
    capsys: Any, sm: Any, moto_endpoint: str, fleet: Callable[..., str]
) -> None:
    prefix = fleet(4)
    before = {f"{prefix}{i:04d}": current_version(sm, f"{prefix}{i:04d}") for i in range(4)}
    ran = run(
        capsys, "rotate-all", "--prefix", prefix, "--rate", "50", "--output", "json",
        "--endpoint-url", moto_endpoint,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert [s["result"] for s in doc["secrets"]] == ["rotated"] * 4
    for entry in doc["secrets"]:  # the new version, under our token, holds AWSCURRENT
        assert entry["token"] == current_version(sm, entry["name"]) != before[entry["name"]]
        assert entry["function"] == FUNCTION and entry["reason"] is None
    totals = doc["totals"]
    assert totals["selected"] == totals["started"] == totals["rotated"] == 4
    assert totals["throttled_calls"] == 0
    assert totals["calls"] == {"DescribeSecret": 4, "RotateSecret": 4}
    assert doc["settings"] == {"rate": 50.0, "concurrency": 10, "timeout_seconds": 900.0}


@pytest.mark.functional
def test_refuses_what_cannot_rotate_and_leaves_it_untouched(
    capsys: Any, sm: Any, moto_endpoint: str, fleet: Callable[..., str]
) -> None:
    prefix = fleet(3)
    unconfigured = f"{prefix}zz-none"
    sm.create_secret(Name=unconfigured, SecretString="{}")
    busy = f"{prefix}0001"  # a rotation in progress: AWSPENDING on its own version
    sm.put_secret_value(SecretId=busy, SecretString="{}", VersionStages=["AWSPENDING"])
    disabled = f"{prefix}0002"
    sm.cancel_rotate_secret(SecretId=disabled)
    untouched = {n: stages(sm, n) for n in (unconfigured, busy, disabled)}

    ran = run(
        capsys,
        "rotate-all",
        "--prefix",
        prefix,
        "--output",
        "json",
        "--endpoint-url",
        moto_endpoint,
    )
    assert ran.code == 3
    assert ran.error_line() == "rotor: 3 of 4 secrets not rotated: see why in the report"
    by_name = {s["name"]: s for s in ran.json()["secrets"]}
    assert by_name[f"{prefix}0000"]["result"] == "rotated"
    assert {n: by_name[n]["result"] for n in untouched} == dict.fromkeys(untouched, "refused")
    assert "no rotation function" in by_name[unconfigured]["reason"]
    assert "a rotation is in progress" in by_name[busy]["reason"]
    assert "rotation is disabled" in by_name[disabled]["reason"]
    assert {n: stages(sm, n) for n in untouched} == untouched
    assert ran.json()["totals"]["calls"] == {"DescribeSecret": 1, "RotateSecret": 1}

    only_refused = run(capsys, "rotate-all", unconfigured, "--endpoint-url", moto_endpoint)
    assert only_refused.code == 1
    assert "no secret rotated" in only_refused.error_line()


@pytest.mark.functional
def test_dry_run_shows_the_plan_and_changes_nothing(
    capsys: Any, sm: Any, moto_endpoint: str, fleet: Callable[..., str]
) -> None:
    prefix = fleet(2)
    sm.create_secret(Name=f"{prefix}zz", SecretString="{}")
    before = {n: stages(sm, n) for n in (f"{prefix}0000", f"{prefix}0001", f"{prefix}zz")}
    ran = run(
        capsys,
        "rotate-all",
        "--prefix",
        prefix,
        "--dry-run",
        "--output",
        "json",
        "--endpoint-url",
        moto_endpoint,
    )
    assert ran.code == 3, ran.err  # as schedule, resume and cancel: a plan with refusals
    assert (
        ran.error_line() == "rotor: dry run: 1 of 3 secrets would be refused: see why in the plan"
    )
    doc = ran.json()
    assert doc["dry_run"] is True
    assert [(s["name"], s["result"], s["function"]) for s in doc["secrets"]] == [
        (f"{prefix}0000", "planned", FUNCTION),
        (f"{prefix}0001", "planned", FUNCTION),
        (f"{prefix}zz", "refused", None),
    ]
    assert doc["totals"] == {"selected": 3, "refused": 1, "planned": 2}
    assert {n: stages(sm, n) for n in before} == before
    table = run(
        capsys, "rotate-all", "--prefix", prefix, "--dry-run", "--endpoint-url", moto_endpoint
    )
    assert table.code == 3 and table.out.splitlines()[-1] == (
        "dry run: 2 would rotate, 1 refused; nothing changed"
    )
    clean = run(capsys, "rotate-all", f"{prefix}0000", "--dry-run", "--endpoint-url", moto_endpoint)
    assert clean.code == 0 and clean.err == ""
    refused = run(capsys, "rotate-all", f"{prefix}zz", "--dry-run", "--endpoint-url", moto_endpoint)
    assert refused.code == 1 and "no secret would rotate" in refused.error_line()


@pytest.mark.functional
def test_throttling_is_retried_counted_and_every_rotation_completes(
    capsys: Any, sm: Any, moto_endpoint: str, fleet: Callable[..., str]
) -> None:
    prefix = fleet(6)
    policy = EveryNth(2, ("RotateSecret", "DescribeSecret"))  # every other call: throttled
    with ThrottlingProxy(moto_endpoint, policy) as proxy:
        ran = run(
            capsys, "rotate-all", "--prefix", prefix, "--rate", "50", "--concurrency", "3",
            "--output", "json", "--endpoint-url", proxy.endpoint,
        )  # fmt: skip
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert [s["result"] for s in doc["secrets"]] == ["rotated"] * 6
    for entry in doc["secrets"]:
        assert entry["token"] == current_version(sm, entry["name"])
    throttled = proxy.throttled["RotateSecret"] + proxy.throttled["DescribeSecret"]
    assert throttled >= 6  # each rotation met at least one
    assert doc["totals"]["throttled_calls"] == throttled  # botocore retried none unseen
    assert doc["totals"]["throttled"] == {
        "DescribeSecret": proxy.throttled["DescribeSecret"],
        "RotateSecret": proxy.throttled["RotateSecret"],
    }


class HeldPoll:
    """Holds the first DescribeSecret until released, then throttles it: a rotation that is
    certainly in flight when the test presses Ctrl-C."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()

    def throttle(self, operation: str) -> bool:
        if operation != "DescribeSecret" or self.reached.is_set():
            return False
        self.reached.set()
        return self.release.wait(60)


@pytest.mark.functional
def test_ctrl_c_stops_new_starts_and_reports_what_is_in_flight(
    moto_endpoint: str, fleet: Callable[..., str]
) -> None:
    prefix = fleet(3)
    policy = HeldPoll()
    with ThrottlingProxy(moto_endpoint, policy) as proxy:
        command = [
            str(SCRIPT), "rotate-all", "--prefix", prefix, "--concurrency", "1", "--rate", "50",
            "--output", "json", "--endpoint-url", proxy.endpoint,
        ]  # fmt: skip
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as cli:
            assert policy.reached.wait(60), "the first rotation never polled"
            cli.send_signal(signal.SIGINT)  # Ctrl-C while the first rotation is followed
            policy.release.set()
            out, err = cli.communicate(timeout=60)
    assert cli.returncode == 130
    assert err.splitlines() == [
        "rotor: interrupted: 0 rotated, 1 in flight (they go on), 2 not started"
    ]
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert [(s["result"], s["token"] is not None) for s in doc["secrets"]] == [
        ("in_flight", True),
        ("not_started", False),
        ("not_started", False),
    ]
    assert "interrupted while it ran" in doc["secrets"][0]["reason"]
    assert proxy.calls["RotateSecret"] == 1  # nothing started after Ctrl-C


@pytest.mark.unit
def test_the_quota_policy_throttles_above_the_rate() -> None:
    clock = Clock()
    quotas = Quotas(
        {("RotateSecret",): 2.0, ("PutSecretValue",): 100.0}, rotation_writes=0, clock=clock
    )
    assert [quotas.throttle("RotateSecret") for _ in range(3)] == [False, False, True]
    clock.now += 0.5  # one more token
    assert [quotas.throttle("RotateSecret") for _ in range(2)] == [False, True]
    assert not quotas.throttle("ListSecrets")  # no quota modelled: never throttled


@pytest.mark.unit
def test_a_rotation_spends_three_writes_of_the_shared_write_quota() -> None:
    clock = Clock()
    quotas = Quotas(clock=clock)  # AWS's: writes 50/s shared, RotateSecret 50/s
    allowed = sum(not quotas.throttle("RotateSecret") for _ in range(50))
    assert allowed == 16  # 50 writes / 3 per rotation: the ceiling near 16 rotations/s


@pytest.mark.functional
@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["--prefix", "x", "--rotator", "redis"],
            2,
            "rotor: rotate-all: --rotator needs --local (see `rotor rotate-all --help`)",
        ),
        (
            ["--prefix", "x", "--rate", "0"],
            2,
            "argument --rate: expected a number above 0, not '0'",
        ),
        ([], 2, "rotor: select secrets: name them, or pass --prefix"),
        (
            ["--prefix", "no-such-prefix-ra/"],
            4,
            "rotor: no secret matches the selection (check the names, --prefix and --tag)",
        ),
        (["--prefix", "x", "--local", "--rotator", "nope"], 4, "rotor: no rotator 'nope' (known: "),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    capsys: Any,
    sm: Any,
    moto_endpoint: str,
    fleet: Callable[..., str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    prefix = fleet(1)
    before = stages(sm, f"{prefix}0000")
    args = [prefix if a == "x" else a for a in args]
    ran = run(capsys, "rotate-all", *args, "--endpoint-url", moto_endpoint)
    assert ran.code == code and message in ran.error_line() and ran.out == ""
    assert stages(sm, f"{prefix}0000") == before


@pytest.mark.functional
def test_local_refuses_a_remote_endpoint(capsys: Any) -> None:
    ran = run(
        capsys,
        "rotate-all",
        "--all",
        "--local",
        "--endpoint-url",
        "https://secretsmanager.us-east-1.amazonaws.com",
    )
    assert ran.code == 2 and "only talks to moto on this machine" in ran.error_line()


@pytest.mark.functional
def test_runs_against_aws_without_the_development_kit(
    sm: Any, moto_endpoint: str, fleet: Callable[..., str], tmp_path: Any
) -> None:
    prefix = fleet(2)
    modules = tmp_path / "modules.json"
    ran = without(
        DEV_ONLY,
        "rotate-all",
        "--prefix",
        prefix,
        "--rate",
        "50",
        "--endpoint-url",
        moto_endpoint,
        report=modules,
    )
    assert ran.code == 0, ran.err
    assert [line.split()[1] for line in ran.out.splitlines() if line.startswith(prefix)] == [
        "rotated",
        "rotated",
    ]
    assert "2 rotated of 2 in" in ran.out and "throttled calls: 0" in ran.out
    loaded = json.loads(modules.read_text())
    assert [m for m in loaded if m.split(".")[0] in DEV_ONLY or m.startswith("rotor.local")] == []
    local = without(
        DEV_ONLY, "rotate-all", "--prefix", prefix, "--local", "--endpoint-url", moto_endpoint
    )
    assert local.code == 7 and local.out == ""
    assert "`rotor rotate-all` needs the development kit" in local.error_line()


# --- through the local harness, real rotators, real databases -----------------------------------
@pytest.mark.integration
def test_local_rotates_real_database_users_end_to_end(
    capsys: Any, sm: Any, moto_endpoint: str, pg: Any, mdb: Any, make_role: Any, make_user: Any,
    mdb_admin_arn: str,
) -> None:  # fmt: skip
    prefix = f"ra{uuid.uuid4().hex[:8]}/"
    olds = {}
    for i in range(3):
        user, password = make_role(pg)
        sm.create_secret(
            Name=f"{prefix}pg{i}", SecretString=json.dumps(pg_secret(pg, user, password))
        )
        olds[f"{prefix}pg{i}"] = (user, password)
    for i in range(2):
        user, password = make_user(mdb)
        value = my_secret(mdb, user, password, masterarn=mdb_admin_arn)
        sm.create_secret(Name=f"{prefix}my{i}", SecretString=json.dumps(value))
        olds[f"{prefix}my{i}"] = (user, password)

    ran = run(
        capsys, "rotate-all", "--prefix", prefix, "--local", "--concurrency", "3", "--output",
        "json", "--endpoint-url", moto_endpoint,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert doc["local"] is True
    assert {s["name"]: (s["result"], s["function"]) for s in doc["secrets"]} == {
        **{f"{prefix}my{i}": ("rotated", "mysql-alternating") for i in range(2)},
        **{f"{prefix}pg{i}": ("rotated", "postgresql-single") for i in range(3)},
    }
    assert doc["totals"]["rotated"] == 5 and doc["totals"]["started"] == 5
    for name, (user, old) in olds.items():
        entry = next(s for s in doc["secrets"] if s["name"] == name)
        assert entry["token"] == current_version(sm, name)
        new = secret_value(sm, name)
        if "pg" in name.rpartition("/")[2]:  # single user: new logs in, old is rejected
            assert new["username"] == user and pg_logs_in(pg, user, new["password"])
            assert not pg_logs_in(pg, user, old)
        else:  # alternating: the clone logs in, the original keeps working as AWSPREVIOUS
            assert new["username"] == f"{user}_clone"
            assert my_logs_in(mdb, new["username"], new["password"]) and my_logs_in(mdb, user, old)
        assert old not in ran.out + ran.err and new["password"] not in ran.out + ran.err


@pytest.mark.integration
def test_local_reports_a_failed_rotation_beside_the_others(
    capsys: Any, sm: Any, moto_endpoint: str, pg: Any, make_role: Any
) -> None:
    prefix = f"ra{uuid.uuid4().hex[:8]}/"
    user, password = make_role(pg)
    sm.create_secret(Name=f"{prefix}good", SecretString=json.dumps(pg_secret(pg, user, password)))
    wrong = pg_secret(pg, user, "not-the-password")  # the database refuses it
    sm.create_secret(Name=f"{prefix}wrong", SecretString=json.dumps(wrong))
    sm.create_secret(Name=f"{prefix}what", SecretString=json.dumps({"engine": "oracle"}))
    ran = run(
        capsys, "rotate-all", "--prefix", prefix, "--local", "--output", "json",
        "--endpoint-url", moto_endpoint,
    )  # fmt: skip
    assert ran.code == 3
    assert ran.error_line() == "rotor: 2 of 3 secrets not rotated: see why in the report"
    by_name = {s["name"]: s for s in ran.json()["secrets"]}
    assert by_name[f"{prefix}good"]["result"] == "rotated"
    assert by_name[f"{prefix}wrong"]["result"] == "failed"
    assert "still failed after 3 attempt(s)" in by_name[f"{prefix}wrong"]["reason"]
    assert by_name[f"{prefix}what"]["result"] == "refused"
    assert "no rotator for engine 'oracle'" in by_name[f"{prefix}what"]["reason"]
    assert "not-the-password" not in ran.out + ran.err


@pytest.mark.integration
def test_local_survives_throttling_of_the_harness_calls(
    capsys: Any, sm: Any, moto_endpoint: str, pg: Any, make_role: Any
) -> None:
    prefix = f"ra{uuid.uuid4().hex[:8]}/"
    for i in range(2):
        user, password = make_role(pg)
        value = json.dumps(pg_secret(pg, user, password))
        sm.create_secret(Name=f"{prefix}pg{i}", SecretString=value)
    policy = EveryNth(2, ("DescribeSecret", "RotateSecret", "GetSecretValue"))
    with ThrottlingProxy(moto_endpoint, policy) as proxy:
        ran = run(
            capsys, "rotate-all", "--prefix", prefix, "--local", "--rotator", "postgresql-single",
            "--output", "json", "--endpoint-url", proxy.endpoint,
        )  # fmt: skip
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert [s["result"] for s in doc["secrets"]] == ["rotated", "rotated"]
    for entry in doc["secrets"]:
        value = secret_value(sm, entry["name"])
        assert entry["token"] == current_version(sm, entry["name"])
        assert pg_logs_in(pg, value["username"], value["password"])
    assert doc["totals"]["throttled_calls"] > 0  # the harness's calls met throttling, and won
