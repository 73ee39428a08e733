"""Rotation schedules as Secrets Manager's RotationRules hold them, checked here before any
request so a schedule AWS would refuse is a usage error that changes nothing.

``AutomaticallyAfterDays`` (1-1000) or ``ScheduleExpression`` (``rate(N hours|days)``, at least
4 hours, at most 1000 days, or a six-field ``cron()``, in UTC) with an optional ``Duration``
(the window, ``Nh``, 1-24 hours, not longer than the rate).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_DURATION = re.compile(r"^(\d+)h$")


def expression(text: str) -> str:
    """An argparse type: a ScheduleExpression AWS accepts, normalised (one space, lower case
    for rate)."""
    text = " ".join(text.strip().split())
    rate = _RATE.match(text)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        hours = count * (24 if unit.startswith("day") else 1)
        if hours < 4 or hours > 1000 * 24:
            raise argparse.ArgumentTypeError(
                f"{text!r}: a rate must be between 4 hours and 1000 days"
            )
        return f"rate({count} {unit})"
    cron = _CRON.match(text)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise argparse.ArgumentTypeError(
                f"{text!r}: cron() takes six fields (minutes hours day-of-month month "
                "day-of-week year), e.g. cron(0 4 ? * SUN *)"
            )
        if "?" not in (fields[2], fields[4]):
            raise argparse.ArgumentTypeError(
                f"{text!r}: one of day-of-month and day-of-week must be '?'"
            )
        return f"cron({' '.join(fields)})"
    raise argparse.ArgumentTypeError(
        f"{text!r}: expected rate(N hours|days) or cron(...), e.g. 'rate(30 days)'"
    )


def duration(text: str) -> str:
    """An argparse type: a rotation window of 1 to 24 hours, written ``Nh``."""
    found = _DURATION.match(text.strip())
    if not found or not 1 <= int(found.group(1)) <= 24:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a window of 1h to 24h, e.g. 2h")
    return f"{int(found.group(1))}h"


def days(text: str) -> int:
    """An argparse type: AutomaticallyAfterDays, 1 to 1000."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a number of days from 1 to 1000, not {text!r}")
    return value


@dataclass(frozen=True)
class Schedule:
    days: int | None = None
    expression: str | None = None
    duration: str | None = None

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any]) -> Schedule | None:
        """What a secret's RotationRules say, or None when they say nothing (moto reports
        AutomaticallyAfterDays 0 for none)."""
        expr = rules.get("ScheduleExpression") or None
        after = int(rules.get("AutomaticallyAfterDays") or 0) or None
        if expr is None and after is None:
            return None
        if expr is not None:
            return cls(expression=" ".join(str(expr).split()), duration=rules.get("Duration"))
        return cls(days=after, duration=rules.get("Duration"))

    def check(self) -> None:
        """A window longer than the rate it opens in is refused by AWS: refuse it here."""
        if self.duration and self.expression:
            rate = _RATE.match(self.expression)
            if rate:
                hours = int(rate.group(1)) * (24 if rate.group(2).startswith("day") else 1)
                if int(self.duration[:-1]) > hours:
                    raise argparse.ArgumentTypeError(
                        f"--duration {self.duration} is longer than {self.expression}"
                    )

    def rules(self) -> dict[str, Any]:
        """RotationRules for RotateSecret."""
        rules: dict[str, Any] = (
            {"ScheduleExpression": self.expression}
            if self.expression
            else {"AutomaticallyAfterDays": self.days}
        )
        if self.duration:
            rules["Duration"] = self.duration
        return rules

    def same_as(self, other: Schedule | None) -> bool:
        """The same rotations: ``rate(N days)`` and N days are the same schedule."""
        if other is None:
            return False
        return self._days_equivalent() == other._days_equivalent() and (
            (self.duration or None) == (other.duration or None)
        )

    def _days_equivalent(self) -> tuple[int | None, str | None]:
        rate = _RATE.match(self.expression or "")
        if rate and rate.group(2).startswith("day"):
            return int(rate.group(1)), None
        return self.days, self.expression

    def interval(self) -> timedelta | None:
        """The time between rotations when it is fixed (not for cron)."""
        if self.days:
            return timedelta(days=self.days)
        rate = _RATE.match(self.expression or "")
        if rate:
            count = int(rate.group(1))
            return (
                timedelta(days=count) if rate.group(2).startswith("day") else timedelta(hours=count)
            )
        return None

    def next_after(self, last: datetime | None) -> datetime | None:
        """An estimate of the next rotation from the last one (or creation), when fixed."""
        step = self.interval()
        return last + step if last is not None and step is not None else None

    def __str__(self) -> str:
        text = self.expression or f"every {self.days} days"
        return f"{text}, window {self.duration}" if self.duration else text


def describe(schedule: Schedule | None, enabled: bool = True) -> str:
    """A schedule for a table: its text, or "off"."""
    return str(schedule) if schedule is not None and enabled else "off"
