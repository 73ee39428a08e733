"""Which secrets a fleet command acts on: names or ARNs, a name prefix, tags, a file of names,
or every secret, combined as AND. Shared by ``schedule``, ``status``, ``check`` and
``rotate-all`` so a selection means the same thing everywhere.

ListSecrets' own filters narrow the listing, but they match loosely (``name`` is a prefix on
words, ``tag-key`` and ``tag-value`` are not paired), so every listed secret is also checked
here exactly. Named secrets are read with DescribeSecret; a name that does not exist ends the
command before anything changes (exit 4), listing every missing one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rotor.cli.errors import CliError, Exit
from rotor.cli.options import Parser, add_command


@dataclass(frozen=True)
class Secret:
    """A secret as ListSecrets / DescribeSecret describe it (never its value)."""

    name: str
    arn: str
    rotation_enabled: bool
    rotation_lambda: str | None
    rules: Mapping[str, Any]  # RotationRules: AutomaticallyAfterDays, ScheduleExpression, Duration
    last_rotated: datetime | None
    last_changed: datetime | None
    next_rotation: datetime | None
    tags: Mapping[str, str]
    stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # version -> labels
    created: datetime | None = None
    kms_key_id: str | None = None  # KmsKeyId: a customer managed key, if any
    deleted: datetime | None = None  # DeletedDate: scheduled for deletion (restorable until then)

    @classmethod
    def from_api(cls, meta: Mapping[str, Any]) -> Secret:
        versions = meta.get("SecretVersionsToStages") or meta.get("VersionIdsToStages") or {}
        return cls(
            name=str(meta["Name"]),
            arn=str(meta["ARN"]),
            rotation_enabled=bool(meta.get("RotationEnabled")),  # absent: never configured
            rotation_lambda=meta.get("RotationLambdaARN") or None,
            rules=dict(meta.get("RotationRules") or {}),
            last_rotated=meta.get("LastRotatedDate"),
            last_changed=meta.get("LastChangedDate"),
            next_rotation=meta.get("NextRotationDate"),
            tags={str(t["Key"]): str(t.get("Value", "")) for t in meta.get("Tags") or []},
            stages={str(v): tuple(s) for v, s in versions.items() if s},
            created=meta.get("CreatedDate"),
            kms_key_id=meta.get("KmsKeyId") or None,
            deleted=meta.get("DeletedDate"),
        )

    def version_with(self, stage: str) -> str | None:
        return next((v for v, s in self.stages.items() if stage in s), None)


@dataclass(frozen=True)
class Selection:
    ids: tuple[str, ...] = ()  # names or ARNs, from the command line and --from-file
    prefix: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()  # (key, value or None for "any value")
    everything: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Selection:
        ids = list(args.secret_ids or [])
        for path in args.from_file or []:
            listed = list(_read_names(path))
            if not listed:
                raise CliError(
                    Exit.USAGE, f"--from-file {path} names no secret: put one name or ARN a line"
                )
            ids.extend(listed)
        tags = tuple(_parse_tag(t) for t in args.tag or [])
        selection = cls(tuple(dict.fromkeys(ids)), args.prefix, tags, bool(args.all))
        if not (selection.ids or selection.prefix or selection.tags or selection.everything):
            raise CliError(
                Exit.USAGE,
                "select secrets: name them, or pass --prefix, --tag or --from-file "
                "(or --all for every secret in the account and region)",
            )
        return selection

    def matches(self, secret: Secret) -> bool:
        if self.prefix and not secret.name.startswith(self.prefix):
            return False
        for key, value in self.tags:
            if key not in secret.tags or (value is not None and secret.tags[key] != value):
                return False
        return True

    def resolve(self, sm: Any) -> list[Secret]:
        """The selected secrets, each once, sorted by name. Named ones must all exist."""
        if self.ids:
            found = [s for s in _describe_all(sm, self.ids) if self.matches(s)]
        else:
            found = [s for s in _list(sm, self._filters()) if self.matches(s)]
        return sorted({s.arn: s for s in found}.values(), key=lambda s: s.name)

    def resolve_some(self, sm: Any) -> list[Secret]:
        """``resolve``, where matching nothing is an error (exit 4): a mistyped --prefix or
        --tag must not pass for a fleet with nothing to do."""
        found = self.resolve(sm)
        if not found:
            raise CliError(
                Exit.NOT_FOUND,
                "no secret matches the selection (check the names, --prefix and --tag); "
                "nothing was done",
            )
        return found

    def _filters(self) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if self.prefix:
            filters.append({"Key": "name", "Values": [self.prefix]})
        for key, value in self.tags[:1]:  # one narrows enough; matches() checks them all
            filters.append({"Key": "tag-key", "Values": [key]})
            if value is not None:
                filters.append({"Key": "tag-value", "Values": [value]})
        return filters


def add_fleet_command(sub: argparse._SubParsersAction, *texts: str) -> Parser:  # type: ignore[type-arg]
    """``add_command(sub, name, summary, description)`` with the AWS options and the selection,
    as every fleet command has them."""
    return add_command(sub, *texts, aws=True, parents=[selection_options()])


def selection_options() -> Parser:
    """The options of every command that acts on a selection of secrets."""
    parent = Parser(add_help=False)
    parent.add_argument(
        "secret_ids", nargs="*", metavar="SECRET", help="secrets by name or ARN (any number)"
    )
    parent.add_argument("--prefix", metavar="TEXT", help="only secrets whose name starts with TEXT")
    parent.add_argument(
        "--tag",
        action="append",
        metavar="KEY[=VALUE]",
        help="only secrets with this tag (and value); repeat to require several",
    )
    parent.add_argument(
        "--from-file",
        action="append",
        metavar="FILE",
        help="secret names or ARNs, one per line (# starts a comment; - reads stdin)",
    )
    parent.add_argument(
        "--all",
        action="store_true",
        help="every secret in the account and region (needed when nothing else selects)",
    )
    return parent


def _parse_tag(text: str) -> tuple[str, str | None]:
    key, eq, value = text.partition("=")
    if not key:
        raise CliError(Exit.USAGE, f"--tag {text!r}: expected KEY or KEY=VALUE")
    return key, (value if eq else None)


def _read_names(path: str) -> Iterator[str]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise CliError(Exit.USAGE, f"--from-file {path}: {exc.strerror or exc}") from None
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            yield name


def _list(sm: Any, filters: list[dict[str, Any]]) -> Iterator[Secret]:
    kwargs: dict[str, Any] = {"Filters": filters} if filters else {}
    for page in sm.get_paginator("list_secrets").paginate(**kwargs):
        for meta in page.get("SecretList", []):
            yield Secret.from_api(meta)


def _describe_all(sm: Any, ids: tuple[str, ...]) -> list[Secret]:
    found, missing = [], []
    for secret_id in ids:
        try:
            found.append(Secret.from_api(sm.describe_secret(SecretId=secret_id)))
        except sm.exceptions.ResourceNotFoundException:
            missing.append(secret_id)
    if missing:
        raise CliError(
            Exit.NOT_FOUND,
            f"{len(missing)} selected secret(s) not found: {', '.join(missing)}; nothing was done",
        )
    return found
