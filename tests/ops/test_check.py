"""`rotor check`: each check passes on a good secret and fails alone on what it is for, on real
servers; nothing changes; no value is printed; the function's check mode runs through a real
Lambda Invoke endpoint; the role's IAM through a real SimulatePrincipalPolicy endpoint."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rotor import preflight
from rotor.errors import EventError, StateError
from rotor.local.fakeproviders import SENDGRID_ADMIN_SCOPES, FakeSendGrid
from rotor.local.harness import LambdaContext
from rotor.secrets import SecretStore

from tests.conftest import handler
from tests.core.cli_support import DEV_ONLY, run, without
from tests.helpers import secret_value, stages, unique_user
from tests.ops.check_fakes import Function, Iam, IamApi, LambdaApi, function_arn, serve
from tests.pg import logs_in, pg_secret, role_exists
from tests.redis.test_redis_users import make_user as make_redis_user
from tests.redis.test_redis_users import stored_hashes, user_secret

ALTERNATING_CHECKS = [
    "rotation configured",
    "secret readable",
    "secret parses",
    "server reachable",
    "current login",
    "admin secret",
    "admin logs in",
    "clone name fits",
]


def statuses(entry: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["status"] for c in entry["checks"]}


def reasons(entry: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["reason"] for c in entry["checks"]}


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["secret"]: e for e in doc["secrets"]}


def failed(entry: dict[str, Any]) -> set[str]:
    return {name for name, status in statuses(entry).items() if status == "fail"}


def named(sm: Any, arn: str) -> str:
    return str(sm.describe_secret(SecretId=arn)["Name"])


def configure_rotation(sm: Any, arn: str, function: str) -> None:
    """RotationLambdaARN set and rotation on, as `aws secretsmanager rotate-secret` leaves it;
    moto then fails to invoke the function (no Docker), and the AWSPENDING it made goes."""
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(
            SecretId=arn, RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 30}
        )
    for version, labels in stages(sm, arn).items():
        if "AWSPENDING" in labels and "AWSCURRENT" not in labels:
            sm.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )


@pytest.fixture
def alternating(pg: Any, make_role: Any, new_secret: Any, admin_arn: str) -> Callable[..., str]:
    """A PostgreSQL alternating-users secret of a real role, with overrides."""

    def make(**extra: Any) -> str:
        user, password = make_role(pg, extra.pop("user", None))
        return new_secret({**pg_secret(pg, user, password, masterarn=admin_arn), **extra})

    return make


def check_local(capsys: Any, *args: str) -> Any:
    return run(capsys, "check", "--local", "--no-iam", "--rotator", "postgresql-alternating", *args)


# --- local mode, on real servers ---------------------------------------------------------------
def test_a_good_secret_passes_every_check_and_nothing_changes(
    capsys: Any, sm: Any, pg: Any, alternating: Any
) -> None:
    arn = alternating()
    value, before = secret_value(sm, arn), stages(sm, arn)

    ran = check_local(capsys, arn, "--output", "json")

    assert ran.code == 0, ran.err
    doc = ran.json()
    assert doc["mode"] == "local" and doc["passed"] is True
    [entry] = doc["secrets"]
    assert entry["arn"] == arn and entry["rotator"] == "postgresql-alternating"
    assert [c["check"] for c in entry["checks"]] == ALTERNATING_CHECKS
    assert statuses(entry) == {
        **dict.fromkeys(ALTERNATING_CHECKS, "pass"),
        "rotation configured": "skipped",  # never configured: a check before turning it on
    }
    # changes nothing: stages, values, the server's password, no clone made
    assert stages(sm, arn) == before and secret_value(sm, arn) == value
    assert logs_in(pg, value["username"], value["password"])
    assert not role_exists(pg, value["username"] + "_clone")


def test_each_broken_thing_fails_exactly_its_check(
    capsys: Any,
    caplog: Any,
    sm: Any,
    pg: Any,
    alternating: Any,
    new_secret: Any,
    admin_arn: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    other_server = new_secret(pg.admin_secret(port=pg.port + 1))
    arns = {
        "good": alternating(),
        "wrong password": alternating(password="not-the-password-0123"),
        "admin elsewhere": alternating(masterarn=other_server),
        "admin unreadable": alternating(masterarn=admin_arn + "-gone"),
        "clone too long": alternating(user=unique_user("u" * 50)),
        "tls on a plaintext server": alternating(ssl=True),
    }
    missing = secret_value(sm, arns["good"])
    del missing["masterarn"]
    arns["no masterarn"] = new_secret(missing)
    expected = {
        "good": set(),
        "wrong password": {"current login"},
        "admin elsewhere": {"admin secret"},
        "admin unreadable": {"admin secret"},
        "clone too long": {"clone name fits"},
        "tls on a plaintext server": {"server reachable"},
        "no masterarn": {"admin secret"},
    }
    before = {arn: (stages(sm, arn), secret_value(sm, arn)) for arn in arns.values()}

    ran = check_local(capsys, *arns.values(), "--output", "json")

    assert ran.code == 3, ran.err  # a batch where some pass and some fail
    assert "check failed for 6 of 7 secret(s)" in ran.error_line()
    entries = by_name(ran.json())
    for case, arn in arns.items():
        assert failed(entries[named(sm, arn)]) == expected[case], case
    why = {case: reasons(entries[named(sm, arn)]) for case, arn in arns.items()}
    assert "is refused by" in why["wrong password"]["current login"]
    assert "points at" in why["admin elsewhere"]["admin secret"]
    assert "cannot be read" in why["admin unreadable"]["admin secret"]
    assert "key 'masterarn' is missing" in why["no masterarn"]["admin secret"]
    assert "use a user name of at most 57 bytes" in why["clone too long"]["clone name fits"]
    assert "ROTOR_CA_BUNDLE" in why["tls on a plaintext server"]["server reachable"]
    tls = statuses(entries[named(sm, arns["tls on a plaintext server"])])
    assert tls["current login"] == "skipped"  # never tried: it needs the server reached
    assert statuses(entries[named(sm, arns["admin elsewhere"])])["admin logs in"] == "skipped"
    assert {arn: (stages(sm, arn), secret_value(sm, arn)) for arn in arns.values()} == before

    # the same as a table, for people; and no value anywhere, in either output or the logs
    table = check_local(capsys, *arns.values())
    assert table.code == 3 and "FAIL" in table.out and "clone name fits" in table.out
    text = ran.out + ran.err + table.out + table.err + caplog.text
    values = [secret_value(sm, arn)["password"] for arn in arns.values()]
    assert not [v for v in [*values, pg.superuser_password] if v in text]


def test_a_single_failing_secret_exits_1(capsys: Any, alternating: Any) -> None:
    ran = check_local(capsys, alternating(password="not-the-password-0123"))
    assert ran.code == 1 and "check failed for 1 of 1" in ran.error_line()


def test_tls_with_the_wrong_ca_fails_reachability(
    capsys: Any, pg_tls: Any, make_role: Any, new_secret: Any, certs: Any, monkeypatch: Any
) -> None:
    user, password = make_role(pg_tls)
    arn = new_secret(pg_secret(pg_tls, user, password))
    args = ("check", "--local", "--no-iam", "--rotator", "postgresql-single", arn, "--output")
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(certs.cert))  # not the CA that signed it
    wrong = run(capsys, *args, "json")
    assert wrong.code == 1
    [entry] = wrong.json()["secrets"]
    assert failed(entry) == {"server reachable"}
    assert "ROTOR_CA_BUNDLE" in reasons(entry)["server reachable"]
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(certs.ca))
    right = run(capsys, *args, "json")
    assert right.code == 0, right.out
    assert "verified TLS" in reasons(right.json()["secrets"][0])["server reachable"]


def test_mariadb_alternating_passes_with_the_servers_limit(
    capsys: Any, sm: Any, mdb: Any, make_user: Any, new_secret: Any, mdb_admin_arn: str
) -> None:
    user, password = make_user(mdb)
    value = {**mdb.admin_secret(), "username": user, "password": password}
    arn = new_secret({**value, "engine": "mariadb", "masterarn": mdb_admin_arn})
    ran = run(capsys, "check", "--local", "--no-iam", arn, "--output", "json")
    assert ran.code == 0, ran.out
    [entry] = ran.json()["secrets"]
    assert entry["rotator"] == "mysql-alternating"  # from the value: engine and masterarn
    assert "the server's limit" in reasons(entry)["clone name fits"]


def test_redis_acl_users(capsys: Any, sm: Any, rotor_redis: Any, new_secret: Any) -> None:
    admin = new_secret(rotor_redis.admin_secret())
    user, password = make_redis_user(rotor_redis)
    good = new_secret(user_secret(rotor_redis, user, password, admin))
    wrong = new_secret(user_secret(rotor_redis, user, "not-the-password-0123", admin))
    hashes = stored_hashes(rotor_redis, user)
    ran = run(capsys, "check", "--local", "--no-iam", good, wrong, "--output", "json")
    assert ran.code == 3, ran.err
    entries = by_name(ran.json())
    assert entries[named(sm, good)]["rotator"] == "redis"  # as `rotor rotators` names it
    assert failed(entries[named(sm, good)]) == set()
    assert statuses(entries[named(sm, good)])["admin logs in"] == "pass"
    assert failed(entries[named(sm, wrong)]) == {"current login"}
    assert stored_hashes(rotor_redis, user) == hashes  # no password added or dropped
    assert password not in ran.out


def test_api_key_checks_prove_the_key_at_the_provider(
    capsys: Any, sm: Any, new_secret: Any
) -> None:
    with FakeSendGrid() as api:
        admin = api.add_key("rotor-admin", scopes=SENDGRID_ADMIN_SCOPES)
        admin_arn = new_secret(
            {"api_key": admin.secret, "base_url": api.base_url, "provider": "sendgrid"}
        )

        def secret(key: Any) -> str:
            return new_secret(
                {
                    "provider": "sendgrid",
                    "api_key": key.secret,
                    "key_id": key.key_id,
                    "adminarn": admin_arn,
                }
            )

        good = secret(api.add_key("payments", scopes=["mail.send"]))
        stranger = api.add_key("other-account", scopes=["mail.send"], account="other")
        foreign = secret(stranger)
        keys_before = len(api.keys)
        ran = run(capsys, "check", "--local", "--no-iam", good, foreign, "--output", "json")
        assert len(api.keys) == keys_before  # no key made, none revoked
    assert ran.code == 3, ran.err
    entries = by_name(ran.json())
    assert failed(entries[named(sm, good)]) == set()
    assert entries[named(sm, good)]["rotator"] == "apikey"
    # a working key of another account: it works, but the admin does not own it
    assert failed(entries[named(sm, foreign)]) == {"key owned"}
    assert "not proven" in reasons(entries[named(sm, foreign)])["key owned"]
    assert admin.secret not in ran.out and stranger.secret not in ran.out


# --- the function's check mode, invoked directly --------------------------------------------
def test_the_handler_runs_the_checks_for_a_check_event(sm: Any, alternating: Any) -> None:
    arn = alternating()
    function = "arn:aws:lambda:us-east-1:123456789012:function:rotor-local"  # LambdaContext's
    configure_rotation(sm, arn, function + ":live")  # a qualified ARN names it too
    before = stages(sm, arn)
    report = handler("postgresql_alternating")({"RotorCheck": {"SecretId": arn}}, LambdaContext())
    assert report["passed"] is True and report["secret_arn"] == arn
    assert report["rotator"] == "postgresql-alternating"
    assert report["admin_arn"] == secret_value(sm, arn)["masterarn"]
    assert {c["check"]: c["status"] for c in report["checks"]}["rotation configured"] == "pass"
    assert json.loads(json.dumps(report)) == report
    assert stages(sm, arn) == before


def test_the_check_mode_refuses_what_it_must(sm: Any, alternating: Any) -> None:
    arn = alternating()
    run_check = handler("postgresql_alternating")
    with pytest.raises(EventError, match="no 'Step'"):
        run_check({"RotorCheck": {"SecretId": arn}, "Step": "setSecret"}, LambdaContext())
    with pytest.raises(EventError, match="SecretId"):
        run_check({"RotorCheck": {}}, LambdaContext())
    configure_rotation(sm, arn, function_arn("someone-else"))
    with pytest.raises(StateError, match="not by this function"):
        run_check({"RotorCheck": {"SecretId": arn}}, LambdaContext())
    with pytest.raises(StateError, match="does not exist"):
        run_check({"RotorCheck": {"SecretId": arn + "-gone"}}, LambdaContext())


def test_the_checks_store_refuses_every_write(sm: Any) -> None:
    store = preflight.ReadOnlyStore(SecretStore(sm))
    for write in (store.put_pending, store.move_stage, store.remove_stage):
        with pytest.raises(StateError, match="nothing was written"):
            write("x", "y", "z", "w")


# --- through the deployed function (Lambda Invoke), and IAM ---------------------------------
@pytest.fixture
def lambda_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Function]]:
    functions: dict[str, Function] = {}
    with serve(LambdaApi, functions) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", url)
        yield functions


@pytest.fixture
def iam_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Iam]:
    state = Iam()
    with serve(IamApi, state) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", url)
        yield state


def deployed(sm: Any, functions: dict[str, Function], arn: str, rotator: str) -> Function:
    """The secret rotated by a function running the real handler behind the fake Lambda."""
    name = f"rotor-{unique_user('fn')}"
    functions[name] = Function(handler(rotator))
    configure_rotation(sm, arn, function_arn(name))
    return functions[name]


def test_via_the_function_and_iam_unchecked_on_moto(
    capsys: Any, sm: Any, alternating: Any, lambda_api: Any
) -> None:
    arn = alternating()
    deployed(sm, lambda_api, arn, "postgresql_alternating")
    team = unique_user("team")
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "team", "Value": team}])
    ran = run(capsys, "check", "--tag", f"team={team}", "--output", "json")
    assert ran.code == 0, ran.err
    doc = ran.json()
    assert doc["mode"] == "function"
    [entry] = doc["secrets"]
    assert entry["function"].startswith("arn:aws:lambda:") and entry["passed"] is True
    assert entry["rotator"] == "postgresql-alternating"
    got = statuses(entry)
    assert all(got[name] == "pass" for name in ALTERNATING_CHECKS), got
    assert got["iam"] == "unchecked"  # moto has no policy simulation
    assert "cannot simulate" in reasons(entry)["iam"]


def test_iam_simulation_passes_and_fails_per_action(
    capsys: Any, sm: Any, alternating: Any, lambda_api: Any, iam_api: Iam
) -> None:
    arn = alternating()
    function = deployed(sm, lambda_api, arn, "postgresql_alternating")
    function.environment["PASSWORD_SOURCE"] = "secretsmanager"
    admin = secret_value(sm, arn)["masterarn"]
    iam_api.allowed = {
        ("secretsmanager:DescribeSecret", arn),
        ("secretsmanager:GetSecretValue", arn),
        ("secretsmanager:PutSecretValue", arn),
        ("secretsmanager:GetSecretValue", admin),
        ("secretsmanager:GetRandomPassword", "*"),
    }
    ran = run(capsys, "check", arn, "--output", "json")
    assert ran.code == 1
    [entry] = ran.json()["secrets"]
    assert failed(entry) == {"iam secretsmanager:UpdateSecretVersionStage"}
    assert "implicitDeny" in reasons(entry)["iam secretsmanager:UpdateSecretVersionStage"]
    assert statuses(entry)["iam secretsmanager:GetRandomPassword"] == "pass"
    assert {tuple(a["resources"]) for a in iam_api.asked} == {(arn,), (admin,), ("*",)}

    iam_api.denied = True  # the caller may not simulate: unchecked, not failed
    ran = run(capsys, "check", arn, "--output", "json")
    assert ran.code == 0
    assert "grant iam:SimulatePrincipalPolicy" in reasons(ran.json()["secrets"][0])["iam"]


def test_function_failures_are_reported_per_secret(
    capsys: Any, sm: Any, alternating: Any, lambda_api: Any
) -> None:
    gone, broken, odd, none = alternating(), alternating(), alternating(), alternating()
    configure_rotation(sm, gone, function_arn("never-deployed"))
    deployed(sm, lambda_api, broken, "postgresql_alternating").handler = _old_rotor
    deployed(sm, lambda_api, odd, "postgresql_alternating").handler = _not_rotor
    ran = run(capsys, "check", gone, broken, odd, none, "--no-iam", "--output", "json")
    assert ran.code == 3
    entries = by_name(ran.json())
    assert "ResourceNotFoundException" in reasons(entries[named(sm, gone)])["function checks"]
    assert "update its layer" in reasons(entries[named(sm, broken)])["function checks"]
    assert "no check result" in reasons(entries[named(sm, odd)])["function checks"]
    unconfigured = entries[named(sm, none)]
    assert statuses(unconfigured) == {"function checks": "unchecked"}
    assert unconfigured["passed"] is True


def _not_rotor(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Some other function: it answers, but not with checks."""
    return {"checks": [{"check": "x", "status": "great"}]}


def _old_rotor(event: dict[str, Any], context: Any) -> None:
    """A function deployed before check mode existed: the check event is no rotation event."""
    raise EventError("Event 'Step' must be one of: createSecret, setSecret, ...")


def test_the_operator_install_checks_through_the_function(
    sm: Any, alternating: Any, lambda_api: Any, tmp_path: Any
) -> None:
    arn = alternating()
    deployed(sm, lambda_api, arn, "postgresql_alternating")
    loaded = tmp_path / "modules.json"
    ran = without(DEV_ONLY, "check", arn, "--output", "json", report=loaded)
    assert ran.code == 0, ran.err
    assert ran.json()["secrets"][0]["passed"] is True
    modules = json.loads(loaded.read_text())
    assert not [m for m in modules if m.split(".")[0] in DEV_ONLY]
    assert "rotor.preflight" not in modules  # the checks ran in the function, not here


def test_usage_errors_are_one_line(capsys: Any, alternating: Any) -> None:
    arn = alternating()
    ran = run(capsys, "check", arn, "--rotator", "postgresql-single")
    assert ran.code == 2 and "needs --local" in ran.error_line()
    assert run(capsys, "check").code == 2
    missing = run(capsys, "check", arn + "-nope")
    assert missing.code == 4 and "not found" in missing.error_line()
    both = run(capsys, "check", arn, "--local", "--via-function")
    assert both.code == 2


def test_local_needs_the_development_kit(sm: Any, new_secret: Any) -> None:
    arn = new_secret({"engine": "postgres"})
    ran = without(DEV_ONLY, "check", "--local", arn)
    assert ran.code == 7 and "pip install 'rotor[dev]'" in ran.error_line()


def test_a_secret_that_names_no_rotator_fails_its_line(
    capsys: Any, sm: Any, new_secret: Any
) -> None:
    arn = new_secret({"user": "app"})
    ran = run(capsys, "check", "--local", "--no-iam", arn, "--output", "json")
    assert ran.code == 1
    [entry] = ran.json()["secrets"]
    assert statuses(entry) == {"rotator": "fail"} and entry["rotator"] is None
    assert "rotor:rotator" in reasons(entry)["rotator"]


def test_a_custom_rotator_gets_the_base_checks(capsys: Any, sm: Any, new_secret: Any) -> None:
    arn = new_secret({"host": "127.0.0.1", "username": "app", "password": "x" * 12})
    ran = run(
        capsys,
        "check",
        "--local",
        "--no-iam",
        "--handler",
        "tests/kit/redis_users/app.py",
        arn,
        "--output",
        "json",
    )
    assert ran.code == 0, ran.err
    [entry] = ran.json()["secrets"]
    assert entry["rotator"] == "redis-users"
    assert statuses(entry) == {"rotation configured": "skipped", "secret readable": "pass"}
