"""template.yaml as data: a YAML loader for CloudFormation's short tags, and the policy checks.

The checks read the template's own words (and SAM's translation of it), so a statement hidden
in one branch of an ``!If`` or added through a SAM policy template is still seen.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
APP = ROOT / "apps" / "rotation" / "template.yaml"  # one secret's function (docs/migrating.md)
NO_VALUE = {"Ref": "AWS::NoValue"}

# The one Secrets Manager action a rotation function may hold on every resource.
ANY_RESOURCE_OK = {"secretsmanager:getrandompassword"}
_SM_READ_PREFIXES = ("get", "describe", "list", "batchget", "validateresourcepolicy")
_BROAD_MANAGED = ("SecretsManagerReadWrite", "AdministratorAccess", "PowerUserAccess")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}``, ``!Sub s`` into
    ``{"Fn::Sub": "s"}`` and so on, as CloudFormation reads them."""


def _construct(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """SAM's translation to plain CloudFormation, offline (code URIs replaced by S3 stand-ins)."""
    import copy
    import os

    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = "s3://rotor-offline/stand-in.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicies())  # type: ignore[no-any-return]


# --- walking intrinsic functions -----------------------------------------------------------
@dataclass
class Found:
    """A value found in the template, with the conditions (``Fn::If``) it sits under."""

    value: Any
    conditions: tuple[str, ...] = ()


def options(value: Any, conditions: tuple[str, ...] = ()) -> Iterator[Found]:
    """Every value ``value`` can take once ``Fn::If`` is resolved, ``AWS::NoValue`` dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        cond, yes, no = value["Fn::If"]
        yield from options(yes, (*conditions, cond))
        yield from options(no, (*conditions, f"!{cond}"))
    elif value != NO_VALUE:
        yield Found(value, conditions)


def items(value: Any, conditions: tuple[str, ...] = ()) -> Iterator[Found]:
    """The elements of a list that may itself be, or contain, ``Fn::If``."""
    for option in options(value, conditions):
        if isinstance(option.value, list):
            for element in option.value:
                yield from options(element, option.conditions)
        else:
            yield option


def strings(value: Any) -> Iterator[str]:
    """Every literal string in a value (``Fn::Sub`` templates included, ``Ref`` names not)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for element in value:
            yield from strings(element)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key in ("Ref", "Condition"):
                continue
            if key == "Fn::If":
                for branch in inner[1:]:
                    yield from strings(branch)
            else:
                yield from strings(inner)


def find(value: Any, predicate: Any, conditions: tuple[str, ...] = ()) -> Iterator[Found]:
    """Every node anywhere under ``value`` for which ``predicate(node)`` holds."""
    if predicate(value):
        yield Found(value, conditions)
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            cond, yes, no = value["Fn::If"]
            yield from find(yes, predicate, (*conditions, cond))
            yield from find(no, predicate, (*conditions, f"!{cond}"))
            return
        for inner in value.values():
            yield from find(inner, predicate, conditions)
    elif isinstance(value, list):
        for inner in value:
            yield from find(inner, predicate, conditions)


def resolve(value: Any, params: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """``value`` as CloudFormation would deploy it with these parameter values and conditions
    (Ref, Fn::If, Fn::Join, Fn::Split, Fn::Sub of the pseudo parameters; AWS::NoValue
    dropped). Enough for policy documents; a reference to a resource stays its logical id."""
    if isinstance(value, list):
        found = [resolve(v, params, conditions) for v in value]
        return [v for v in found if v is not _DROPPED]
    if not isinstance(value, dict):
        return value
    if value == NO_VALUE:
        return _DROPPED
    (key, inner), *rest = value.items()
    if rest or not key.startswith(("Ref", "Fn::")):
        found = {k: resolve(v, params, conditions) for k, v in value.items()}
        return {k: v for k, v in found.items() if v is not _DROPPED}
    if key == "Ref":
        return params.get(inner, inner)
    if key == "Fn::If":
        name, yes, no = inner
        return resolve(yes if conditions[name] else no, params, conditions)
    if key == "Fn::Join":
        separator, parts = inner
        return separator.join(
            str(resolve(p, params, conditions)) for p in resolve(parts, params, conditions)
        )
    if key == "Fn::Split":
        separator, text = inner
        return str(resolve(text, params, conditions)).split(separator)
    if key == "Fn::Sub":
        for name, pseudo in PSEUDO.items():
            inner = inner.replace(f"${{{name}}}", pseudo)
        return inner
    if key == "Fn::GetAtt":
        return f"{inner[0]}.{inner[1]}"
    raise ValueError(f"resolve: {key} is not supported")


_DROPPED = object()
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}


# --- IAM ------------------------------------------------------------------------------------
@dataclass
class Statement:
    where: str
    body: dict[str, Any]
    conditions: tuple[str, ...] = ()

    def actions(self) -> list[str]:
        return [str(a.value) for a in items(self.body.get("Action", []))]

    def resources(self) -> list[str]:
        return list(strings(self.body.get("Resource", [])))


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.problems.append(message)


def statements(template: dict[str, Any]) -> Iterator[Statement]:
    """Every policy statement of every IAM resource and SAM function in the template."""
    for name, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        documents: list[tuple[str, Found]] = []
        if kind == "AWS::IAM::Role":
            for policy in items(props.get("Policies", [])):
                label = policy.value.get("PolicyName", "?")
                documents.append(
                    (
                        f"{name}/{label}",
                        Found(policy.value.get("PolicyDocument"), policy.conditions),
                    )
                )
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((name, Found(props.get("PolicyDocument"))))
        elif kind == "AWS::Serverless::Function":
            for policy in items(props.get("Policies", [])):
                if isinstance(policy.value, dict) and "Statement" in policy.value:
                    documents.append((f"{name}/Policies", policy))
        for where, document in documents:
            if not isinstance(document.value, dict):
                continue
            for statement in items(document.value.get("Statement", []), document.conditions):
                if isinstance(statement.value, dict):
                    yield Statement(where, statement.value, statement.conditions)


def _is_sm_write(action: str) -> bool:
    action = action.lower()
    if action == "*":
        return True
    if not action.startswith("secretsmanager:"):
        return False
    name = action.split(":", 1)[1]
    return not name.startswith(_SM_READ_PREFIXES)  # "*", "Put*", "g*"... count as writes


def _is_broad(resource: str) -> bool:
    """``*`` itself, or every secret (``...:secret:*``)."""
    return resource.strip() == "*" or re.search(r":secret:\*$", resource) is not None


TAG_KEYS = ("secretsmanager:resourcetag/", "aws:resourcetag/")


def tag_scoped(statement: dict[str, Any]) -> bool:
    """The statement holds only for secrets carrying a tag with one exact, non-empty value
    (``StringEquals`` on a resource tag; a wildcard ``StringLike`` scopes nothing)."""
    equal = statement.get("Condition", {}).get("StringEquals", {})
    return any(
        key.lower().startswith(TAG_KEYS) and value not in ("", None, [])
        for key, value in equal.items()
    )


def check_iam(template: dict[str, Any]) -> list[str]:
    """Problems: Secrets Manager writes (or any action but GetRandomPassword) on ``*`` or on
    every secret unless a resource tag condition scopes them, NotAction/NotResource grants,
    broad managed policies and SAM policy templates that grant Secrets Manager access."""
    report = Report()
    for st in statements(template):
        if st.body.get("Effect") != "Allow":
            continue
        if "NotAction" in st.body or "NotResource" in st.body:
            report.add(f"{st.where}: Allow with NotAction/NotResource grants too much.")
            continue
        broad = [r for r in st.resources() if _is_broad(r)]
        if not broad or (tag_scoped(st.body) and "*" not in st.resources()):
            continue
        for action in st.actions():
            lowered = action.lower()
            if _is_sm_write(lowered):
                report.add(
                    f"{st.where}: grants Secrets Manager write action {action} on "
                    f"{broad[0]!r}; scope it to the rotated secrets' ARNs."
                )
            elif lowered.startswith("secretsmanager:") and lowered not in ANY_RESOURCE_OK:
                report.add(
                    f"{st.where}: grants {action} on {broad[0]!r}; only "
                    "GetRandomPassword may use '*'."
                )
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        managed = list(strings(props.get("ManagedPolicyArns", [])))
        for policy in items(props.get("Policies", [])):
            if isinstance(policy.value, str):
                managed.append(policy.value)
            elif isinstance(policy.value, dict) and "Statement" not in policy.value:
                templates = [
                    k
                    for k in policy.value
                    if k.startswith("AWSSecretsManager") or k.startswith("SecretsManager")
                ]
                if templates:
                    report.add(
                        f"{name}: SAM policy template {templates[0]} grants Secrets "
                        "Manager access outside the parameters' scope."
                    )
        for arn in managed:
            if any(arn.endswith(broad_name) for broad_name in _BROAD_MANAGED):
                report.add(f"{name}: managed policy {arn} is far broader than rotation needs.")
    return report.problems


def _function_target(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def check_permissions(template: dict[str, Any], function_type: str) -> list[str]:
    """Problems: a Lambda permission without SourceAccount (or with SourceArn for Secrets
    Manager), or a function that Secrets Manager may not invoke."""
    report = Report()
    resources = template.get("Resources", {})
    allowed: set[str] = set()
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Permission":
            continue
        props = resource.get("Properties", {})
        if "SourceAccount" not in props:
            report.add(f"{name}: Lambda permission without SourceAccount.")
        if props.get("Principal") == "secretsmanager.amazonaws.com":
            if props.get("SourceAccount") != {"Ref": "AWS::AccountId"}:
                report.add(f"{name}: SourceAccount must be !Ref AWS::AccountId.")
            if "SourceArn" in props:
                report.add(
                    f"{name}: SourceArn ties the function to one secret; use SourceAccount only."
                )
            if props.get("Action") != "lambda:InvokeFunction":
                report.add(f"{name}: Secrets Manager needs lambda:InvokeFunction.")
            target = _function_target(props.get("FunctionName"))
            if target is not None:
                allowed.add(target)
    for name, resource in resources.items():
        if resource.get("Type") == function_type and name not in allowed:
            report.add(f"{name}: no Lambda permission lets secretsmanager.amazonaws.com invoke it.")
    return report.problems


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("cwd", ROOT)
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def venv_tool(name: str) -> str:
    """A console script installed next to this interpreter (the dev extra's tools)."""
    import shutil

    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} is not installed; install the dev extra: pip install -e '.[dev]'"
        )
    return found
