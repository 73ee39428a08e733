"""``--debug``: what happened on the way to an error, without a secret value in it.

botocore's DEBUG records carry request and response bodies (SecretString included), so the
SDK's loggers stay at INFO and only an allow-list is opened: connections and status lines
(urllib3), where credentials came from, endpoint resolution and retries. Tracebacks are
scrubbed of every secret value the rotation code read.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator

from rotor.cli.errors import scrub
from rotor.cli.terminal_text import printable

SDK = ("botocore", "boto3")  # kept at INFO: their DEBUG records carry bodies
SAFE = (
    "urllib3.connectionpool",
    "botocore.credentials",
    "botocore.regions",
    "botocore.retryhandler",
    "botocore.retries",
    "rotor.cli",
)


@contextlib.contextmanager
def debug_logs(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    levels = {name: logging.getLogger(name).level for name in (*SDK, *SAFE)}
    for name in SDK:
        logging.getLogger(name).setLevel(logging.INFO)
    for name in SAFE:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.root.addHandler(handler)
    try:
        yield
    finally:
        logging.root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def print_traceback(exc: BaseException) -> None:
    text = printable(scrub("".join(traceback.format_exception(exc))))
    print(text, file=sys.stderr, end="", flush=True)
