"""``rotor resume``: reattempt rotations left in progress in a selection of secrets. Against
AWS, RotateSecret without a token: the service reattempts the stuck version's rotation with its
token ("A previous rotation isn't complete. That rotation will be reattempted."). With
``--local``, the harness runs the four steps with that token through the rotator's real handler
in a local moto. Safe to re-run: a secret with nothing in progress is left alone."""

from __future__ import annotations

import argparse
from typing import Any

from rotor.cli import batch
from rotor.cli.context import Context
from rotor.cli.options import dry_run_option, local_only
from rotor.cli.rotator_choice import NoRotator, read_rotator, rotator_option
from rotor.cli.selection import Secret, Selection, add_fleet_command

DESCRIPTION = """Reattempt the rotation left in progress in each selected secret (AWSPENDING on
a version without AWSCURRENT), with its own token, as Secrets Manager retries it: rotors are
idempotent per token, so this converges once the cause is fixed. Against AWS this is RotateSecret
without a token, which makes the service reattempt it (asynchronously: follow it with `rotor
status`); --local runs it now through the rotator's real handler in a moto on this machine."""

REATTEMPTED = "will be reattempted"  # what AWS answers when it reattempts a stuck rotation


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "resume",
        "reattempt rotations left in progress",
        f"{DESCRIPTION} {batch.EXITS}",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="against moto on this machine: run the four steps now through each rotator's "
        "real handler from this checkout",
    )
    rotator_option(parser, local_only=True)
    dry_run_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    local_only(args, "resume", "rotator")
    selection = Selection.from_args(args)
    aws = context.need_aws()
    sm = aws.client("secretsmanager", local_command="resume --local" if args.local else None)
    runs = None
    if args.local and not args.dry_run:
        from rotor.cli.local_runs import LocalRuns

        runs = LocalRuns("resume --local", sm, aws, context.verbose)

    def one(secret: Secret) -> batch.Item:
        item, stuck = batch.pending_item(secret, "resume", "no rotation in progress")
        if stuck is None:
            return item
        if not (args.local or secret.rotation_lambda):
            item.fail("no rotation function configured: `rotor schedule` it, or `rotor cancel`")
        elif args.dry_run:
            item.result, item.detail = batch.PLANNED, f"would reattempt {stuck}"
        else:
            with batch.attempt(item):
                _resume(sm, secret, stuck, item, runs, args.rotator)
        return item

    return batch.report(
        context.out,
        batch.each(selection.resolve_some(sm), one),
        [batch.PENDING_COLUMN],
        {"dry_run": args.dry_run, "local": args.local},
    )


def _resume(
    sm: Any, secret: Secret, token: str, item: batch.Item, runs: Any, given: str | None
) -> None:
    if runs is not None:
        try:
            rotator = read_rotator(sm, secret.arn, secret.tags, given)
        except NoRotator as exc:
            item.fail(str(exc))
            return
        failed = runs.resume(secret.arn, token, rotator)
        if failed is not None:
            item.fail(f"{failed}; AWSPENDING stays on {token}")
            return
        item.result, item.detail = batch.DONE, f"rotation {token} completed (local, {rotator})"
        return
    try:
        sm.rotate_secret(SecretId=secret.arn)
    except sm.exceptions.InvalidRequestException as exc:
        if REATTEMPTED not in str(exc):
            raise
    item.result = batch.DONE
    item.detail = f"Secrets Manager reattempts {token}: follow it with `rotor status`"
