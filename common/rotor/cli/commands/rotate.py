"""``rotor rotate``: one rotation of a secret in a local moto, through a real handler, as
Secrets Manager runs it (the local harness). A rotation left in progress is reattempted with its
token, as the service does; ``--cancel`` gives it up instead."""

from __future__ import annotations

import argparse
from typing import Any

from rotor.cli import devkit, lambda_env, local_handlers, pending
from rotor.cli.commands.stages import labelled
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import add_command, positive_int
from rotor.cli.output import Output

DESCRIPTION = """Rotate a secret in a moto Secrets Manager on this machine through a rotator's
real Lambda handler, as the service does: a valueless AWSPENDING version under a new token, the
four steps with that token, the whole sequence retried when a step fails (not after a permanent
error), then a check of the end state. A rotation left in progress is reattempted with its
token. Never calls real AWS."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub, "rotate", "rotate a secret in a local moto, through a handler", DESCRIPTION, aws=True
    )
    parser.add_argument("secret_id", metavar="SECRET", help="the secret's name or ARN")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--rotator",
        metavar="NAME",
        help="one of `rotor rotators`, e.g. postgresql-single (postgresql_single works too)",
    )
    which.add_argument(
        "--handler",
        metavar="HANDLER",
        help="your own handler: path/to/app.py[:function], or as Lambda writes "
        "it: path/to/app.function or package.module.function",
    )
    which.add_argument(
        "--cancel",
        action="store_true",
        help="rotate nothing: remove the AWSPENDING label of a rotation left in "
        "progress (never from the AWSCURRENT version) and say what was "
        "removed",
    )
    parser.add_argument(
        "--attempts",
        type=positive_int,
        default=3,
        metavar="N",
        help="runs of the four steps when one fails, as the service retries "
        "(default 3; a permanent error is not retried)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    harness = devkit.load("rotate", "rotor.local.harness")
    aws = context.need_aws()
    sm = aws.client("secretsmanager", local_command="rotate")
    if args.cancel:
        return cancel(sm, args.secret_id, context.out)
    out = context.out

    def show(step: Any) -> None:
        status = "ok" if step.error is None else f"FAILED: {step.error}"
        if step.permanent:
            status += " (permanent: not retried)"
        out.line(f"attempt {step.attempt}  {step.step:<13} {step.seconds * 1000:7.1f} ms  {status}")

    with (
        lambda_env.environment(aws.handler_environment()),
        lambda_env.handler_logs(context.verbose),
    ):
        handler = _load(args)
        rotation = harness.Harness(
            sm, lambda_env.printing_to_stderr(handler), attempts=args.attempts, on_step=show
        )
        token = rotation.in_progress(args.secret_id)
        if token is not None:
            out.line(
                "A previous rotation isn't complete. That rotation will be reattempted "
                f"(token {token})."
            )
            report = rotation.resume(args.secret_id, token)
        else:
            try:
                report = rotation.rotate(args.secret_id)
            except harness.RotationInProgress as exc:  # started by someone else meanwhile
                raise CliError(Exit.CONFLICT, str(exc)) from None
        left = None if report.succeeded else rotation.in_progress(args.secret_id)
    doc = {
        "secret_id": args.secret_id,
        "token": report.token,
        "resumed": token is not None,
        "succeeded": report.succeeded,
        "attempts": report.attempts,
        "steps": [
            {
                "attempt": s.attempt,
                "step": s.step,
                "seconds": round(s.seconds, 4),
                "error": s.error,
                "permanent": s.permanent,
            }
            for s in report.steps
        ],
        "versions_before": labelled(report.before),
        "versions_after": labelled(report.after),
        "in_progress": left,
    }

    def table() -> None:
        for version, stages in labelled(report.after).items():
            out.line(f"{version}  {' '.join(stages)}")
        out.line("rotation succeeded" if report.succeeded else "rotation FAILED")

    out.result(doc, table)
    if not report.succeeded:
        raise CliError(Exit.ROTATION_FAILED, failure_reason(report, left))
    return 0


def _load(args: argparse.Namespace) -> Any:
    if args.rotator:
        return local_handlers.load("rotate", local_handlers.handler_spec("rotate", args.rotator))
    return local_handlers.load("rotate", args.handler)


def failure_reason(report: Any, left: str | None) -> str:
    last = report.steps[-1] if report.steps else None
    if last is not None and last.error is not None:
        why = (
            f"{last.step} failed with a permanent error, not retried: fix its cause"
            if last.permanent
            else f"{last.step} still failed after {report.attempts} attempt(s)"
        )
    else:
        why = (
            "every step succeeded but the end state is wrong (AWSCURRENT must be on the new "
            "version and AWSPENDING on none): check finishSecret"
        )
    how = (
        (
            f"; AWSPENDING stays on {left}: `rotor rotate` reattempts that rotation, "
            "`rotor rotate --cancel` gives it up"
        )
        if left
        else ""
    )
    return f"rotation failed: {why}{how}"


def cancel(sm: Any, secret_id: str, out: Output) -> int:
    cancelled = pending.cancel(sm, secret_id, labelled(_versions(sm, secret_id)))
    doc = {
        "secret_id": secret_id,
        "removed": cancelled.removed,
        "versions": labelled(_versions(sm, secret_id)),
    }
    out.result(doc, lambda: out.line(cancelled.message()))
    return 0


def _versions(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {})
