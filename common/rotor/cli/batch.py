"""Per-secret results of a command that changes a selection of secrets (``schedule``,
``resume``, ``cancel``): one row each, a summary, and the exit code a script branches on.

Each secret is tried whatever happened to the others; an AWS error on one secret is that
secret's result (one scrubbed line), while losing AWS altogether (no credentials, no
connection) ends the command, since every other secret would fail the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rotor.cli import pending, refusals
from rotor.cli.errors import CliError, Exit, one_line, refusal_line
from rotor.cli.output import Output
from rotor.cli.selection import Secret

# The exit codes of a batch, for the commands' --help.
EXITS = (
    "Exit 3 when any secret failed (the others were done), 4 when the selection matches "
    "nothing, 130 on Ctrl-C (the report is still printed: which secrets were reached)."
)

# What happened to one secret.
PLANNED = "planned"  # --dry-run: what would be done
DONE = "done"
UNCHANGED = "unchanged"  # already as asked: nothing to do
FAILED = "failed"
INTERRUPTED = "interrupted"  # Ctrl-C cut its request: it may or may not have been done
NOT_STARTED = "not_started"  # Ctrl-C came before its turn (rotate-all's word too)
RESULTS = (PLANNED, DONE, UNCHANGED, FAILED, INTERRUPTED, NOT_STARTED)


@dataclass
class Item:
    """One secret's row. ``fields``: the command's own columns, in order."""

    secret: str
    arn: str
    action: str = ""
    result: str = ""
    detail: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "arn": self.arn,
            **self.fields,
            "action": self.action,
            "result": self.result,
            "detail": self.detail,
        }

    def fail(self, message: str) -> None:
        self.result, self.detail = FAILED, one_line(message)


@contextmanager
def attempt(item: Item) -> Iterator[None]:
    """Record an AWS refusal as this secret's failure; let losing AWS end the command."""
    try:
        yield
    except CliError as exc:
        item.fail(exc.message)
    except Exception as exc:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            raise
        if exc.response.get("Error", {}).get("Code") in LOST:
            raise
        item.fail(refusal_line(exc))


# Errors every other secret would get too: they end the command (exit 6).
LOST = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
}


@dataclass
class Run:
    items: list[Item]
    interrupted: bool = False


def each(secrets: Sequence[Secret], one: Callable[[Secret], Item]) -> Run:
    """``one`` for each secret in turn. Ctrl-C ends the batch but not the report: the secret
    whose request it cut is ``interrupted``, the others ``not_started``."""
    items: list[Item] = []
    for index, secret in enumerate(secrets):
        try:
            items.append(one(secret))
        except KeyboardInterrupt:
            cut = Item(secret.name, secret.arn, result=INTERRUPTED)
            cut.detail = "Ctrl-C during its request: it may have been done (`rotor status`)"
            rest = [Item(s.name, s.arn, result=NOT_STARTED) for s in secrets[index + 1 :]]
            return Run([*items, cut, *rest], interrupted=True)
    return Run(items)


# The column of the commands acting on a rotation left in progress (resume, cancel).
PENDING_COLUMN = ("pending version", lambda item: item.fields.get("pending") or "-")


def pending_item(secret: Secret, action: str, nothing: str) -> tuple[Item, str | None]:
    """The row of a command acting on a rotation left in progress (resume, cancel), and that
    rotation's version when there is something to do; else None, the row final: ``nothing``
    in progress (unchanged), or a secret scheduled for deletion (refused)."""
    stuck = pending.in_progress(secret.stages)
    item = Item(secret.name, secret.arn, action, fields={"pending": stuck})
    if stuck is None:
        item.action, item.result, item.detail = "none", UNCHANGED, nothing
    elif secret.deleted is not None:
        item.fail(refusals.DELETED)
    else:
        return item, stuck
    return item, None


def summary(items: Sequence[Item]) -> dict[str, int]:
    counts = Counter(item.result for item in items)
    return {name: counts.get(name, 0) for name in RESULTS}


def exit_code(items: Sequence[Item]) -> int:
    """3 when any secret failed (the others were done), else 0."""
    return Exit.PARTIAL if any(item.result == FAILED for item in items) else Exit.OK


def report(
    out: Output,
    run: Run,
    columns: Sequence[tuple[str, Callable[[Item], str]]],
    extra: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> int:
    """Print the results (table or one JSON document) and return the exit code; after
    Ctrl-C, end with exit 130 and one line once they are printed."""
    items = run.items
    counts = summary(items)
    doc = {
        **(extra or {}),
        "interrupted": run.interrupted,
        "results": [item.doc() for item in items],
        "summary": counts,
    }

    def table() -> None:
        headers = ["secret", *(name for name, _ in columns), "action", "result"]
        rows = [
            [
                item.secret,
                *(cell(item) if item.fields else "" for _, cell in columns),
                item.action,
                item.result,
            ]
            for item in items
        ]
        out.table(headers, rows)
        for item in items:
            if item.detail and item.result != UNCHANGED:
                out.line(f"{item.secret}: {item.detail}")
        for note in notes:
            out.line(note)
        shown = (f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n)
        out.line(", ".join(shown) or "no secrets")

    out.result(doc, table)
    if run.interrupted:
        raise CliError(
            Exit.INTERRUPTED,
            f"interrupted: {counts[DONE]} done, {counts[INTERRUPTED]} cut short (it may have "
            f"been done), {counts[NOT_STARTED]} not started: the report says which",
        )
    return exit_code(items)
