"""The command line's grammar: one-line usage errors, the options every command shares, and
the AWS CLI's options for commands that call AWS.

Global options (``--output``, ``--debug``, ``-v``) are accepted before or after the command, as
the AWS CLI accepts them. Abbreviated options are refused, so adding an option never changes
what an existing command line means.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import NoReturn

from rotor.cli.errors import CliError, Exit
from rotor.cli.output import FORMATS


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        raise CliError(Exit.USAGE, f"{where}{message} (see `{self.prog} --help`)")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse, but an unknown option is told by the command it was given to, with the
        option it most likely meant (``status --stuk``: did you mean --stuck?)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command(getattr(parsed, "command", None)) or self
            parser.error(f"unrecognized arguments: {' '.join(extras)}{parser._closest(extras)}")
        return parsed

    def _command(self, name: str | None) -> Parser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                found: Parser = action.choices[name]
                return found
        return None

    def _closest(self, extras: Sequence[str]) -> str:
        known = [option for action in self._actions for option in action.option_strings]
        for extra in extras:
            if extra.startswith("--"):
                close = difflib.get_close_matches(extra.partition("=")[0], known, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


def global_options(*, top: bool) -> Parser:
    """The options of every command. On subcommands they default to "not given", so a value
    given before the command is not overwritten by the subcommand's default."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parent = Parser(add_help=False)
    parent.add_argument(
        "--output",
        choices=FORMATS,
        default=default("table"),
        help="table for people (default), or json: one JSON document on "
        "stdout, the shapes in docs/cli.md",
    )
    parent.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="on error, show the traceback; log the SDK's connections, "
        "credential lookups and retries (never request bodies); implies -v",
    )
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="show the rotation handlers' own logs (on stderr)",
    )
    return parent


def aws_options() -> Parser:
    parent = Parser(add_help=False)
    parent.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="the Secrets Manager endpoint (default: SECRETS_MANAGER_ENDPOINT, "
        "then AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL, the "
        "profile's endpoint_url, then AWS)",
    )
    parent.add_argument(
        "--region",
        metavar="REGION",
        help="the AWS region (default: AWS_REGION / AWS_DEFAULT_REGION, then the profile's region)",
    )
    parent.add_argument(
        "--profile",
        metavar="NAME",
        help="a named profile from ~/.aws/config (default: AWS_PROFILE)",
    )
    return parent


def add_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    summary: str,
    description: str,
    *,
    aws: bool = False,
    parents: Sequence[Parser] = (),
) -> Parser:
    """A subcommand's parser; ``parents``: shared option groups such as the selection's."""
    parents = [global_options(top=False), *([aws_options()] if aws else []), *parents]
    parser: Parser = sub.add_parser(name, help=summary, description=description, parents=parents)
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def local_only(args: argparse.Namespace, command: str, *names: str) -> None:
    """Refuse options that only mean something with ``--local``, rather than ignore them."""
    given = [f"--{name}" for name in names if getattr(args, name, None)]
    if given and not args.local:
        verb = "needs" if len(given) == 1 else "need"
        raise CliError(
            Exit.USAGE,
            f"{command}: {' and '.join(given)} {verb} --local (see `rotor {command} --help`)",
        )


def dry_run_option(parser: argparse.ArgumentParser) -> None:
    """``--dry-run``, worded alike by every command that changes AWS."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be done (each secret's result: planned, or why not) and change "
        "nothing",
    )
