"""Logger, Metrics and Tracer set-up, and the redactor that keeps secret values out of output.

Every secret value rotor reads or writes is registered with :data:`redactor` as it is parsed, so
an exception raised anywhere (a driver message quoting a statement, a KeyError on a dict) is
scrubbed before it is logged or leaves the handler.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from rotor._version import __version__
from rotor.settings import current as current_settings

SERVICE = current_settings().service_name
NAMESPACE = current_settings().metrics_namespace
MASK = "*****"

# rotor_version on every line: which release a function ran is in its logs, through an
# upgrade and a rollback (a persistent key, set once at import; remove_keys never drops it).
logger = Logger(service=SERVICE, rotor_version=__version__)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_tracer: Any = None


def tracing_enabled() -> bool:
    """X-Ray is active for this function (Lambda sets the daemon address only then)."""
    settings = current_settings()
    return settings.xray_daemon_address is not None and not settings.trace_disabled


@contextmanager
def traced(name: str, **annotations: str) -> Iterator[None]:
    """An X-Ray subsegment with annotations, responses never captured.

    The Powertools Tracer (and the X-Ray SDK, which imports all of botocore) is created on
    first use and only when tracing is active: creating it costs 25-65 ms of cold start.
    """
    global _tracer
    if not tracing_enabled():
        yield
        return
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        silence_sdk_debug_logs()  # the X-Ray SDK prints whole segments at DEBUG
        # Only AWS calls get subsegments: the SDK's database patches record SQL text, and an
        # ALTER ROLE statement carries a password verifier.
        _tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
    with _tracer.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key, value)
        yield


# Keys whose values are credentials. Anything else in a secret (host, username...) may be shown.
_SENSITIVE_MARKERS = ("password", "secret", "token", "key", "credential", "private")
_MIN_LENGTH = 4  # shorter strings would mask innocent text; no real credential is that short


class Redactor:
    """Remembers secret values seen by this container and masks them in any text."""

    def __init__(self, limit: int = 2048) -> None:
        self._values: dict[str, None] = {}  # insertion-ordered set
        self._limit = limit
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_LENGTH:
            return
        with self._lock:
            self._values.pop(value, None)
            self._values[value] = None
            while len(self._values) > self._limit:
                self._values.pop(next(iter(self._values)))

    def register_secret(self, secret: Mapping[str, Any]) -> None:
        """Register every credential-like value of a parsed secret (recursively)."""
        for key, value in secret.items():
            if isinstance(value, Mapping):
                self.register_secret(value)
            elif isinstance(value, str) and is_sensitive_key(key):
                self.register(value)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text


def silence_sdk_debug_logs() -> None:
    """Keep botocore's DEBUG records (request and response bodies, SecretString included) and
    the X-Ray SDK's (whole segments, exceptions included) from being emitted when the root
    logger is at DEBUG, as Lambda's advanced logging controls may set it. A level set on these
    loggers on purpose is left alone."""
    for name in ("botocore", "boto3", "urllib3", "aws_xray_sdk"):
        sdk_logger = logging.getLogger(name)
        if sdk_logger.level == logging.NOTSET:
            sdk_logger.setLevel(logging.INFO)


def is_sensitive_key(key: str) -> bool:
    """Whether a key's name says its value is a credential. An ARN used as a key (the admin
    secret's per-secret settings) names a secret; it says nothing about the value."""
    lowered = key.lower()
    if lowered.startswith("arn:"):
        return False
    return any(marker in lowered for marker in _SENSITIVE_MARKERS)


redactor = Redactor()


def describe_exception(exc: BaseException) -> str:
    """One scrubbed line: the exception type and its message, following the cause chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        message = str(current).strip()
        parts.append(f"{type(current).__name__}: {message}" if message else type(current).__name__)
        if current.__cause__ is not None:
            current = current.__cause__
        else:  # `raise ... from None` hides the context on purpose: so do we
            current = None if current.__suppress_context__ else current.__context__
    return redactor.scrub(" <- ".join(parts))


def scrubbed_traceback(exc: BaseException) -> str:
    return redactor.scrub("".join(traceback.format_exception(exc)))
