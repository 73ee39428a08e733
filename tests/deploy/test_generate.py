"""template.yaml and the documentation's tables are what deploy/generate.py makes of the rotator
and settings tables: regenerating changes nothing, the YAML reads back as built, a new rotator
is one row, and every function gets the settings of the code it runs."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest
import yaml
from rotor.settings import TABLE, Var

from deploy import cfn_yaml
from deploy import template as generator
from deploy.cfn_yaml import Key
from deploy.rotators import ROTATORS
from tests.deploy import cfn

FUNCTION = "AWS::Serverless::Function"


def test_regenerating_changes_nothing() -> None:
    """Both templates (template.yaml and apps/rotation's) and the docs' tables."""
    from deploy import generate

    assert {cfn.TEMPLATE, cfn.APP, cfn.ROOT / "docs" / "migrating.md"} <= set(generate.generated())
    proc = cfn.run([sys.executable, "deploy/generate.py", "--check"], timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_template_reads_back_as_built(template: dict[str, Any]) -> None:
    assert template == cfn_yaml.as_cfn(generator.build())


def test_writer_keeps_awkward_values() -> None:
    """Strings YAML would read as something else, flow indicators, folds, nested functions."""
    awkward = [
        "yes",
        "No",
        "on",
        "null",
        "~",
        "3h",
        "0x1F",
        "2012-10-17",
        "",
        " padded ",
        "a: b",
        "ends:",
        "#hash",
        "x #y",
        "- dash",
        "*star",
        "&anchor",
        "!bang",
        "@at",
        "%pct",
        "`tick`",
        "{brace}",
        "[bracket]",
        "a, b",
        "quote's",
        'say "hi"',
        "back\\slash",
        "…ellipsis",
        "tab\there",
        "line\nbreak",
        "${AWS::Region}-x",
        "^(rate\\(\\d+ (hour|hours)\\)|cron\\(.+\\))$",
        "trailing space ",
    ]
    long_text = " ".join(["word"] * 60)
    document = {
        "Strings": {f"k{i}": value for i, value in enumerate(awkward)},
        "InFlow": [[value] for value in awkward],
        "Numbers": [0, 32, 4096, 0.5, True, False],
        Key("Folded", "a comment\nover two lines", blank=True): {
            "Plain": long_text,
            "Sub": cfn_yaml.sub(long_text + " ${AWS::StackName}"),
            "Unfoldable": "x" * 150,
            "DoubleSpace": ("a  b " * 30).strip(),
        },
        "Functions": {
            "If": cfn_yaml.if_("C", {"Sid": "S", "Action": ["a:b", "c:d"]}, cfn_yaml.NO_VALUE),
            "Nested": cfn_yaml.split(
                ",",
                cfn_yaml.join(
                    ",",
                    [
                        cfn_yaml.join(",", cfn_yaml.ref("A" * 40)),
                        cfn_yaml.join(",", cfn_yaml.ref("B" * 40)),
                    ],
                ),
            ),
            "GetAtt": cfn_yaml.get_att("Res", "Arn"),
            "Empty": [],
            "EmptyMap": {},
            "ListOfLists": [[{"Id": "x", "Arn": cfn_yaml.ref("T")}], [1, 2]],
        },
    }
    text = cfn_yaml.dump(document, "header\nlines")
    assert text.startswith("# header\n# lines\n")
    assert "\n\n# a comment\n# over two lines\nFolded:\n" in text
    assert (
        max(len(line) for line in text.splitlines() if "xxxxx" not in line and "a  b" not in line)
        <= cfn_yaml.WIDTH
    )
    assert yaml.load(text, Loader=cfn.CfnLoader) == cfn_yaml.as_cfn(document)


def test_adding_a_rotator_is_a_row() -> None:
    """A new row (here a second MySQL rotator) gets everything the others have, scoped and
    least-privilege as they are."""
    row = replace(ROTATORS[3], name="MysqlReplica", title="MySQL replica users")
    built = cfn_yaml.as_cfn(generator.build((*ROTATORS, row)))
    resources, params = built["Resources"], built["Parameters"]
    for kind in (
        "Function",
        "LogGroup",
        "Role",
        "InvokePermission",
        "RotationSchedule",
        "ErrorsAlarm",
    ):
        assert f"MysqlReplica{kind}" in resources, kind
    for name in ("SecretArns", "AdminSecretArns", "ScheduledSecret"):
        assert f"MysqlReplica{name}" in params, name
    assert {"DeployMysqlReplica", "ScheduleMysqlReplica"} <= set(built["Conditions"])
    assert {"MysqlReplicaNeedsAdminSecrets", "MysqlReplicaScheduleNeedsRotator"} <= set(
        built["Rules"]
    )
    assert built["Outputs"]["MysqlReplicaFunctionArn"]["Condition"] == "DeployMysqlReplica"
    groups = built["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any("MysqlReplicaSecretArns" in g["Parameters"] for g in groups)
    function = resources["MysqlReplicaFunction"]["Properties"]
    assert function["Environment"]["Variables"] == {
        "ROTOR_MYSQL_MAX_USERNAME": {"Ref": "MysqlMaxUsernameLength"}
    }
    assert cfn.check_iam(built) == []
    assert cfn.check_permissions(built, FUNCTION) == []
    rds = [
        st
        for st in cfn.statements(built)
        if st.where.startswith("MysqlReplicaRole")
        and any(a.startswith("rds:") for a in st.actions())
    ]
    assert [st.conditions for st in rds] == [("HasRdsManagedAdmins",)]


def test_every_rotator_row_is_deployed(template: dict[str, Any]) -> None:
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == FUNCTION}
    assert sorted(functions) == sorted(f"{r.name}Function" for r in ROTATORS)
    for r in ROTATORS:
        assert functions[f"{r.name}Function"]["Properties"]["CodeUri"] == f"rotators/{r.directory}/"


def _loaded_modules(directory: str) -> set[str]:
    """The modules importing the rotator's handler loads, in a fresh interpreter."""
    code = (
        f"import sys; sys.path.insert(0, 'rotators/{directory}'); import app; "
        "print(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.check_output([sys.executable, "-c", code], cwd=cfn.ROOT, text=True)
    return set(out.split())


@pytest.mark.parametrize("rotator", ROTATORS, ids=lambda r: r.name)
def test_each_function_gets_the_settings_of_the_code_it_runs(
    rotator: Any, template: dict[str, Any]
) -> None:
    """Every setting with a parameter reaches the functions that read it: in Globals when every
    rotator does, else on exactly the functions whose handler loads the module that reads it."""
    loaded = _loaded_modules(rotator.directory)
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    own = (
        template["Resources"][f"{rotator.name}Function"]["Properties"]
        .get("Environment", {})
        .get("Variables", {})
    )
    expected = {}
    for var in TABLE:
        if var.parameter is None:
            assert var.name not in globals_ and var.name not in own, var.name
        elif var.scope is None:
            assert globals_[var.name] == {"Ref": var.parameter}, var.name
        elif var.scope in loaded:
            expected[var.name] = {"Ref": var.parameter}
    assert own == expected


def _parameter(var: Var[Any], template: dict[str, Any]) -> dict[str, Any]:
    assert var.parameter is not None
    return dict(template["Parameters"][var.parameter])


@pytest.mark.parametrize("var", [v for v in TABLE if v.parameter], ids=lambda v: v.name)
def test_parameters_default_and_allow_what_rotor_accepts(
    var: Var[Any], template: dict[str, Any]
) -> None:
    """The parameter's default is rotor's default, and every value it allows parses."""
    param = _parameter(var, template)
    assert var.kind.parse(var.name, str(param["Default"])) == var.default
    for allowed in param.get("AllowedValues", []):
        var.kind.parse(var.name, str(allowed))
    if "AllowedPattern" in param:
        pattern = re.compile(param["AllowedPattern"])
        assert pattern.fullmatch("")
        assert not pattern.fullmatch("not a value of this kind")
    if param["Type"] == "Number":
        assert var.kind.parse(var.name, str(param["MinValue"])) == param["MinValue"]
        assert var.kind.parse(var.name, str(param["MaxValue"])) == param["MaxValue"]
    assert param["Description"].startswith(f"{var.name}: ")


def test_blank_numeric_parameters_match_what_rotor_parses(template: dict[str, Any]) -> None:
    """Values a parameter's pattern lets through parse (or fail only rotor's range check)."""
    for var in TABLE:
        if not var.parameter or "AllowedPattern" not in _parameter(var, template):
            continue
        pattern = re.compile(_parameter(var, template)["AllowedPattern"])
        for value in (
            "1",
            "10",
            "0.5",
            "5.",
            ".5",
            "https://vpce-1.example.com",
            "x1",
            "-1",
            "1e3",
            "1.2.3",
            "http://10.0.0.1",
        ):
            if pattern.fullmatch(value):
                try:
                    var.kind.parse(var.name, value)
                except Exception as exc:  # a range check may still refuse it: say which
                    assert "between" in str(exc) or "from" in str(exc), (var.name, value, exc)


def test_generated_sections_are_marked() -> None:
    """A begin marker without its end is an error, not a silently skipped section."""
    from deploy import docs

    broken = docs.BEGIN.format(name="settings") + "\nold table\n"
    with pytest.raises(ValueError, match="has no"):
        docs.fill(broken, "broken.md")
    begin, end = docs.BEGIN.format(name="settings"), docs.END.format(name="settings")
    filled = docs.fill(f"before\n{begin}\nSTALE ROW\n{end}\nafter\n", "fresh.md")
    assert "STALE ROW" not in filled and "`PASSWORD_LENGTH`" in filled
    assert filled.startswith(f"before\n{begin}\n") and filled.endswith(f"\n{end}\nafter\n")
    assert docs.fill(filled, "again.md") == filled
