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

from rotor.cli.errors import CliError, Exit, one_line, refusal_line
from rotor.cli.output import Output

# What happened to one secret.
PLANNED = "planned"  # --dry-run: what would be done
DONE = "done"
UNCHANGED = "unchanged"  # already as asked: nothing to do
FAILED = "failed"


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


def summary(items: Sequence[Item]) -> dict[str, int]:
    counts = Counter(item.result for item in items)
    return {name: counts.get(name, 0) for name in (PLANNED, DONE, UNCHANGED, FAILED)}


def exit_code(items: Sequence[Item]) -> int:
    """3 when any secret failed (the others were done), else 0."""
    return Exit.PARTIAL if any(item.result == FAILED for item in items) else Exit.OK


def report(
    out: Output,
    items: Sequence[Item],
    columns: Sequence[tuple[str, Callable[[Item], str]]],
    extra: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> int:
    """Print the results (table or one JSON document) and return the exit code."""
    counts = summary(items)
    doc = {**(extra or {}), "results": [item.doc() for item in items], "summary": counts}

    def table() -> None:
        headers = ["secret", *(name for name, _ in columns), "action", "result"]
        rows = [
            [
                item.secret,
                *(cell(item) for _, cell in columns),
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
        out.line(", ".join(f"{n} {name}" for name, n in counts.items() if n) or "no secrets")

    out.result(doc, table)
    return exit_code(items)
