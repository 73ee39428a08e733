"""One rotation through the local harness (``rotate-all --local``): the rotator's real handler
runs the four steps in this process against moto, as Secrets Manager would run them.

Rotations run one at a time: handlers share this process's stdout redirection, environment and
module state, as one Lambda container runs one event at a time. The scheduler, rate limit,
cancellation and report are those of the service path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rotor.cli.fleet_rotation import Outcome, Result


class LocalRotation:
    """``harness_for(rotator name)``: a harness driving that rotator's handler; ``failure``
    says in one line why a harness report failed."""

    def __init__(
        self, harness_for: Callable[[str], Any], failure: Callable[[Any, str | None], str]
    ) -> None:
        self.harness_for, self.failure = harness_for, failure
        self._ends: dict[str, tuple[Result, str | None]] = {}
        self._one_at_a_time = threading.Lock()

    def start(self, outcome: Outcome, token: str) -> None:
        with self._one_at_a_time:
            harness = self.harness_for(str(outcome.function))
            report = harness.rotate(outcome.secret.arn, token)
            if report.succeeded:
                self._ends[token] = (Result.ROTATED, None)
            else:
                left = harness.in_progress(outcome.secret.arn)
                self._ends[token] = (Result.FAILED, self.failure(report, left))

    def check(self, outcome: Outcome) -> tuple[Result, str | None] | None:
        return self._ends.pop(str(outcome.token), None)
