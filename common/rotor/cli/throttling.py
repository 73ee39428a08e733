"""Throttling, seen and survived: which AWS errors mean "slow down", a backoff with full
jitter, and a client wrapper that retries throttled calls itself and counts them.

botocore would retry throttled calls on its own and hide them, so the command's client is made
with a single attempt and every throttle comes here, where it is counted, slows the rate
limiter, and is retried after a jittered wait.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)


def is_throttle(exc: BaseException) -> bool:
    """An AWS error saying the caller exceeded a rate (by code, or HTTP 429)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in THROTTLE_CODES or status == 429


class Backoff:
    """Full jitter (AWS's advice): a random wait up to ``base * 2**attempt``, capped."""

    def __init__(self, base: float = 0.2, cap: float = 10.0, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.rng = rng or random.SystemRandom()

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * 2**attempt))


class Throttled(Exception):
    """Still throttled after every attempt (the original ClientError is the cause)."""


class RetryingClient:
    """A boto3 client whose calls retry throttling with backoff; counts calls and throttles.

    ``wait(seconds)`` sleeps and returns True when the run was cancelled meanwhile (then the
    throttle is raised rather than retried); ``on_throttle(operation)`` tells the rate limiter.
    """

    def __init__(
        self,
        client: Any,
        *,
        wait: Callable[[float], bool],
        attempts: int = 15,
        backoff: Backoff | None = None,
        on_throttle: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.meta, self.exceptions = client.meta, client.exceptions
        self.wait, self.attempts = wait, attempts
        self.backoff = backoff or Backoff()
        self.on_throttle = on_throttle
        self.calls: Counter[str] = Counter()  # by API name, throttled attempts included
        self.throttles: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method) or name.startswith("get_paginator") or name.startswith("_"):
            return method

        api = self.meta.method_to_api_mapping.get(name, name)  # RotateSecret, as quotas say

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.call(api, method, *args, **kwargs)

        return call

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(self.attempts):
            with self._lock:
                self.calls[name] += 1
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                if not is_throttle(exc):
                    raise
                with self._lock:
                    self.throttles[name] += 1
                if self.on_throttle is not None:
                    self.on_throttle(name)
                if attempt + 1 == self.attempts or self.wait(self.backoff.delay(attempt)):
                    raise Throttled(
                        f"{name} still throttled after {attempt + 1} attempt(s)"
                    ) from exc
        raise AssertionError("unreachable")  # the loop returns or raises
