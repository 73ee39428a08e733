"""One rotation as Secrets Manager runs it: RotateSecret under our own token (so we know which
version to watch), then DescribeSecret until that version holds AWSCURRENT.

RotateSecret only starts the rotation: the function runs its four steps afterwards, and the
service retries them on failure, so the end is found by polling the version's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rotor.cli.fleet_rotation import Outcome, Result
from rotor.cli.pending import CURRENT, PENDING
from rotor.cli.rate_limit import TokenBucket


def end_of(stages: Mapping[str, Sequence[str]], token: str) -> tuple[Result, str | None] | None:
    """What the labels say of the rotation under ``token``: rotated, failed, or None (running:
    the version still holds AWSPENDING, or createSecret has not stored it yet)."""
    labels = stages.get(token)
    if labels is not None and CURRENT in labels:
        return Result.ROTATED, None
    if labels is not None and PENDING in labels:
        return None
    elsewhere = next((v for v, s in stages.items() if PENDING in s and CURRENT not in s), None)
    if elsewhere is not None:
        return Result.FAILED, (
            f"another rotation took over (AWSPENDING is on version {elsewhere} now)"
        )
    if labels is not None:
        return Result.FAILED, (
            "the rotation was abandoned: its version lost AWSPENDING without becoming "
            "AWSCURRENT (a value written meanwhile, or the rotation cancelled)"
        )
    return None


class ServiceRotation:
    """``sm``: a client whose calls retry throttling (``RetryingClient``); ``polls`` paces the
    DescribeSecret calls of every rotation together; ``wait`` is the scheduler's cancellable
    sleep."""

    def __init__(self, sm: Any, polls: TokenBucket, wait: Callable[[float], bool]) -> None:
        self.sm, self.polls, self.wait = sm, polls, wait

    def start(self, outcome: Outcome, token: str) -> None:
        self.sm.rotate_secret(SecretId=outcome.secret.arn, ClientRequestToken=token)

    def check(self, outcome: Outcome) -> tuple[Result, str | None] | None:
        if self.wait(self.polls.reserve()):
            return None  # cancelled: the scheduler reports it in flight
        meta = self.sm.describe_secret(SecretId=outcome.secret.arn)
        return end_of(meta.get("VersionIdsToStages") or {}, str(outcome.token))
