"""A client-side rate limit: a token bucket that hands out start times, and lowers its rate
when AWS throttles (AIMD: halve on a throttle, climb back additively on success).

It never sleeps itself: ``reserve()`` says how long the caller must wait, so the scheduler can
wait on its cancellation event and tests can drive it with their own clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, ``burst`` at once."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        floor: float = 0.5,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.target = rate  # what was configured: the rate climbs back to it, never above
        self.rate = rate
        self.burst = max(1, burst)
        self.floor = min(floor, rate)  # a throttled run still makes progress
        self.cooldown = cooldown  # throttles answered by one halving: they come in bursts
        self._slowed: float | None = None
        self.clock = clock
        self._next = clock()  # when the next token is free
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next token; the seconds to wait before using it (0: now)."""
        with self._lock:
            now = self.clock()
            earliest = now - (self.burst - 1) / self.rate  # unused tokens accumulate to burst
            slot = max(self._next, earliest)
            self._next = slot + 1 / self.rate
            return max(0.0, slot - now)

    def slow_down(self) -> None:
        """AWS throttled a call: halve the rate (not below the floor), once per cooldown: the
        calls already in flight at the old rate are throttled too, and say nothing new."""
        with self._lock:
            now = self.clock()
            if self._slowed is not None and now - self._slowed < self.cooldown:
                return
            self._slowed = now
            self.rate = max(self.floor, self.rate / 2)

    def speed_up(self) -> None:
        """A call went through: climb back towards the configured rate by a tenth of it."""
        with self._lock:
            self.rate = min(self.target, self.rate + self.target / 10)
