"""Why a fleet command leaves a secret alone, said in the same words by every command that
refuses it (``schedule``, ``resume``, ``cancel``, ``rotate-all``), before any request that
would change it."""

from __future__ import annotations

from rotor.cli import pending
from rotor.cli.selection import Secret

DELETED = (
    "scheduled for deletion: restore it first (aws secretsmanager restore-secret), or leave it "
    "out of the selection"
)


def deleted(secret: Secret) -> str | None:
    """A secret scheduled for deletion: AWS refuses every change to it."""
    return DELETED if secret.deleted is not None else None


def in_progress(secret: Secret) -> str | None:
    """A rotation left in progress blocks a new one (AWS would reattempt it instead)."""
    version = pending.in_progress(secret.stages)
    if version is None:
        return None
    return (
        f"a rotation is in progress (AWSPENDING on version {version}): `rotor resume` "
        "reattempts it, `rotor cancel` gives it up"
    )


def blocked(secret: Secret) -> str | None:
    """What stops a new rotation or schedule of this secret, if anything."""
    return deleted(secret) or in_progress(secret)
