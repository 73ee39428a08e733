"""``rotor rotators``: the rotators of this checkout, named as ``--rotator`` takes them."""

from __future__ import annotations

import argparse

from rotor.cli import devkit
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import add_command


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub,
        "rotators",
        "list the rotators",
        "List the rotators of this rotor checkout (rotators/<name>/app.py) "
        "with their handlers as Lambda names them and what each rotates.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    rotators = devkit.load("rotators", "rotor.local.rotators")
    found = rotators.catalog()
    if not found:
        raise CliError(
            Exit.NOT_FOUND,
            f"no rotators under {rotators.ROTATORS_DIR}: `rotor "
            "rotators` lists those of a rotor source checkout",
        )
    doc = {
        "rotators": [
            {
                "name": r.name,
                "handler": r.handler,
                "path": str(r.path),
                "description": r.description,
            }
            for r in found
        ]
    }
    out = context.out
    out.result(
        doc, lambda: out.table(["rotator", "description"], [(r.name, r.description) for r in found])
    )
    return 0
