"""A fleet deployed from the previous release updates in place to this one (docs/upgrading.md).

The previous release's template and samconfig.toml are kept as they shipped
(tests/deploy/releases/<version>/). Updating a stack to this template must not refuse the values
it runs with (every parameter still there, each override and default still accepted, the Rules
still hold), must not replace what holds state or points secrets at a function (logical ids and
names of log groups, schedules, topics, rules, alarms and functions kept), must keep the
exports other stacks import, and the new template must build: the session's `sam build`
(tests/deploy/conftest.py) is this template, and its layer carries this version. cfn-lint and
`sam validate` of this template are in test_template.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rotor._version import __version__

from deploy.changelog import CHANGELOG, entries
from tests.deploy import cfn
from tests.deploy.stack_parameters import problems, samconfig_overrides

RELEASES = Path(__file__).parent / "releases"
PREVIOUS = sorted((p.name for p in RELEASES.iterdir() if p.is_dir()), key=lambda v: v.split("."))
# Renaming one of these replaces it: its logs, schedule, alarm history or the ARN that secrets'
# rotation configuration points at would be lost.
KEPT = (
    "AWS::Serverless::Function",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::SNS::Topic",
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
)
NAMES = ("FunctionName", "LogGroupName", "TopicName", "Name", "AlarmName")
ENVS = ("default", "staging", "prod")


def previous(version: str) -> dict[str, Any]:
    return cfn.load(RELEASES / version / "template.yaml")


def breaking_since(version: str) -> str:
    """The CHANGELOG's **Breaking** lines of the releases after ``version``."""
    lines = []
    for release, body in entries(CHANGELOG.read_text()).items():
        if release == version:
            break
        lines += [line for line in body.splitlines() if "**Breaking**" in line]
    return "\n".join(lines)


def test_the_previous_release_is_kept_as_it_shipped() -> None:
    assert PREVIOUS, "keep the last release's template.yaml under tests/deploy/releases/<version>/"
    assert __version__ not in PREVIOUS
    for version in PREVIOUS:
        assert f"## [{version}] - " in CHANGELOG.read_text(), version
        assert (RELEASES / version / "samconfig.toml").is_file()


@pytest.mark.parametrize("version", PREVIOUS)
def test_every_parameter_remains_with_its_type(version: str, template: dict[str, Any]) -> None:
    """A stack's parameters stay valid: one removed, retyped or added without a default would
    fail the update, unless the CHANGELOG flags it as breaking and says what to do."""
    old, new = previous(version)["Parameters"], template["Parameters"]
    breaking = breaking_since(version)
    for name, param in old.items():
        if name not in breaking:
            assert name in new, f"parameter {name} removed without a **Breaking** CHANGELOG entry"
            assert new[name].get("Type") == param.get("Type"), f"{name} changed its type"
    for name, param in new.items():
        if name not in old and name not in breaking:
            assert "Default" in param, f"new parameter {name} has no default: stacks lack it"


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("version", PREVIOUS)
def test_the_previous_overrides_are_accepted(
    version: str, env: str, template: dict[str, Any]
) -> None:
    """What `sam deploy --config-env ENV` of the previous release passed, and the new defaults
    for the rest, pass every parameter constraint and every Rule of the new template."""
    overrides = samconfig_overrides(RELEASES / version, env)
    assert problems(template, overrides) == []


@pytest.mark.parametrize("version", PREVIOUS)
def test_the_previous_defaults_are_accepted(version: str, template: dict[str, Any]) -> None:
    """A stack may hold the previous defaults as explicit values (or keep them with
    UsePreviousValue): they must still be accepted."""
    old = previous(version)["Parameters"]
    defaults = {
        name: str(p["Default"])
        for name, p in old.items()
        if "Default" in p and name in template["Parameters"]
    }
    assert problems(template, defaults) == []


@pytest.mark.parametrize("version", PREVIOUS)
def test_nothing_that_holds_state_is_renamed(version: str, template: dict[str, Any]) -> None:
    old = previous(version)["Resources"]
    new = template["Resources"]
    kept = {name: r for name, r in old.items() if r["Type"] in KEPT}
    assert kept
    for name, resource in kept.items():
        assert name in new, f"{name} ({resource['Type']}) renamed or removed: it would be replaced"
        assert new[name]["Type"] == resource["Type"], name
        for prop in NAMES:
            assert new[name].get("Properties", {}).get(prop) == resource.get("Properties", {}).get(
                prop
            ), f"{name}.{prop} changed: the resource would be replaced"


@pytest.mark.parametrize("version", PREVIOUS)
def test_the_exports_other_stacks_import_remain(version: str, template: dict[str, Any]) -> None:
    """CloudFormation refuses to remove an export another stack imports."""

    def exports(t: dict[str, Any]) -> dict[str, Any]:
        return {k: v["Export"]["Name"] for k, v in t.get("Outputs", {}).items() if "Export" in v}

    old, new = exports(previous(version)), exports(template)
    assert old
    for output, name in old.items():
        assert new.get(output) == name, f"export of {output} changed or removed"


def test_the_new_template_builds_and_its_layer_is_this_version(
    built: Path, template: dict[str, Any]
) -> None:
    """The update's new code: `sam build` of this template (the session's) has every function
    of the previous release, all on the rebuilt layer, which carries this version."""
    built_template = cfn.load(built / "template.yaml")
    for version in PREVIOUS:
        functions = [n for n, r in previous(version)["Resources"].items() if r["Type"] == KEPT[0]]
        assert set(functions) <= set(built_template["Resources"]), version
    layer_version = (built / "RotorLayer" / "python" / "rotor" / "_version.py").read_text()
    assert re.search(rf'^__version__ = "{re.escape(__version__)}"$', layer_version, re.M)
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "RotorLayer"}]


# --- the checker itself catches what an upgrade would refuse ------------------------------
def test_the_checker_refuses_what_cloudformation_would(template: dict[str, Any]) -> None:
    found = problems(
        template,
        {
            "NoSuchParameter": "x",
            "LogLevel": "LOUD",
            "PasswordLength": "2",
            "RotationSchedule": "every tuesday",
            "PostgresqlSingleScheduledSecret": "arn:aws:secretsmanager:eu-west-1:1:secret:x",
        },
    )
    joined = "\n".join(found)
    assert "NoSuchParameter: no such parameter" in joined
    assert "LogLevel: 'LOUD' is not one of" in joined
    assert re.search(r"PasswordLength: 2(\.0)? is below", joined), joined
    assert "RotationSchedule: 'every tuesday' does not match" in joined
    assert "rule PostgresqlSingleScheduleNeedsRotator:" in joined
    assert len(found) == 5, found
