"""The rotators of this checkout (``rotators/<name>/app.py``), by the names people use.

A rotator's name is its folder with hyphens (``mysql-alternating``); the folder's own spelling
(``mysql_alternating``) is accepted too. Standard library only: listing the rotators needs none
of the development kit.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROTATORS_DIR = Path(__file__).resolve().parents[3] / "rotators"


@dataclass(frozen=True)
class RotatorInfo:
    name: str  # as shown: hyphens
    path: Path  # its app.py
    description: str  # the module docstring, whole, on one line

    @property
    def handler(self) -> str:
        """As Lambda names it, relative to the repository (the SAM template's CodeUri)."""
        return f"rotators/{self.path.parent.name}/app.lambda_handler"


def display_name(name: str) -> str:
    """The one spelling rotor shows: hyphens."""
    return name.replace("_", "-")


def catalog(root: Path = ROTATORS_DIR) -> list[RotatorInfo]:
    found = []
    for path in sorted(root.glob("*/app.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found.append(RotatorInfo(display_name(path.parent.name), path, " ".join(doc.split())))
    return found


def find(name: str, root: Path = ROTATORS_DIR) -> RotatorInfo | None:
    """The rotator called ``name`` in either spelling, or None."""
    wanted = display_name(name.strip().lower())
    return next((r for r in catalog(root) if r.name == wanted), None)
