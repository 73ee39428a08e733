"""Which deployed Lambda function serves which rotator: the outputs of rotor's stack
(``<Row>FunctionArn``, template.yaml's Outputs, one per row of deploy/rotators.py) and/or
``--function ROTATOR=ARN``, which overrides the stack. Names are compared without hyphens,
underscores or case, so ``MysqlAlternatingFunctionArn`` serves ``mysql-alternating``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rotor.cli.errors import CliError, Exit

SUFFIX = "FunctionArn"


def key(rotator: str) -> str:
    return "".join(c for c in rotator.lower() if c.isalnum())


def function_option(text: str) -> tuple[str, str]:
    """An argparse type: ROTATOR=ARN."""
    rotator, eq, arn = text.partition("=")
    if not (rotator.strip() and eq and arn.startswith("arn:") and ":function:" in arn):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ROTATOR=ARN, e.g. "
            "postgresql-single=arn:aws:lambda:eu-west-1:123456789012:function:rotor-pg"
        )
    return rotator.strip(), arn.strip()


def from_stack(cloudformation: Any, stack: str) -> dict[str, str]:
    """The rotator functions rotor's stack ``stack`` outputs, by ``key()``."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            raise CliError(
                Exit.NOT_FOUND, f"no stack {stack!r}: check --stack, --region and --profile"
            ) from None
        raise
    outputs = {
        str(o["OutputKey"]): str(o["OutputValue"])
        for o in (found[0].get("Outputs") or [] if found else [])
    }
    functions = {
        key(name[: -len(SUFFIX)]): value for name, value in outputs.items() if name.endswith(SUFFIX)
    }
    if not functions:
        raise CliError(
            Exit.NOT_FOUND,
            f"stack {stack!r} has no <Rotator>{SUFFIX} outputs: is it rotor's stack "
            "(template.yaml)? Or name each function with --function ROTATOR=ARN",
        )
    return functions


class Functions:
    def __init__(self, by_key: Mapping[str, str]) -> None:
        self.by_key = dict(by_key)

    @classmethod
    def from_options(
        cls, cloudformation: Any | None, stack: str | None, given: list[tuple[str, str]]
    ) -> Functions:
        by_key = from_stack(cloudformation, stack) if stack else {}
        by_key.update({key(rotator): arn for rotator, arn in given})
        return cls(by_key)

    def for_rotator(self, rotator: str) -> str | None:
        return self.by_key.get(key(rotator))


def short_name(arn: str | None) -> str:
    """A function's name from its ARN (``arn:aws:lambda:r:a:function:NAME[:alias]``)."""
    if not arn:
        return "-"
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 and parts[5] == "function" else arn
