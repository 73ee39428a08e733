"""``rotor cancel``: give up rotations left in progress in a selection of secrets, against AWS
or moto: AWSPENDING is removed from the stuck version (never from the AWSCURRENT version).
Safe to re-run: a secret with nothing in progress is left alone."""

from __future__ import annotations

import argparse

from rotor.cli import batch, pending
from rotor.cli.context import Context
from rotor.cli.options import dry_run_option
from rotor.cli.selection import Secret, Selection, add_fleet_command

DESCRIPTION = """Give up the rotation left in progress in each selected secret: remove the
AWSPENDING label from the version it marks (UpdateSecretVersionStage), so the next rotation can
start. AWSCURRENT, the rotation settings and the database are not touched; the version and any
value it holds stay, readable by its id. With a single user, a rotation that got past setSecret
may have left the database on the pending password: `rotor resume` converges, cancelling does
not."""

SINGLE_USER_NOTE = (
    "A cancelled rotation of a single-user secret may have changed the password already: "
    "check that AWSCURRENT still logs in, or resume instead."
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "cancel",
        "give up rotations left in progress (remove their AWSPENDING)",
        f"{DESCRIPTION} {batch.EXITS}",
    )
    dry_run_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    selection = Selection.from_args(args)
    sm = context.need_aws().client("secretsmanager")

    def one(secret: Secret) -> batch.Item:
        nothing = pending.Cancelled(None, pending.PENDING in _labels(secret)).message()
        item, stuck = batch.pending_item(secret, "cancel", nothing)
        if stuck is None:
            return item
        if args.dry_run:
            item.result, item.detail = batch.PLANNED, f"would remove AWSPENDING from {stuck}"
            return item
        with batch.attempt(item):
            # Described again just before: a rotation may have finished meanwhile.
            now = sm.describe_secret(SecretId=secret.arn).get("VersionIdsToStages") or {}
            cancelled = pending.cancel(sm, secret.arn, now)
            item.fields["pending"] = cancelled.removed
            item.result = batch.DONE if cancelled.removed else batch.UNCHANGED
            item.detail = cancelled.message()
        return item

    done = batch.each(selection.resolve_some(sm), one)
    notes = [SINGLE_USER_NOTE] if any(i.result == batch.DONE for i in done.items) else []
    return batch.report(
        context.out,
        done,
        [batch.PENDING_COLUMN],
        {"dry_run": args.dry_run},
        notes,
    )


def _labels(secret: Secret) -> set[str]:
    return {label for labels in secret.stages.values() for label in labels}
