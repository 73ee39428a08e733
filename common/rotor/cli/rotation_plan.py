"""What ``rotor rotate-all`` would do with each selected secret, decided before any change:
start a rotation with which function, or refuse it and say why (RotateSecret is then never
called for it).

Refused (``rotor.cli.refusals``): a secret scheduled for deletion, or with a rotation already
in progress (AWSPENDING on a version other than AWSCURRENT: AWS would refuse it too); against
AWS, a secret without a rotation function or with rotation disabled (an emergency rotation
never turns rotation on by itself); locally, a secret whose rotator cannot be told.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rotor.cli import refusals
from rotor.cli.fleet_rotation import Outcome, Result
from rotor.cli.rotator_choice import ROTATOR_TAG, NoRotator, rotator_for
from rotor.cli.selection import Secret

ValueReader = Callable[[Secret], Mapping[str, Any] | None]


def service_plan(secrets: Sequence[Secret]) -> list[Outcome]:
    """Against Secrets Manager: each secret's own rotation function."""
    return [_refusal(s, s.rotation_lambda) or _service(s) for s in secrets]


def local_plan(
    secrets: Sequence[Secret], rotator: str | None, read_value: ValueReader
) -> list[Outcome]:
    """Through the harness: ``rotator``, else the secret's tag, else its value tells."""
    plan = []
    for secret in secrets:
        if secret.deleted is not None:  # its value cannot even be read
            plan.append(Outcome(secret, None, Result.REFUSED, refusals.DELETED))
            continue
        try:
            needs_value = not rotator and not secret.tags.get(ROTATOR_TAG)
            name = rotator_for(read_value(secret) if needs_value else None, secret.tags, rotator)
        except NoRotator as exc:
            plan.append(Outcome(secret, None, Result.REFUSED, str(exc)))
            continue
        plan.append(_refusal(secret, name) or Outcome(secret, name))
    return plan


def _service(secret: Secret) -> Outcome:
    if not secret.rotation_lambda:
        return Outcome(
            secret,
            None,
            Result.REFUSED,
            "no rotation function is configured: set one up first (RotateSecret "
            "--rotation-lambda-arn, or rotor's SAM template)",
        )
    if not secret.rotation_enabled:
        return Outcome(
            secret,
            secret.rotation_lambda,
            Result.REFUSED,
            "rotation is disabled: enable it first (an emergency rotation does not turn it on)",
        )
    return Outcome(secret, secret.rotation_lambda)


def _refusal(secret: Secret, function: str | None) -> Outcome | None:
    why = refusals.blocked(secret)
    return None if why is None else Outcome(secret, function, Result.REFUSED, why)
