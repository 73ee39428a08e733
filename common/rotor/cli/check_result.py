"""One line of ``rotor check``: a check, its status and the reason, as JSON-ready dicts.

The statuses are those of :mod:`rotor.preflight` (which the CLI does not import: it needs
the rotation extras); ``unchecked`` is what nobody can say here (IAM without simulation).
"""

from __future__ import annotations

from typing import Any

PASS, FAIL, SKIPPED, UNCHECKED = "pass", "fail", "skipped", "unchecked"
STATUSES = (PASS, FAIL, SKIPPED, UNCHECKED)


def line(check: str, status: str, reason: str) -> dict[str, str]:
    return {"check": check, "status": status, "reason": " ".join(reason.split())}


def lines_of(report: Any) -> list[dict[str, str]] | None:
    """The check lines of a check report (what the handler returned), or None when it is
    not one: a function answering something else is not believed."""
    checks = report.get("checks") if isinstance(report, dict) else None
    if not isinstance(checks, list):
        return None
    lines = []
    for item in checks:
        if not isinstance(item, dict):
            return None
        check, status, reason = (item.get(k) for k in ("check", "status", "reason"))
        if not (isinstance(check, str) and status in STATUSES and isinstance(reason, str)):
            return None
        lines.append(line(check, status, reason))
    return lines
