"""``rotor moto-server``: a moto Secrets Manager (and every other moto service) on 127.0.0.1,
until Ctrl-C, which is how it is meant to stop (exit 0)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import threading

from rotor.cli import devkit
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.options import add_command


def port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port, 0 to 65535, not {text!r}")
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        sub,
        "moto-server",
        "run a moto Secrets Manager on 127.0.0.1",
        "Run moto (Secrets Manager, RDS and the other emulated services) over "
        "HTTP on 127.0.0.1 until Ctrl-C. With --output json it prints "
        '{"endpoint": URL} once it listens. -v shows its request log.',
    )
    parser.add_argument(
        "--port",
        type=port,
        default=5000,
        help="TCP port to listen on (default 5000; 0 picks a free one)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    local_moto = devkit.load("moto-server", "rotor.local.moto", "moto.moto_server", "werkzeug")
    if not context.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        moto = local_moto.LocalMoto(port=args.port).start()
    except OSError as exc:
        code = Exit.CONFLICT if exc.errno == errno.EADDRINUSE else Exit.USAGE
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CliError(code, f"cannot listen on 127.0.0.1:{args.port}: {reason}") from None
    out = context.out
    try:
        out.result(
            {"endpoint": moto.endpoint},
            lambda: out.line(f"moto Secrets Manager on {moto.endpoint} (Ctrl-C to stop)"),
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        moto.stop()
    return 0
