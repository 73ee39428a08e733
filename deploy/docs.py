"""The documentation's generated tables: the settings (README.md, docs/deploying.md), the
rotators (docs/deploying.md) and the hosted rotation types each replaces (docs/migrating.md),
each between a pair of markers in the Markdown file."""

from __future__ import annotations

from typing import Any

from rotor import settings
from rotor.settings import TABLE, Var

from deploy.rotators import HOSTED_ELSEWHERE, ROTATORS

BEGIN = "<!-- BEGIN generated {name}: deploy/generate.py (make template); edit its source -->"
END = "<!-- END generated {name} -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return f"`{text}`" if text else "(empty)"


def _default(var: Var[Any]) -> str:
    """A value in code; what happens without one (the system trust store...) as text."""
    return var.kind.default_doc() if var.default is None else _code(var.kind.default_doc())


def settings_table() -> str:
    rows = [
        "| variable | values | default | meaning | template parameter |",
        "| --- | --- | --- | --- | --- |",
    ]
    for var in sorted(TABLE, key=lambda v: settings.TOPICS.index(v.topic)):
        parameter = _code(var.parameter) if var.parameter else "none"
        rows.append(
            f"| `{var.name}` | {_cell(var.kind.describe())} | {_cell(_default(var))} "
            f"| {_cell(var.meaning)} | {parameter} |"
        )
    return "\n".join(rows)


def rotators_table() -> str:
    rows = ["| rotator | code | rotates | admin secrets |", "| --- | --- | --- | --- |"]
    for r in ROTATORS:
        rows.append(
            f"| `{r.name}` | `rotators/{r.directory}/app.py` | {_cell(r.title)} "
            f"| {_cell(r.admin) or 'none'} |"
        )
    return "\n".join(rows)


def rotation_types_table() -> str:
    rows = ["| `RotationType` | rotor's rotator | code |", "| --- | --- | --- |"]
    for r in ROTATORS:
        for kind in r.hosted:
            rows.append(f"| `{kind}` | `{r.name}` ({_cell(r.title)}) | `rotators/{r.directory}/` |")
    for kind in HOSTED_ELSEWHERE:
        rows.append(f"| `{kind}` | none: rotor has no rotator for this engine | |")
    return "\n".join(rows)


SECTIONS = {
    "settings": settings_table,
    "rotators": rotators_table,
    "rotation-types": rotation_types_table,
}


def fill(text: str, where: str) -> str:
    """``text`` (a Markdown file) with every generated section it marks rewritten."""
    for name, render in SECTIONS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        start = text.find(begin)
        if start < 0:
            continue
        stop = text.find(end, start)
        if stop < 0:
            raise ValueError(f"{where}: '{begin}' has no '{end}' after it")
        text = f"{text[:start]}{begin}\n{render()}\n{text[stop:]}"
    return text
