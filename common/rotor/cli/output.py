"""What a command prints: tables and progress for people, or one JSON document for programs.

In JSON mode stdout carries exactly one document (nothing else, so ``| jq`` always works) and
progress is not printed; in both modes an error is one line on stderr starting ``rotor: ``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

from rotor.cli.errors import CliError, Exit, one_line
from rotor.cli.terminal_text import printable

FORMATS = ("table", "json")
UNBOUNDED = 100_000  # a table's width when no terminal bounds it


class Output:
    def __init__(self, fmt: str = "table") -> None:
        self.json = fmt == "json"

    @property
    def stdout(self) -> TextIO:  # looked up per call: tests and redirections swap it
        return sys.stdout

    def line(self, text: str = "") -> None:
        """A line for people (progress, notes): table mode only."""
        if not self.json:
            print(printable(text), file=self.stdout, flush=True)

    def result(self, doc: Mapping[str, Any], table: Callable[[], None] | None = None) -> None:
        """The command's result: ``doc`` as JSON, or ``table()`` drawing it for people."""
        if self.json:
            json.dump(doc, self.stdout, indent=2)
            print(file=self.stdout, flush=True)
        elif table is not None:
            table()

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Columns sized to the terminal, long cells wrapped, never cut; without a terminal
        (and no COLUMNS), each row on one line."""
        try:
            from rich import box
            from rich.console import Console
            from rich.table import Column, Table
        except ModuleNotFoundError:
            raise CliError(
                Exit.MISSING,
                "table output needs rich: pip install 'rotor[cli]' (or pass --output json)",
            ) from None
        folded = [Column(name, overflow="fold") for name in columns]  # long words wrap too
        table = Table(*folded, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for row in rows:
            table.add_row(*(printable(cell) for cell in row))
        console = Console(file=self.stdout, markup=False, highlight=False, emoji=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            # Piped or redirected: no terminal to fit, so one line a row (grep, awk, sort)
            # rather than rich's 80 columns folding names mid-word.
            console.width = UNBOUNDED
        with console.capture() as captured:
            console.print(table)
        for line in captured.get().splitlines():  # without rich's padding to the full width
            print(line.rstrip(), file=self.stdout)
        self.stdout.flush()

    @staticmethod
    def error(message: str) -> None:
        print(f"rotor: {printable(one_line(message))}", file=sys.stderr, flush=True)
