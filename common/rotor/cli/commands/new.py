"""``rotor new``: a new rotator's files, from the scaffold (rotor.local.scaffold)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rotor.cli import devkit
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import add_command

NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME = 48


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub,
        "new",
        "create a new rotator from the template",
        "Create the files of a new rotator (handler, rotator class, tests) "
        "ready to fill in, and list them.",
    )
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the rotator's name: lowercase letters and digits, words joined "
        "by hyphens, e.g. widget-api (widget_api works too)",
    )
    parser.add_argument(
        "--directory",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where to create it (default: the current directory)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    name = args.name.strip()
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise CliError(
            Exit.USAGE,
            f"new: {name!r} is not a rotator name: lowercase letters "
            f"and digits, words joined by hyphens, at most {MAX_NAME} "
            "characters, e.g. widget-api",
        )
    name = name.replace("_", "-")
    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise CliError(Exit.USAGE, f"new: --directory {directory} is not a directory")
    scaffold = devkit.load("new", "rotor.local.scaffold")
    try:
        created = [Path(p) for p in scaffold.create(name, directory)]
    except FileExistsError as exc:
        raise CliError(
            Exit.CONFLICT, f"new: {exc.filename or name} already exists: nothing was overwritten"
        ) from None
    except ValueError as exc:
        raise CliError(Exit.USAGE, f"new: {exc}") from None
    doc = {"name": name, "directory": str(directory), "created": [str(p) for p in created]}
    out = context.out

    def table() -> None:
        out.line(f"created rotator {name}:")
        for path in created:
            out.line(f"  {path}")

    out.result(doc, table)
    return 0
