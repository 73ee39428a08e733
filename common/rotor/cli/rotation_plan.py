"""What ``rotor rotate-all`` would do with each selected secret, decided before any change:
start a rotation with which function, or refuse it and say why (RotateSecret is then never
called for it).

Refused (``rotor.cli.refusals``): a secret scheduled for deletion, or with a rotation already
in progress (AWSPENDING on a version other than AWSCURRENT: AWS would refuse it too); against
AWS, a secret without a rotation function or with rotation disabled (an emergency rotation
never turns rotation on by itself); locally, a secret whose rotator cannot be told.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rotor.cli import refusals
from rotor.cli.fleet_rotation import Outcome, Result
from rotor.cli.rotator_choice import NoRotator
from rotor.cli.selection import Secret

Chooser = Callable[[Secret], str]  # the rotator's name, or NoRotator


def service_plan(secrets: Sequence[Secret]) -> list[Outcome]:
    """Against Secrets Manager: each secret's own rotation function."""
    return [_refusal(s, s.rotation_lambda) or _service(s) for s in secrets]


def local_plan(secrets: Sequence[Secret], choose: Chooser) -> list[Outcome]:
    """Through the harness: each secret's rotator as ``choose`` tells (``--rotator``, else its
    tag, else its value: ``rotator_choice.read_rotator``), refused when it cannot."""
    plan = []
    for secret in secrets:
        if secret.deleted is not None:  # its value cannot even be read
            plan.append(Outcome(secret, None, Result.REFUSED, refusals.DELETED))
            continue
        try:
            name = choose(secret)
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
