"""``rotor status``: where the rotation of each selected secret stands, and what is stuck.
Read-only (DescribeSecret, ListSecrets, ListSecretVersionIds, CloudTrail LookupEvents)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from rotor.cli import pending
from rotor.cli.cloudtrail import Failures, rotation_failures
from rotor.cli.context import Context
from rotor.cli.errors import Exit
from rotor.cli.options import positive_int
from rotor.cli.rotation_state import status_of
from rotor.cli.selection import Secret, Selection, add_fleet_command

DESCRIPTION = """Show, for each selected secret, whether rotation is on, its function and
schedule, when it last rotated and rotates next, and anything stuck: a rotation left in
progress (pending: AWSPENDING on a version without AWSCURRENT), an overdue rotation (its window
has passed), a failed one (CloudTrail RotationFailed since the last rotation; "unknown" with the
reason where CloudTrail cannot be read); a secret scheduled for deletion is "deleted". Read-only.
Exit 0 whatever is found, unless --fail-on-stuck (3); 4 when the selection matches nothing."""

COLUMNS = ["secret", "rotation", "function", "schedule", "last rotated UTC", "next UTC", "state"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "status",
        "rotation state of a selection of secrets, and what is stuck",
        DESCRIPTION,
    )
    parser.add_argument(
        "--stuck", action="store_true", help="list only secrets that are pending, overdue or failed"
    )
    parser.add_argument(
        "--fail-on-stuck",
        action="store_true",
        help="exit 3 when any selected secret is pending, overdue or failed (for scripts)",
    )
    parser.add_argument(
        "--failures-since-days",
        type=positive_int,
        default=7,
        metavar="N",
        help="how far back to look for RotationFailed events in CloudTrail (default 7, at most 90)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    selection = Selection.from_args(args)
    aws = context.need_aws()
    sm = aws.client("secretsmanager")
    secrets = selection.resolve_some(sm)
    now = datetime.now(UTC)
    failures = Failures()
    if any(s.rotation_enabled or pending.in_progress(s.stages) for s in secrets):
        since = now - timedelta(days=min(args.failures_since_days, 90))
        failures = rotation_failures(aws.client("cloudtrail"), since)
    found = [status_of(s, failures, _pending_since(sm, s), now) for s in secrets]
    shown = [s for s in found if s.problems] if args.stuck else found
    notes = _notes(failures)
    out = context.out
    doc = {
        "secrets": [s.doc() for s in shown],
        "stuck": sum(1 for s in found if s.problems),
        "failures_unknown": failures.unavailable,
        "checked_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }

    def table() -> None:
        out.table(COLUMNS, [s.row() for s in shown])
        for status in shown:
            for detail in status.details():
                out.line(f"{status.secret.name}: {detail}")
        for note in notes:
            out.line(note)
        out.line(f"{doc['stuck']} of {len(found)} secret(s) stuck")

    out.result(doc, table)
    return Exit.PARTIAL if args.fail_on_stuck and doc["stuck"] else Exit.OK


def _pending_since(sm: Any, secret: Secret) -> datetime | None:
    """When the stuck version was created (one more call, only for a stuck secret)."""
    version = pending.in_progress(secret.stages)
    if version is None:
        return None
    kwargs: dict[str, Any] = {"SecretId": secret.arn}
    while True:  # botocore has no paginator for it
        page = sm.list_secret_version_ids(**kwargs)
        for listed in page.get("Versions", []):
            if listed.get("VersionId") == version:
                created: datetime | None = listed.get("CreatedDate")
                return created
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def _notes(failures: Failures) -> list[str]:
    if failures.unavailable:
        return [
            f"failed rotations: unknown (CloudTrail: {failures.unavailable}); pending and "
            "overdue are shown regardless"
        ]
    if failures.truncated:
        return ["failed rotations: only the newest 1,000 RotationFailed events were read"]
    return []
