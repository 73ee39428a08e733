"""``rotor stages``: a secret's versions and their labels (DescribeSecret only: read-only,
so it works against AWS as well as moto)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from rotor.cli.context import Context
from rotor.cli.options import add_command


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub,
        "stages",
        "show a secret's versions and their labels",
        "Show a secret's versions and their staging labels (AWSCURRENT, "
        "AWSPENDING, AWSPREVIOUS...). Read-only: calls DescribeSecret.",
        aws=True,
    )
    parser.add_argument("secret_id", metavar="SECRET", help="the secret's name or ARN")
    parser.set_defaults(run=run)


def labelled(versions: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Versions with a label, each one's labels sorted. (AWS lists no others; moto keeps
    versions whose last label was removed, with none.)"""
    return {str(v): sorted(s) for v, s in versions.items() if s}


def run(args: argparse.Namespace, context: Context) -> int:
    meta = context.need_aws().client("secretsmanager").describe_secret(SecretId=args.secret_id)
    doc: dict[str, Any] = {
        "name": meta["Name"],
        "arn": meta["ARN"],
        "rotation_enabled": bool(meta.get("RotationEnabled")),
        "versions": labelled(meta.get("VersionIdsToStages") or {}),
    }
    out = context.out

    def table() -> None:
        out.line(f"{doc['name']}  rotation enabled: {'yes' if doc['rotation_enabled'] else 'no'}")
        out.table(["version", "stages"], [(v, " ".join(s)) for v, s in doc["versions"].items()])

    out.result(doc, table)
    return 0
