"""Where one secret's rotation stands, for ``rotor status``: on or off, its schedule, last and
next rotation, and what is stuck.

- **pending**: AWSPENDING on a version that is not AWSCURRENT: a rotation left in progress,
  which blocks the next one (``rotor resume`` reattempts it, ``rotor cancel`` gives it up);
- **overdue**: the next rotation's window has passed (NextRotationDate, or, where the endpoint
  gives none, last rotation or creation plus the interval: "estimated"); the window is
  Duration, else 24 hours (a day-based or cron schedule) or 1 hour (a rate in hours);
- **failed**: a RotationFailed in CloudTrail newer than the last rotation.

A secret scheduled for deletion is **deleted**, and none of these: nothing rotates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rotor.cli import pending
from rotor.cli.cloudtrail import Failures
from rotor.cli.functions import short_name
from rotor.cli.rotation_rules import Schedule, describe
from rotor.cli.selection import Secret

PENDING, OVERDUE, FAILED = "pending", "overdue", "failed"
DELETED = "deleted"  # scheduled for deletion: nothing rotates it, nothing is stuck


def short(when: datetime | None) -> str:
    """A time in UTC to the minute, for a table."""
    text = iso(when)
    return f"{text[:10]} {text[11:16]}" if text else "-"


def iso(when: datetime | None) -> str | None:
    """A time in UTC, ISO 8601, to the second."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Status:
    secret: Secret
    schedule: Schedule | None
    next_rotation: datetime | None
    estimated: bool  # next_rotation computed here, not given by the endpoint
    pending_version: str | None
    pending_since: datetime | None
    failed_at: datetime | None
    failures_unknown: str | None  # why CloudTrail could not say
    problems: tuple[str, ...]

    @property
    def state(self) -> str:
        if self.secret.deleted is not None:
            return DELETED
        if self.problems:
            return ", ".join(self.problems)
        return "ok" if self.secret.rotation_enabled else "off"

    def doc(self) -> dict[str, Any]:
        s = self.secret
        return {
            "secret": s.name,
            "name": s.name,  # as 0.2.0 printed it; "secret" is the key every fleet command uses
            "arn": s.arn,
            "deleted": iso(s.deleted),
            "rotation_enabled": s.rotation_enabled,
            "function": s.rotation_lambda,
            "schedule": self.schedule.rules() if self.schedule else None,
            "last_rotated": iso(s.last_rotated),
            "next_rotation": iso(self.next_rotation),
            "next_rotation_estimated": self.estimated,
            "state": self.state,
            "problems": list(self.problems),
            "pending": None
            if self.pending_version is None
            else {"version": self.pending_version, "since": iso(self.pending_since)},
            "last_failure": iso(self.failed_at),
            "failures_unknown": self.failures_unknown,
        }

    def details(self) -> list[str]:
        """What is stuck, in words, for the lines under the table."""
        found = []
        if self.pending_version:
            since = f" since {iso(self.pending_since)}" if self.pending_since else ""
            found.append(
                f"AWSPENDING on version {self.pending_version}{since}: `rotor resume` "
                "reattempts that rotation, `rotor cancel` gives it up"
            )
        if OVERDUE in self.problems:
            found.append(f"overdue: its window opened {iso(self.next_rotation)}")
        if self.failed_at:
            found.append(
                f"RotationFailed at {iso(self.failed_at)} (CloudTrail), no rotation since: "
                "see the function's logs"
            )
        return found

    def row(self) -> list[str]:
        s = self.secret
        nxt = short(self.next_rotation)
        return [
            s.name,
            "on" if s.rotation_enabled else "off",
            short_name(s.rotation_lambda) if s.rotation_lambda else "-",
            describe(self.schedule, s.rotation_enabled),
            short(s.last_rotated),
            f"{nxt} (estimated)" if self.estimated and self.next_rotation else nxt,
            self.state,
        ]


def window(schedule: Schedule) -> timedelta:
    if schedule.duration:
        return timedelta(hours=int(schedule.duration[:-1]))
    step = schedule.interval()
    return timedelta(hours=1) if step is not None and step < timedelta(days=1) else timedelta(1)


def status_of(
    secret: Secret, failures: Failures, pending_since: datetime | None, now: datetime
) -> Status:
    schedule = Schedule.from_rules(secret.rules)
    nxt, estimated = (secret.next_rotation if secret.rotation_enabled else None), False
    if secret.rotation_enabled and nxt is None and schedule is not None:
        nxt, estimated = schedule.next_after(secret.last_rotated or secret.created), True
    problems = []
    stuck = None if secret.deleted is not None else pending.in_progress(secret.stages)
    if stuck is not None:
        problems.append(PENDING)
    if (
        secret.rotation_enabled
        and secret.deleted is None
        and nxt is not None
        and schedule is not None
        and nxt + window(schedule) < now
    ):
        problems.append(OVERDUE)
    failed = failures.last_for(secret.arn, secret.name)
    if failed is not None and secret.last_rotated is not None and failed <= secret.last_rotated:
        failed = None  # a rotation succeeded since
    if failed is not None and secret.deleted is None:
        problems.append(FAILED)
    return Status(
        secret,
        schedule,
        nxt,
        estimated,
        stuck,
        pending_since if stuck else None,
        failed,
        failures.unavailable,
        tuple(problems),
    )
