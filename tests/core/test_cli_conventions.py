"""The conventions every `rotor` command follows (docs/cli.md): --version, help for every
option, one-line errors with distinct exit codes, JSON output, global options anywhere, and a
core that runs without the development kit."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from rotor.cli.app import build_parser
from rotor.local.rotators import catalog

from tests.conftest import ROOT
from tests.core.cli_support import DEV_ONLY, SCRIPT, run, script, without
from tests.pg import pg_secret


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_and_argument_has_help():
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{parser.prog}: {action.option_strings or action.dest}"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["rotate", "x", "--rotator", "postgresql-single", "--attempts", "0"],
            "rotor: rotate: argument --attempts: expected a whole number of at least 1, not '0' "
            "(see `rotor rotate --help`)",
        ),
        (
            ["rotate", "x", "--rotator", "a", "--handler", "b"],
            "rotor: rotate: argument --handler: not allowed with argument --rotator "
            "(see `rotor rotate --help`)",
        ),
        (
            ["stages", "x", "--endpoint", "http://127.0.0.1:1"],  # abbreviations are refused
            "rotor: stages: unrecognized arguments: --endpoint http://127.0.0.1:1; did you mean "
            "--endpoint-url? (see `rotor stages --help`)",
        ),
        ([], "rotor: the following arguments are required: COMMAND (see `rotor --help`)"),
        (["rotat"], "rotor: argument COMMAND: invalid choice: 'rotat' (choose from "),
        (["--output", "yaml", "rotators"], "rotor: argument --output: invalid choice: 'yaml' "),
    ],
)
def test_usage_errors_are_one_line_with_code_2(capsys, args, message):
    """(argparse words some messages differently across Python versions: a prefix then.)"""
    ran = run(capsys, *args)
    assert ran.code == 2 and ran.out == ""
    line = ran.error_line()
    assert line.startswith(message) and line.endswith(" --help`)")


def test_global_options_go_before_or_after_the_command(capsys):
    before = run(capsys, "--output", "json", "rotators")
    after = run(capsys, "rotators", "--output", "json")
    assert before.code == after.code == 0 and before.json() == after.json()


def test_rotators_are_described_whole(capsys):
    doc = run(capsys, "rotators", "--output", "json").json()
    expected = {r.name: r for r in catalog()}
    assert [r["name"] for r in doc["rotators"]] == sorted(expected)
    for item in doc["rotators"]:
        assert set(item) == {"name", "handler", "path", "description"}
        assert item["description"] == expected[item["name"]].description
        assert (ROOT / item["handler"].rpartition(".")[0]).with_suffix(".py").is_file()
    multi = next(r for r in doc["rotators"] if r["name"] == "mysql-alternating")
    assert multi["description"].endswith(
        "copying the original's grants to the clone on every rotation."
    )
    table = " ".join(run(capsys, "rotators").out.split())
    for item in doc["rotators"]:  # wrapped to the terminal, never cut
        assert f"{item['name']} {item['description']}" in table


def test_stages_json_shape(capsys, sm, moto_endpoint, new_secret):
    arn = new_secret({"a": "b"})
    ran = run(capsys, "stages", arn, "--endpoint-url", moto_endpoint, "--output", "json")
    assert ran.code == 0 and ran.err == ""
    doc = ran.json()
    (version,) = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert doc == {
        "name": arn.split(":")[-1].rsplit("-", 1)[0],
        "arn": arn,
        "rotation_enabled": False,
        "versions": {version: ["AWSCURRENT"]},
    }


def test_rotate_json_shape(capsys, pg, moto_endpoint, new_secret, make_role):
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    ran = run(
        capsys,
        "rotate",
        arn,
        "--rotator",
        "postgresql-single",
        "--endpoint-url",
        moto_endpoint,
        "--output",
        "json",
    )
    assert ran.code == 0 and ran.err == ""
    doc = ran.json()  # the whole of stdout: no step lines, no logs
    assert set(doc) == {
        "secret_id",
        "token",
        "resumed",
        "succeeded",
        "attempts",
        "steps",
        "versions_before",
        "versions_after",
        "in_progress",
    }
    assert doc["succeeded"] is True and doc["resumed"] is False and doc["attempts"] == 1
    assert doc["in_progress"] is None
    assert [s["step"] for s in doc["steps"]] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert set(doc["steps"][0]) == {"attempt", "step", "seconds", "error", "permanent"}
    assert doc["versions_after"][doc["token"]] == ["AWSCURRENT"]
    assert old not in ran.out


def test_errors_in_json_mode_leave_stdout_empty(capsys, moto_endpoint):
    ran = run(
        capsys, "stages", "no-such-secret", "--endpoint-url", moto_endpoint, "--output", "json"
    )
    assert ran.code == 4 and ran.out == ""
    ran.error_line()


def test_a_failed_rotation_in_json_mode_still_reports(capsys, moto_endpoint, new_secret):
    arn = new_secret({"engine": "postgres", "host": "127.0.0.1", "username": "u"})
    ran = run(
        capsys,
        "rotate",
        arn,
        "--rotator",
        "postgresql-single",
        "--endpoint-url",
        moto_endpoint,
        "--output",
        "json",
    )
    assert ran.code == 1
    doc = ran.json()
    assert doc["succeeded"] is False and doc["in_progress"] == doc["token"]
    assert doc["steps"][-1]["permanent"] is True
    assert ran.error_line().startswith("rotor: rotation failed")


def test_debug_shows_the_cause_but_no_secret(capsys, moto_endpoint, new_secret):
    value = {
        "engine": "postgres",
        "host": "127.0.0.1",
        "username": "u",
        "password": "Debug-Secret-Value-123",
        "port": 1,
        "ssl": False,
    }
    arn = new_secret(value)
    ran = run(
        capsys,
        "rotate",
        arn,
        "--rotator",
        "postgresql-single",
        "--endpoint-url",
        moto_endpoint,
        "--attempts",
        "1",
        "--debug",
    )
    assert ran.code == 1
    assert "urllib3.connectionpool DEBUG" in ran.err  # the SDK's connections
    assert "Rotation step failed" in ran.err  # the handler's logs (--debug implies -v)
    assert "Debug-Secret-Value-123" not in ran.out + ran.err
    missing = run(capsys, "--debug", "stages", "no-such", "--endpoint-url", moto_endpoint)
    assert missing.code == 4 and "Traceback" in missing.err
    assert missing.err.splitlines()[-1].startswith("rotor: secret 'no-such' not found")


# --- without the development kit --------------------------------------------------------------
def test_the_core_runs_without_the_development_kit(moto_endpoint, new_secret, tmp_path):
    arn = new_secret({"a": "b"})
    report = tmp_path / "modules.json"
    ran = without(DEV_ONLY, "stages", arn, "--endpoint-url", moto_endpoint, report=report)
    assert ran.code == 0, ran.err
    assert "AWSCURRENT" in ran.out
    loaded = json.loads(report.read_text())
    dev = [
        m
        for m in loaded
        if m.startswith(("rotor.local", "rotor.testing", "rotor.observability"))
        or m.split(".")[0] in DEV_ONLY
    ]
    assert dev == []
    assert without(DEV_ONLY, "--version").code == 0


@pytest.mark.parametrize(
    "args, missing",
    [
        (["demo"], "moto"),
        (
            [
                "rotate",
                "x",
                "--rotator",
                "postgresql-single",
                "--endpoint-url",
                "http://127.0.0.1:1",
            ],
            "aws_lambda_powertools",
        ),
        (["moto-server", "--port", "0"], "moto"),
        (["new", "widget-api"], "rotor.local.scaffold"),
    ],
)
def test_dev_commands_say_what_to_install(args, missing):
    blocked = (*DEV_ONLY, "rotor.local.scaffold")
    ran = without(blocked, *args)
    assert ran.code == 7
    assert ran.error_line() == (
        f"rotor: `rotor {args[0]}` needs the development kit, which is "
        f"not installed here (no module {missing!r}): "
        "pip install 'rotor[dev]'"
    )


def test_tables_without_rich_say_what_to_install(moto_endpoint, new_secret):
    arn = new_secret({"a": "b"})
    ran = without(("rich",), "stages", arn, "--endpoint-url", moto_endpoint)
    assert ran.code == 7 and "pip install 'rotor[cli]'" in ran.error_line()
    ran = without(("rich",), "stages", arn, "--endpoint-url", moto_endpoint, "--output", "json")
    assert ran.code == 0 and ran.json()["arn"] == arn


# --- rotor new (the scaffold itself is tested with it) ----------------------------------------
@pytest.mark.parametrize(
    "name", ["Widget", "widget api", "widget-", "widget--api", "9lives", "w" * 49]
)
def test_new_refuses_a_bad_name(capsys, name):
    ran = run(capsys, "new", name)
    assert ran.code == 2 and "is not a rotator name" in ran.error_line()


def test_new_refuses_a_directory_that_is_a_file(capsys, tmp_path):
    file = tmp_path / "file"
    file.write_text("")
    ran = run(capsys, "new", "widget", "--directory", str(file))
    assert ran.code == 2
    assert ran.error_line() == f"rotor: new: --directory {file} is not a directory"


@pytest.fixture
def scaffold(monkeypatch):
    """Stands in for rotor.local.scaffold (written separately): records the call."""
    calls: list[tuple[str, Path]] = []

    def create(name: str, directory: Path) -> list[Path]:
        calls.append((name, directory))
        if name == "taken":
            raise FileExistsError(17, "File exists", str(directory / "taken"))
        return [directory / name / "app.py"]

    monkeypatch.setitem(sys.modules, "rotor.local.scaffold", types.SimpleNamespace(create=create))
    return calls


def test_new_passes_the_name_and_directory(capsys, scaffold, tmp_path):
    ran = run(capsys, "new", "widget_api", "--directory", str(tmp_path), "--output", "json")
    assert ran.code == 0, ran.err
    assert scaffold == [("widget-api", tmp_path)]
    assert ran.json() == {
        "name": "widget-api",
        "directory": str(tmp_path),
        "created": [str(tmp_path / "widget-api" / "app.py")],
    }
    ran = run(capsys, "new", "gadget")
    assert ran.code == 0 and scaffold[-1] == ("gadget", Path())


def test_new_never_overwrites(capsys, scaffold, tmp_path):
    ran = run(capsys, "new", "taken", "--directory", str(tmp_path))
    assert ran.code == 5
    assert ran.error_line() == (
        f"rotor: new: {tmp_path / 'taken'} already exists: nothing was overwritten"
    )


# --- the console script: codes really reach the shell -----------------------------------------
def test_the_console_script_exit_codes(moto_endpoint):
    assert script("--version").code == 0
    assert script("rotate").code == 2
    assert script("stages", "no-such-secret", "--endpoint-url", moto_endpoint).code == 4


@contextlib.contextmanager
def _killed_at_exit(process: subprocess.Popen[str]) -> Iterator[None]:
    """A failed assertion must not leave the test waiting for a server that never ends."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()


def test_moto_server_prints_its_endpoint_and_stops_on_ctrl_c(sm):
    with (
        subprocess.Popen(
            [str(SCRIPT), "moto-server", "--port", "0", "--output", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as server,
        _killed_at_exit(server),
    ):
        assert server.stdout is not None
        endpoint = json.loads("".join(server.stdout.readline() for _ in range(3)))["endpoint"]
        busy = script("moto-server", "--port", endpoint.rpartition(":")[2])
        assert busy.code == 5
        assert busy.error_line().startswith(
            f"rotor: cannot listen on 127.0.0.1:{endpoint.rpartition(':')[2]}"
        )
        listed = script("stages", "nothing-here", "--endpoint-url", endpoint)
        assert listed.code == 4  # a real Secrets Manager answered
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        assert server.stderr is not None and server.stderr.read() == ""


def test_ctrl_c_is_exit_130_without_a_traceback():
    with (
        subprocess.Popen(
            [str(SCRIPT), "demo"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as demo,
        _killed_at_exit(demo),
    ):
        assert demo.stdout is not None and demo.stderr is not None
        assert demo.stdout.readline().startswith("rotor demo: ")  # it is under way
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=120) == 130
        assert demo.stderr.read() == "rotor: interrupted\n"
