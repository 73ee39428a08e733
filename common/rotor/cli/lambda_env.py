"""A rotation handler run in this process as in Lambda: its environment and its logs.

Handlers log JSON for CloudWatch; a person at a terminal wants the summary, so their logs
(errors included) stay quiet unless ``-v``, and then go to stderr: stdout carries only rotor's
own output. Everything set here is put back afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

QUIET = logging.CRITICAL + 1  # above every level: not even ERROR
SERVER_LOGGERS = ("werkzeug",)  # the local servers' request logs (moto, fake providers)


@contextlib.contextmanager
def variables(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Environment variables the handler reads, and a fresh Secrets Manager client for it."""
    from rotor import secrets

    with variables(values):
        secrets.reset_client()
        try:
            yield
        finally:
            secrets.reset_client()


@contextlib.contextmanager
def handler_logs(verbose: bool) -> Iterator[None]:
    from rotor.observability import logger

    with contextlib.ExitStack() as restore:
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(sys.stderr)
            if previous is not None:
                restore.callback(handler.setStream, previous)
        if not verbose and handler is not None:
            restore.callback(handler.setLevel, handler.level)
            handler.setLevel(QUIET)  # the handler, not the logger: Powertools names levels
            restore.enter_context(variables({"POWERTOOLS_METRICS_DISABLED": "true"}))
            quiet_root = logging.NullHandler()  # keeps logging's last resort from printing
            logging.root.addHandler(quiet_root)
            restore.callback(logging.root.removeHandler, quiet_root)
            for name in SERVER_LOGGERS:
                server = logging.getLogger(name)
                restore.callback(server.setLevel, server.level)
                server.setLevel(logging.ERROR)
        yield


def printing_to_stderr(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, with whatever it prints (Powertools metrics, a stray print) on stderr."""

    def run(event: dict[str, Any], context: Any) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return handler(event, context)

    return run
