"""rotor's runtime code: common/rotor without its development kit (what the layer ships)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "common" / "rotor"


def rotor_table() -> dict:  # type: ignore[type-arg]
    """pyproject.toml's ``[tool.rotor]``: the modules the layer leaves out, the AWS models kept."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["rotor"]


def dev_modules() -> list[str]:
    """The modules the layer leaves out: the dev kit and the consumer library."""
    table = rotor_table()
    return [*table["dev-modules"], *table["consumer-modules"]]


def is_dev(relative: Path) -> bool:
    """Whether a file of common/rotor (path relative to it) belongs to a dev module."""
    dotted = ".".join(("rotor", *relative.with_suffix("").parts))
    return any(dotted == m or dotted.startswith(m + ".") for m in dev_modules())


def runtime_files() -> list[Path]:
    """common/rotor's files, relative to it, without the development kit."""
    return [
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not is_dev(p.relative_to(PACKAGE))
    ]
