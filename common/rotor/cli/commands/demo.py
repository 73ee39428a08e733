"""``rotor demo``: real rotations on this machine, each step shown (rotor.local.demo)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from rotor.cli import devkit, lambda_env
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import add_command

# What the demo imports as it goes: checked first, so a missing one is said up front.
NEEDS = ("moto", "psycopg", "pymysql", "requests", "cryptography")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub,
        "demo",
        "run real rotations locally and show each step",
        "Start private PostgreSQL and MariaDB servers, a SendGrid-compatible "
        "API and a moto Secrets Manager on 127.0.0.1, then rotate secrets "
        "through the rotators' real handlers, showing each step and proving "
        "the result by real logins. Secrets are shown only as fingerprints. "
        "With --output json the narrative goes to stderr.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    demo = devkit.load("demo", "rotor.local.demo", *NEEDS)
    out = context.out
    narrative = sys.stderr if out.json else sys.stdout
    with lambda_env.handler_logs(context.verbose), contextlib.ExitStack() as stack:
        if out.json:  # nothing but the document on stdout
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        code = demo.run(narrative)
    out.result({"succeeded": code == 0})
    if code != 0:
        raise CliError(Exit.ROTATION_FAILED, "demo: some checks did not hold (marked ✘)")
    return 0
