"""The real Lambda handlers the local commands run in this process (``rotor rotate``, and
``--local`` of ``schedule`` and ``resume``): a rotator of this checkout by name, or a handler
named as Lambda names it, with failures turned into the CLI's exit codes."""

from __future__ import annotations

from typing import Any

from rotor.cli import devkit
from rotor.cli.errors import CliError, Exit


def handler_spec(command: str, rotator: str) -> str:
    """``path/to/app.py:lambda_handler`` of the checkout's rotator called ``rotator``."""
    found = devkit.load(command, "rotor.local.rotators").find(rotator)
    if found is None:
        raise CliError(Exit.NOT_FOUND, unknown_rotator(command, rotator))
    return f"{found.path}:lambda_handler"


def unknown_rotator(command: str, rotator: str) -> str:
    """Why ``rotator`` names none of the checkout's rotators, listing those it has."""
    rotators = devkit.load(command, "rotor.local.rotators")
    known = ", ".join(r.name for r in rotators.catalog())
    if known:
        return f"no rotator {rotator!r} (known: {known})"
    return f"no rotators under {rotators.ROTATORS_DIR}: this needs a rotor source checkout"


def load(command: str, spec: str) -> Any:
    """The handler ``spec`` names; a module that fails to import fails as a Lambda init does."""
    harness = devkit.load(command, "rotor.local.harness")
    try:
        return harness.load_handler(spec)
    except harness.HandlerNotFound as exc:
        raise CliError(Exit.NOT_FOUND, str(exc)) from None
    except harness.HarnessError as exc:
        raise CliError(Exit.ROTATION_FAILED, str(exc)) from exc
