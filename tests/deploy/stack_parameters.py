"""A stack's parameter values judged against a template as CloudFormation judges them when an
update starts: each value against its parameter's type and constraints, then the template's
Rules evaluated on the values. An update that fails here fails before it changes anything."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

LIST_TYPES = ("CommaDelimitedList", "List<Number>")


def samconfig_overrides(directory: Path, env: str) -> dict[str, str]:
    """The ``parameter_overrides`` of ``env`` in ``directory``/samconfig.toml, parsed by the SAM
    CLI itself (quoting and spaces as `sam deploy` reads them)."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    deploy = SamConfig(str(directory)).get_all(["deploy"], "parameters", env=env)
    raw = deploy.get("parameter_overrides")
    return dict(CfnParameterOverridesType().convert(raw, None, None)) if raw else {}


def stack_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """What the stack runs with: the values given, the template's defaults for the rest."""
    values = {
        name: str(param["Default"])
        for name, param in template.get("Parameters", {}).items()
        if "Default" in param
    }
    return {**values, **given}


def value_problems(param: dict[str, Any], value: str) -> list[str]:
    """Why CloudFormation would refuse ``value`` for ``param`` (empty: accepted)."""
    kind = param.get("Type", "String")
    items = [v.strip() for v in value.split(",")] if kind in LIST_TYPES else [value]
    found = []
    if "AllowedValues" in param and value not in [str(v) for v in param["AllowedValues"]]:
        found.append(f"{value!r} is not one of {param['AllowedValues']}")
    for item in items:
        if "AllowedPattern" in param and not re.fullmatch(param["AllowedPattern"], item):
            found.append(f"{item!r} does not match {param['AllowedPattern']}")
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                found.append(f"{item!r} is not a number")
                continue
            if "MinValue" in param and number < float(param["MinValue"]):
                found.append(f"{item} is below {param['MinValue']}")
            if "MaxValue" in param and number > float(param["MaxValue"]):
                found.append(f"{item} is above {param['MaxValue']}")
    if "MinLength" in param and len(value) < int(param["MinLength"]):
        found.append(f"{value!r} is shorter than {param['MinLength']}")
    if "MaxLength" in param and len(value) > int(param["MaxLength"]):
        found.append(f"{value!r} is longer than {param['MaxLength']}")
    return found


def problems(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    """Everything CloudFormation would refuse in an update of ``template`` with ``given``."""
    params = template.get("Parameters", {})
    found = [f"{name}: no such parameter" for name in given if name not in params]
    values = stack_values(template, {k: v for k, v in given.items() if k in params})
    for name, param in params.items():
        if name not in values:
            found.append(f"{name}: has no default and no value")
            continue
        found += [f"{name}: {problem}" for problem in value_problems(param, values[name])]
    for name, rule in template.get("Rules", {}).items():
        if not evaluate(rule.get("RuleCondition", True), values, params):
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], values, params):
                found.append(f"rule {name}: {assertion.get('AssertDescription', 'fails')}")
    return found


def evaluate(expression: Any, values: dict[str, str], params: dict[str, Any]) -> Any:
    """A rule's condition or assertion on the stack's values. The rule functions rotor's
    templates use; any other is an error, so a new one cannot pass unevaluated."""
    if not isinstance(expression, dict):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        value = values[argument]
        kind = params[argument].get("Type", "String")
        return [v.strip() for v in value.split(",")] if kind in LIST_TYPES else value
    args = [evaluate(a, values, params) for a in argument]
    if function == "Fn::Not":
        return not args[0]
    if function == "Fn::And":
        return all(args)
    if function == "Fn::Or":
        return any(args)
    if function == "Fn::Equals":
        return args[0] == args[1]
    if function == "Fn::Contains":
        return args[1] in args[0]
    if function == "Fn::EachMemberEquals":
        return all(member == args[1] for member in args[0])
    if function == "Fn::EachMemberIn":
        return all(member in args[1] for member in args[0])
    raise NotImplementedError(f"rule function {function}: teach tests/deploy/stack_parameters.py")
