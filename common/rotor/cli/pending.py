"""A rotation left in progress, and giving it up: one definition for the local harness
(``Harness.in_progress`` / ``Harness.cancel``, behind ``rotor rotate --cancel`` and
``rotate-all --local``), ``rotor status``, ``resume``, ``cancel``, ``schedule`` and
``rotate-all`` (any endpoint), so they agree on what "stuck" means and cancelling never touches
the AWSCURRENT version. It imports nothing, so the harness (development kit) can use it.

AWSPENDING on a version other than AWSCURRENT blocks the next RotateSecret; on the AWSCURRENT
version it is the harmless leftover of a finished rotation, which the next one clears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


def in_progress(stages: Mapping[str, Iterable[str]]) -> str | None:
    """The version (the rotation's token) AWSPENDING marks, when it is not AWSCURRENT's."""
    labels = {version: set(names) for version, names in stages.items()}
    pending = next((v for v, s in labels.items() if PENDING in s), None)
    return pending if pending is not None and CURRENT not in labels[pending] else None


@dataclass(frozen=True)
class Cancelled:
    removed: str | None  # the version AWSPENDING was removed from
    leftover: bool  # AWSPENDING was on the AWSCURRENT version: left alone

    def message(self) -> str:
        if self.removed is not None:
            return (
                f"removed AWSPENDING from version {self.removed}: the rotation left in progress "
                "is cancelled. AWSCURRENT is unchanged; the version and any value it holds "
                "stay, readable by its id."
            )
        if self.leftover:
            return (
                "no rotation in progress: AWSPENDING is on the AWSCURRENT version (left by "
                "a finished rotation; the next one clears it). Nothing removed."
            )
        return "no rotation in progress: nothing removed."


def cancel(sm: Any, secret_id: str, stages: Mapping[str, Iterable[str]]) -> Cancelled:
    """Remove AWSPENDING from the version a stuck rotation left it on (``stages``: as just
    described). The version, its value, AWSCURRENT and the rotation settings stay as they are."""
    pending = in_progress(stages)
    if pending is not None:
        sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=pending
        )
    leftover = any(PENDING in set(names) for names in stages.values())
    return Cancelled(pending, leftover and pending is None)
