"""Parse the command line, run the command, and turn any outcome into an exit code and, on
failure, one line on stderr (a traceback only with ``--debug``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from rotor._version import __version__
from rotor.cli import commands
from rotor.cli.aws import Aws
from rotor.cli.context import Context
from rotor.cli.debug import debug_logs, print_traceback
from rotor.cli.errors import CliError, Exit, Subject, from_exception
from rotor.cli.options import Parser, global_options
from rotor.cli.output import Output

DESCRIPTION = "Rotate AWS Secrets Manager secrets with rotor, and test rotations locally."
EPILOG = """exit codes: 0 success, 1 rotation failed, 2 usage error, 3 partial failure of a
  batch, 4 not found, 5 conflict (e.g. a rotation in progress), 6 cannot reach or
  authenticate to AWS / the endpoint, 7 an extra is not installed, 70 unexpected error,
  130 interrupted, 141 output pipe closed. See docs/cli.md."""


def version() -> str:
    """The version of the code that runs (rotor/_version.py), so a source tree that was never
    installed, or an editable install whose metadata predates a bump, still tells the truth."""
    return __version__


def build_parser() -> Parser:
    parser = Parser(
        prog="rotor",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[global_options(top=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"rotor {version()}",
        help="print rotor's version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, title="commands")
    for command in commands.ALL:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    out, args = Output(), None
    context: Context | None = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help, --version
            return int(done.code or 0)
        out = Output(args.output)
        aws = Aws.from_args(args) if hasattr(args, "endpoint_url") else None
        context = Context(out, args.verbose or args.debug, args.debug, aws)
        with debug_logs(args.debug):
            return int(args.run(args, context))
    except KeyboardInterrupt:
        out.error("interrupted")
        return Exit.INTERRUPTED
    except BrokenPipeError:  # the reader left (`| head`): end quietly, as SIGPIPE would
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.PIPE
    except Exception as exc:
        subject = Subject(getattr(args, "secret_id", None), context.aws if context else None)
        error = from_exception(exc, subject)
        cause = exc.__cause__ if isinstance(exc, CliError) else exc  # ours: only its cause
        if context is not None and context.debug and cause is not None:
            print_traceback(cause)
        out.error(error.message)
        return error.code
