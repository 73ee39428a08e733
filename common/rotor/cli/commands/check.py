"""``rotor check``: preflight of selected secrets, changing nothing. The checks run inside
the deployed rotation function (default: its network, its role) or in this process
(``--local``); the function's IAM is simulated where AWS allows it."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from rotor.cli import check_function, check_iam
from rotor.cli.check_result import FAIL, UNCHECKED, line
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import local_only
from rotor.cli.rotator_choice import rotator_option
from rotor.cli.selection import Secret, Selection, add_fleet_command

DESCRIPTION = """Check, without changing anything, that rotating each selected secret would
work: the secret parses for its rotator; the admin secret is readable and names the same
server; the server or provider is reachable with TLS as configured; the current credential
logs in; the clone name fits. By default the checks run inside the secret's rotation function
(Lambda Invoke with a check event), from its network and with its role; --local runs them here
against what this machine reaches. The function's role is checked with IAM policy simulation
where the caller may simulate (else "unchecked"). Exit 0 when no check failed (skipped and
unchecked do not fail), 1 when every secret has a failed check, 3 when some do, 4 when the
selection matches nothing."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "check",
        "preflight: would rotating these secrets work? (changes nothing)",
        DESCRIPTION,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--via-function",
        dest="local",
        action="store_false",
        help="run the checks in each secret's rotation function (the default): "
        "needs lambda:InvokeFunction on it",
    )
    where.add_argument(
        "--local",
        dest="local",
        action="store_true",
        help="run the checks in this process, against the servers reachable from "
        "here (needs the development kit and the rotator's extras)",
    )
    which = parser.add_mutually_exclusive_group()
    rotator_option(which, local_only=True)
    which.add_argument(
        "--handler",
        metavar="HANDLER",
        help="with --local: your own handler, path/to/app.py[:function] or as Lambda writes it",
    )
    parser.add_argument(
        "--no-iam",
        action="store_true",
        help="skip the IAM simulation of the rotation function's role",
    )
    parser.set_defaults(run=run, local=False)


def run(args: argparse.Namespace, context: Context) -> int:
    local_only(args, "check", "rotator", "handler")
    selection = Selection.from_args(args)
    aws = context.need_aws()
    sm = aws.client("secretsmanager")
    secrets = selection.resolve_some(sm)
    lam = aws.client("lambda")
    iam = None if args.no_iam else aws.client("iam")
    with contextlib.ExitStack() as stack:
        local = None
        if args.local:
            from rotor.cli.check_local import LocalChecks

            checks = LocalChecks(aws, sm, args.rotator, args.handler, context.verbose)
            local = stack.enter_context(checks.environment())
        docs = []
        for secret in secrets:
            context.out.line(f"checking {secret.name}…")
            if local is not None:
                rotator, report, lines = local.run(secret)
            else:
                rotator, report, lines = _via_function(lam, secret)
            if iam is not None:
                lines += check_iam.check(lam, iam, secret, report.get("admin_arn"))
            docs.append(_entry(secret, report.get("rotator") or rotator, lines))
    doc = {
        "mode": "local" if args.local else "function",
        "passed": all(d["passed"] for d in docs),
        "secrets": docs,
    }
    context.out.result(doc, lambda: _table(context, docs))
    failed = [d["secret"] for d in docs if not d["passed"]]
    if failed:
        code = Exit.ROTATION_FAILED if len(failed) == len(docs) else Exit.PARTIAL
        raise CliError(
            code, f"check failed for {len(failed)} of {len(docs)} secret(s): {', '.join(failed)}"
        )
    return 0


def _via_function(lam: Any, secret: Secret) -> tuple[None, dict[str, Any], list[dict[str, str]]]:
    if secret.rotation_lambda is None:
        why = "no rotation function configured: run `rotor check --local`, or configure rotation"
        return None, {}, [line(check_function.CHECK, UNCHECKED, why)]
    report, lines = check_function.invoke(lam, secret.rotation_lambda, secret.arn)
    return None, report, lines


def _entry(secret: Secret, rotator: Any, lines: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "secret": secret.name,
        "arn": secret.arn,
        "function": secret.rotation_lambda,
        "rotator": rotator if isinstance(rotator, str) else None,
        "passed": all(item["status"] != FAIL for item in lines),
        "checks": lines,
    }


def _table(context: Context, docs: list[dict[str, Any]]) -> None:
    rows = [
        (d["secret"] if i == 0 else "", c["check"], c["status"].upper(), c["reason"])
        for d in docs
        for i, c in enumerate(d["checks"])
    ]
    context.out.table(("secret", "check", "result", "reason"), rows)
    passed = sum(d["passed"] for d in docs)
    context.out.line(f"{passed} of {len(docs)} secret(s) passed every check")
