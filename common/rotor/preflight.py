"""Preflight checks: will a rotation of this secret work, without changing anything?

A rotator lists its checks (:meth:`rotor.protocol.Rotator.checks`): each reuses the code path
a rotation takes (parsing, reading the admin secret, connecting, logging in), with the secret's
AWSCURRENT value only. The runner here runs them in order and reports one result per check:
``pass``, ``fail`` or ``skipped`` (a check whose prerequisite did not pass), with a reason on
one scrubbed line. Nothing is written: the checks see Secrets Manager through a store whose
writes raise, and no AWSPENDING value exists for them.

The deployed function runs them when invoked with ``{"RotorCheck": {"SecretId": "..."}}``
(no ``Step``, no ``ClientRequestToken``): from inside its VPC, with its own role. Anyone with
``lambda:InvokeFunction`` on the function can send that event, so a check is refused for a
secret whose rotation is configured with another function, and the result carries names,
ARNs, version ids and reasons only, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rotor.errors import EventError, RotationError, StateError
from rotor.observability import describe_exception, logger, redactor
from rotor.protocol import CHECK_EVENT, Rotation, RotationEvent, Rotator, Step
from rotor.secrets import CURRENT, PENDING, SecretDescription, SecretStore

__all__ = ["CHECK_EVENT", "Check", "Report", "Result", "Skipped", "Status", "handle", "run"]


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"  # not run: a check it needs did not pass, or it does not apply
    UNCHECKED = "unchecked"  # nobody can say here (the CLI's IAM checks without simulation)


class Skipped(Exception):
    """Raised by a check that does not apply to this secret; the message says why."""


@dataclass(frozen=True)
class Check:
    """One check: ``run()`` returns why it passed, raises to fail (its message is the reason)
    or raises :class:`Skipped`. ``needs``: names of checks that must pass first."""

    name: str
    run: Callable[[], str]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status.value, "reason": self.reason}


@dataclass
class Report:
    """What a check invocation returns (JSON-able: :meth:`to_json`)."""

    secret_arn: str
    secret_name: str
    rotator: str
    admin_arn: str | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status is not Status.FAIL for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "secret_arn": self.secret_arn,
            "secret_name": self.secret_name,
            "rotator": self.rotator,
            "admin_arn": self.admin_arn,
            "passed": self.passed,
            "checks": [r.to_json() for r in self.results],
        }


class ReadOnlyStore(SecretStore):
    """The store of a check: reads as usual, and any write is a bug that must not happen."""

    def __init__(self, store: SecretStore) -> None:
        super().__init__(store._sm)

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise StateError("A preflight check tried to change Secrets Manager; nothing was written.")

    put_pending = move_stage = remove_stage = _refuse


class CheckView(Rotation):
    """The :class:`~rotor.protocol.Rotation` the checks see: AWSCURRENT and the admin secret
    read through a :class:`ReadOnlyStore`; AWSPENDING does not exist for a check."""

    def __init__(self, rotator: Rotator, description: SecretDescription) -> None:
        current = description.version_with(CURRENT) or ""
        event = RotationEvent(Step.TEST, description.arn, current)
        super().__init__(ReadOnlyStore(rotator.store), description, event)

    def pending(self) -> dict[str, Any]:
        raise StateError(f"A check reads no {PENDING} value.")


def run(checks: list[Check]) -> list[Result]:
    """Each check once, in order; one whose needs did not pass is skipped, naming them."""
    results: dict[str, Result] = {}
    for check in checks:
        unmet = [n for n in check.needs if n in results and results[n].status is not Status.PASS]
        if unmet:
            reason = f"needs {', '.join(repr(n) for n in unmet)} to pass first"
            results[check.name] = Result(check.name, Status.SKIPPED, reason)
            continue
        try:
            status, reason = Status.PASS, check.run()
        except Skipped as exc:
            status, reason = Status.SKIPPED, str(exc)
        except RotationError as exc:  # the check failed: rotor's error says why
            status, reason = Status.FAIL, str(exc)
        except Exception as exc:  # a driver's or botocore's error: named with its class
            status, reason = Status.FAIL, describe_exception(exc)
        results[check.name] = Result(check.name, status, one_line(reason))
    return list(results.values())


def one_line(text: str) -> str:
    return " ".join(redactor.scrub(text).split())


def secret_id_of(event: Mapping[str, Any]) -> str:
    """The ``SecretId`` of a check event; anything else in it is refused."""
    if "Step" in event or "ClientRequestToken" in event:
        raise EventError(
            f"A '{CHECK_EVENT}' event has no 'Step' or 'ClientRequestToken'; send either a "
            "check event or a rotation event."
        )
    body = event.get(CHECK_EVENT)
    secret_id = body.get("SecretId") if isinstance(body, dict) else None
    if not isinstance(secret_id, str) or not secret_id:
        raise EventError(f'Event \'{CHECK_EVENT}\' must be {{"SecretId": "<name or ARN>"}}.')
    return secret_id


def _unqualified(arn: str) -> str:
    """A function ARN without its version or alias (``…:function:name``)."""
    return ":".join(arn.split(":")[:7])


def rotation_check(description: SecretDescription, function_arn: str | None) -> Check:
    """Whether rotation is on, and by this function (when it is known: a deployed one)."""

    def enabled() -> str:
        configured = description.rotation_lambda
        if not description.rotation_enabled:
            raise Skipped("rotation is not enabled yet: enable it once these checks pass")
        if function_arn is None or configured is None:
            return f"rotation enabled, by function {configured or 'unknown'}"
        return "rotation enabled, by this function"

    return Check("rotation configured", enabled)


def handle(rotator: Rotator, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The check mode of a rotation function: ``event`` is a check event (see module doc)."""
    try:
        secret_id = secret_id_of(event)
        description = rotator.store.describe(secret_id)
        function_arn = getattr(context, "invoked_function_arn", None) if context else None
        configured = description.rotation_lambda
        if function_arn and configured and _unqualified(configured) != _unqualified(function_arn):
            raise StateError(
                f"Secret {description.name} is rotated by {configured}, not by this function; "
                "invoke that function to check it."
            )
    except Exception as exc:  # refused: the invoker gets a scrubbed error, as for any step
        message = one_line(describe_exception(exc))
        logger.error("Check refused", extra={"error": message, "rotator": rotator.name})
        error = type(exc) if isinstance(exc, EventError | StateError) else StateError
        raise error(message) from None
    rotation = CheckView(rotator, description)
    report = Report(description.arn, description.name, rotator.name)
    checks = [
        rotation_check(description, function_arn),
        Check("secret readable", lambda: _readable(rotation)),
        *[
            Check(c.name, c.run, ("secret readable", *c.needs))
            for c in rotator.checks(rotation, report)
        ],
    ]
    report.results = run(checks)
    logger.info(
        "Checks done",
        extra={"secret_id": description.arn, "rotator": rotator.name, "passed": report.passed},
    )
    return report.to_json()


def _readable(rotation: Rotation) -> str:
    rotation.current()
    version = rotation.description.version_with(CURRENT)
    return f"{CURRENT} (version {version}) is a JSON object"
