"""The scheduler of ``rotor rotate-all``: rotations of many secrets at once, with at most
``concurrency`` in flight, starts paced by a token bucket, each one followed to its end by
polling, and cancellation that stops new starts and reports what is still in flight.

It prints nothing: the command shows progress from ``on_done`` and the report from the
outcomes, and tests drive it directly. How one rotation starts and how its end is seen
is a :class:`Rotation` (Secrets Manager's RotateSecret and DescribeSecret, or the local harness).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from rotor.cli.errors import refusal_line
from rotor.cli.rate_limit import TokenBucket
from rotor.cli.selection import Secret

INTERRUPTED = "interrupted while it ran: it may still finish; see `rotor stages`"


class Result(StrEnum):
    ROTATED = "rotated"
    FAILED = "failed"
    IN_FLIGHT = "in_flight"  # started, end not seen (timeout or Ctrl-C): it may still finish
    NOT_STARTED = "not_started"  # cancelled before its turn
    REFUSED = "refused"  # its state forbids a rotation: RotateSecret was not called
    PLANNED = "planned"  # --dry-run: would be started


@dataclass
class Outcome:
    secret: Secret
    function: str | None  # the rotation function's ARN, or the local rotator's name
    result: Result = Result.NOT_STARTED
    reason: str | None = None
    token: str | None = None
    seconds: float | None = None


class Rotation(Protocol):
    """How one rotation is started and its end seen."""

    def start(self, outcome: Outcome, token: str) -> None:
        """Start rotating ``outcome.secret`` under ``token``; raise to fail it."""

    def check(self, outcome: Outcome) -> tuple[Result, str | None] | None:
        """Its end (result, reason), or None while it is still running."""


@dataclass(frozen=True)
class Polling:
    """When to look again: ``first`` seconds after a check that saw no end, growing by
    ``factor`` up to ``cap``; ``timeout`` after the start, the rotation is left in flight."""

    timeout: float = 900.0
    first: float = 2.0
    factor: float = 1.5
    cap: float = 15.0

    def delays(self) -> Callable[[], float]:
        state = {"next": self.first}

        def following() -> float:
            delay = state["next"]
            state["next"] = min(self.cap, delay * self.factor)
            return delay

        return following


@dataclass
class Run:
    outcomes: list[Outcome]
    elapsed: float
    interrupted: bool

    def count(self, result: Result) -> int:
        return sum(1 for o in self.outcomes if o.result is result)


class Cancellation:
    """Ctrl-C's flag, shared by the scheduler and every wait of a run (throttling backoff,
    polls): once set, nothing new starts and no wait lasts."""

    def __init__(self) -> None:
        self._set = threading.Event()

    def wait(self, seconds: float) -> bool:
        """Sleep, or less if cancelled meanwhile; True when cancelled."""
        return self._set.wait(seconds) if seconds > 0 else self._set.is_set()

    def cancel(self) -> None:
        self._set.set()

    @property
    def cancelled(self) -> bool:
        return self._set.is_set()


class FleetRotation:
    def __init__(
        self,
        rotation: Rotation,
        starts: TokenBucket,
        *,
        concurrency: int,
        polling: Polling = Polling(),
        new_token: Callable[[], str],
        on_done: Callable[[Outcome], None] | None = None,
        cancellation: Cancellation | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rotation, self.starts = rotation, starts
        self.concurrency, self.polling = concurrency, polling
        self.new_token, self.on_done, self.clock = new_token, on_done, clock
        self.cancellation = cancellation or Cancellation()
        self._queue: list[Outcome] = []
        self._lock = threading.Lock()
        self._running, self._finished = 0, threading.Event()

    def wait(self, seconds: float) -> bool:
        return self.cancellation.wait(seconds)

    def cancel(self) -> None:
        self.cancellation.cancel()

    def run(self, outcomes: Sequence[Outcome]) -> Run:
        """Rotate every outcome still NOT_STARTED (refused ones are left as they are). A first
        KeyboardInterrupt cancels (each worker ends its current call); a second one escapes."""
        began = self.clock()
        self._queue = [o for o in outcomes if o.result is Result.NOT_STARTED][::-1]
        workers = min(self.concurrency, len(self._queue))
        self._running, self._finished = workers, threading.Event()
        if not workers:
            self._finished.set()
        for i in range(workers):
            threading.Thread(target=self._work, name=f"rotate-all-{i}", daemon=True).start()
        interrupted = False
        try:
            self._wait_for_workers()
        except KeyboardInterrupt:
            interrupted = True
            self.cancel()
            self._wait_for_workers()
        return Run(list(outcomes), self.clock() - began, interrupted or self.cancellation.cancelled)

    def _wait_for_workers(self) -> None:
        # An event, not Thread.join: a join interrupted by Ctrl-C can leave its thread
        # looking finished (CPython before 3.12), and the report would miss what it did.
        while not self._finished.wait(0.2):  # short waits: Ctrl-C reaches us promptly
            pass

    def _next(self) -> Outcome | None:
        with self._lock:
            return self._queue.pop() if self._queue and not self.cancellation.cancelled else None

    def _work(self) -> None:
        try:
            while (outcome := self._next()) is not None:
                if self.wait(self.starts.reserve()):
                    return  # cancelled while waiting for its turn: stays NOT_STARTED
                self._rotate(outcome)
                if self.on_done is not None:
                    self.on_done(outcome)
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._finished.set()

    def _rotate(self, outcome: Outcome) -> None:
        began = self.clock()
        outcome.token = self.new_token()
        try:
            self.rotation.start(outcome, outcome.token)
        except Exception as exc:  # not started: this secret fails, the others go on
            outcome.token = None
            end: tuple[Result, str | None] = (Result.FAILED, refusal_line(exc))
        else:
            self.starts.speed_up()
            try:
                end = self._follow(outcome, began)
            except Exception as exc:  # started, but its end cannot be seen
                end = (
                    Result.IN_FLIGHT,
                    (
                        INTERRUPTED
                        if self.cancellation.cancelled
                        else f"cannot follow it ({refusal_line(exc)}): see `rotor stages`"
                    ),
                )
        outcome.result, outcome.reason = end
        outcome.seconds = round(self.clock() - began, 3)

    def _follow(self, outcome: Outcome, began: float) -> tuple[Result, str | None]:
        following = self.polling.delays()
        while True:
            end = self.rotation.check(outcome)
            if end is not None:
                return end
            if self.clock() - began >= self.polling.timeout:
                return Result.IN_FLIGHT, (
                    f"not finished after {self.polling.timeout:g} s: it may still finish; "
                    "see its labels with `rotor stages`"
                )
            if self.wait(following()):
                return Result.IN_FLIGHT, INTERRUPTED
