"""The rotation protocol, implemented once.

Secrets Manager invokes a rotation function four times per rotation (createSecret, setSecret,
testSecret, finishSecret) with the same ClientRequestToken, and retries the whole sequence when
any step fails. :class:`Rotator` owns everything about that protocol: event validation, the
stage checks made on every step, idempotency, the final label move, logging, metrics, tracing
and scrubbing. A subclass says only how to make, apply and prove a credential.
"""

from __future__ import annotations

import fnmatch
import gc
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from rotor import events, passwords, settings
from rotor.errors import (
    EventError,
    RotationError,
    SecretFormatError,
    StateError,
)
from rotor.observability import (
    describe_exception,
    logger,
    metrics,
    redactor,
    scrubbed_traceback,
    traced,
    tracing_enabled,
)
from rotor.secrets import CURRENT, PENDING, PREVIOUS, SecretDescription, SecretStore

if TYPE_CHECKING:
    from rotor.preflight import Check, Report

_T = TypeVar("_T")
# Which credentials work once a rotation is done: the new one only, or the new one and the one
# it replaced (AWSPREVIOUS). Anything older must have stopped working.
Keeps = Literal["new", "new_and_previous"]
ALLOWED_SECRETS = "allowed_secrets"  # admin secret key: the rotated secrets it may act for
CHECK_EVENT = "RotorCheck"  # an event with this key asks for the preflight checks (rotor.preflight)


class Step(StrEnum):
    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


@dataclass(frozen=True)
class RotationEvent:
    step: Step
    secret_id: str
    token: str
    rotation_token: str | None = None

    @classmethod
    def parse(cls, event: Any) -> RotationEvent:
        if not isinstance(event, dict):
            raise EventError("The event must be a JSON object sent by Secrets Manager rotation.")
        steps = ", ".join(s.value for s in Step)
        try:
            step = Step(str(event.get("Step")))
        except ValueError:
            raise EventError(f"Event 'Step' must be one of: {steps}.") from None
        secret_id, token = event.get("SecretId"), event.get("ClientRequestToken")
        if not isinstance(secret_id, str) or not secret_id:
            raise EventError("Event 'SecretId' must be the secret's ARN or name.")
        if not isinstance(token, str) or not 32 <= len(token) <= 64:
            raise EventError("Event 'ClientRequestToken' must be the 32-64 character version id.")
        rotation_token = event.get("RotationToken")
        if rotation_token is not None and not isinstance(rotation_token, str):
            raise EventError("Event 'RotationToken' must be a string when present.")
        return cls(step, secret_id, token, rotation_token or None)


class Rotation:
    """One step's view of the rotation in progress. Values are read on first use only."""

    def __init__(
        self, store: SecretStore, description: SecretDescription, event: RotationEvent
    ) -> None:
        self.store = store
        self.description = description
        self.event = event

    @property
    def secret_arn(self) -> str:
        return self.description.arn

    @property
    def token(self) -> str:
        return self.event.token

    def current(self) -> dict[str, Any]:
        version = self.description.version_with(CURRENT)
        return self.store.get(self.secret_arn, CURRENT, version)

    def pending(self) -> dict[str, Any]:
        return self.store.get(self.secret_arn, PENDING, self.token)

    def where(self, stage: str) -> str:
        """How errors name this secret at ``stage``: ``Secret <name> (AWSCURRENT)``."""
        return f"Secret {self.description.name} ({stage})"

    def previous(self) -> dict[str, Any] | None:
        version = self.description.version_with(PREVIOUS)
        return None if version is None else self.store.find(self.secret_arn, PREVIOUS, version)

    def read_admin(self, arn: str, key: str) -> dict[str, Any]:
        """The AWSCURRENT value of the admin secret named by the rotated secret's ``key``
        (``masterarn``, ``adminarn``). Errors name that key and what to check. An admin secret
        with ``allowed_secrets`` (ARN patterns, ``*`` and ``?`` as in IAM) acts only for the
        rotated secrets those match: one function may read several admin secrets of one server
        or provider, and a secret must not pick a more powerful one than its own."""
        where = f"Admin secret {arn} (named by key '{key}')"
        found, value = self._admin_call(arn, key, lambda: self.store.read(arn, CURRENT))
        if found == self.secret_arn:
            raise StateError(f"{where} is the rotated secret itself; name the admin secret.")
        allowed = value.get(ALLOWED_SECRETS)
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(p, str) for p in allowed):
                raise SecretFormatError(
                    f"{where}: key '{ALLOWED_SECRETS}' must be a list of secret ARN patterns."
                )
            if not any(fnmatch.fnmatchcase(self.secret_arn, pattern) for pattern in allowed):
                raise StateError(
                    f"{where} does not list secret {self.description.name} in its "
                    f"'{ALLOWED_SECRETS}'; refusing to act for it. Name the admin secret meant "
                    "for this secret, or have the platform team add it."
                )
        return value

    def describe_admin(self, arn: str, key: str) -> SecretDescription:
        """DescribeSecret of that admin secret (its tags name an RDS-managed secret's database)."""
        return self._admin_call(arn, key, lambda: self.store.describe(arn))

    def _admin_call(self, arn: str, key: str, call: Callable[[], _T]) -> _T:
        from botocore.exceptions import ClientError

        where = f"Admin secret {arn} (named by key '{key}')"
        if arn in (self.secret_arn, self.description.name):
            raise StateError(f"{where} is the rotated secret itself; name the admin secret.")
        try:
            return call()
        except (ClientError, StateError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code", "error")
                if isinstance(exc, ClientError)
                else "ResourceNotFoundException"
            )
            raise StateError(
                f"{where} cannot be read ({code}); check the ARN and that this function may "
                "read it (and decrypt it with its KMS key)."
            ) from None

    def break_glass(
        self, admin: Mapping[str, Any], admin_where: str, *, username: str | None = None
    ) -> bool:
        """Whether the admin secret authorises this secret's reset without proof (see
        :mod:`rotor.breakglass`; ``username``: the user a database reset would touch). Ask
        only once the proof has failed: a ``True`` answer is logged loudly."""
        from rotor import breakglass

        return breakglass.authorised(admin, self.secret_arn, admin_where, username=username)

    def new_password(self) -> str:
        """A password following the function's policy (``PASSWORD_*``, :mod:`rotor.settings`)."""
        policy = passwords.PasswordPolicy.from_env()
        if settings.current().password_source == "secretsmanager":
            return passwords.from_secrets_manager(policy, self.store.random_password)
        return passwords.generate(policy)


class Rotator(ABC):
    """Base class of every rotator. Subclasses implement the four small methods below.

    ``create`` returns the new secret value built from the current one; ``apply`` makes the
    service accept the pending credential; ``verify`` proves the pending credential works;
    ``finished`` runs after AWSCURRENT moved (revoke what is now two generations old). All but
    ``create`` may run more than once for one token and must converge when they do.
    """

    name: str = "rotor"
    # What stays valid after a rotation (see ``Keeps``): a promise to the applications holding
    # AWSPREVIOUS, and what rotor.testing.RotatorCheck holds the rotator to.
    keeps: ClassVar[Keeps | None] = None

    def __init__(self, store: SecretStore | None = None) -> None:
        self.store = store or SecretStore()

    # --- the contract -------------------------------------------------------------------
    @abstractmethod
    def create(self, rotation: Rotation) -> dict[str, Any]:
        """The new secret value, derived from ``rotation.current()``."""

    @abstractmethod
    def apply(self, rotation: Rotation) -> None:
        """Make the service accept ``rotation.pending()``. Safe to repeat."""

    @abstractmethod
    def verify(self, rotation: Rotation) -> None:
        """Raise unless ``rotation.pending()`` works against the service."""

    def finished(self, rotation: Rotation) -> None:  # noqa: B027 - optional hook
        """After AWSCURRENT moved to the new version (``rotation.description`` shows the labels
        as they now are; ``rotation.previous()`` is the value just replaced). Safe to repeat."""

    def checks(self, rotation: Rotation, report: Report) -> list[Check]:
        """Preflight checks of this rotator (:mod:`rotor.preflight`), after the base's
        "secret readable": read-only uses of the code a rotation runs, AWSCURRENT only.
        ``report.admin_arn``: set it to the admin secret's ARN once known."""
        return []

    # --- the Lambda entry point ----------------------------------------------------------
    def handler(self, event: Any, context: Any = None) -> Any:
        """Lambda handler: ``lambda_handler = MyRotator().handler``. An event with
        ``RotorCheck`` runs the preflight checks instead of a step, and returns their result."""
        if isinstance(event, dict) and CHECK_EVENT in event:
            from rotor import preflight

            return preflight.handle(self, event, context)
        with _collector_paused_on_first_call():
            self._handle(event, context)
        return None

    def _handle(self, event: Any, context: Any) -> None:
        started = time.perf_counter()
        step_name = event.get("Step") if isinstance(event, dict) else None
        keys = {
            "rotator": self.name,
            "step": step_name if isinstance(step_name, str) else None,
            "secret_id": event.get("SecretId") if isinstance(event, dict) else None,
            "request_id": getattr(context, "aws_request_id", None),
        }
        logger.append_keys(**keys)
        metrics.add_dimension("rotator", self.name)
        metrics.add_dimension("step", keys["step"] or "invalid")
        try:
            self._traced(event)
        except Exception as exc:
            metrics.add_metric("StepFailed", unit="Count", value=1)
            events.failed(self.name, keys["step"] or "invalid", keys["secret_id"], exc)
            raise
        else:
            metrics.add_metric("StepSucceeded", unit="Count", value=1)
        finally:
            self._emit_metrics(started)
            logger.remove_keys(list(keys))

    @staticmethod
    def _emit_metrics(started: float) -> None:
        """Flush this step's metrics; a metrics problem must never fail or mask a step."""
        try:
            elapsed = (time.perf_counter() - started) * 1000
            metrics.add_metric("StepDuration", unit="Milliseconds", value=elapsed)
            metrics.flush_metrics()
        except Exception as exc:
            logger.warning("Could not emit metrics", extra={"error": describe_exception(exc)})
        finally:
            metrics.clear_metrics()  # flush leaves them when POWERTOOLS_METRICS_DISABLED is set

    def _traced(self, event: Any) -> None:
        """Run the step; whatever it raises leaves here scrubbed, inside the X-Ray subsegment
        too (the SDK records the exception that crosses it, message included)."""
        try:
            parsed = RotationEvent.parse(event)
            tracing_enabled()  # an invalid tracing setting fails the step, logged like any error
        except Exception as exc:
            raise self._scrubbed(exc) from None
        with traced(f"rotor.{parsed.step.value}", step=parsed.step.value, rotator=self.name):
            try:
                self.run_step(parsed)
            except Exception as exc:
                raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: Exception) -> Exception:
        message = describe_exception(exc)
        extra: dict[str, Any] = {
            "error": message,
            "error_class": type(exc).__name__,
            "permanent": bool(getattr(exc, "permanent", False)),
        }
        if not isinstance(exc, RotationError):  # unexpected: operators need the trace
            extra["traceback"] = scrubbed_traceback(exc)
        logger.error("Rotation step failed", extra=extra)
        if isinstance(exc, RotationError):
            try:
                return type(exc)(redactor.scrub(str(exc)))
            except TypeError:
                pass
        return RotationError(message)

    # --- the protocol --------------------------------------------------------------------
    def run_step(self, event: RotationEvent) -> None:
        description = self.store.describe(event.secret_id)
        if not description.rotation_enabled:
            raise StateError(
                f"Rotation is not enabled for secret {description.name}; configure rotation "
                "(RotateSecret or a RotationSchedule) before invoking this function."
            )
        stages = description.versions.get(event.token)
        if stages is None:
            raise StateError(
                f"Version {event.token} is not a version of secret {description.name}; "
                "the rotation was abandoned or the token is wrong."
            )
        rotation = Rotation(self.store, description, event)
        if CURRENT in stages:
            logger.info("Version is already AWSCURRENT; nothing to do")
            if event.step is Step.FINISH:
                self._complete(rotation, already_current=True)
            return
        if PENDING not in stages:
            raise StateError(
                f"Version {event.token} of secret {description.name} is not AWSPENDING; "
                "start a new rotation instead of replaying this one."
            )
        {
            Step.CREATE: self._create,
            Step.SET: self.apply,
            Step.TEST: self.verify,
            Step.FINISH: self._complete,
        }[event.step](rotation)
        logger.info("Step completed")

    def _create(self, rotation: Rotation) -> None:
        if rotation.store.find(rotation.secret_arn, PENDING, rotation.token) is not None:
            logger.info("AWSPENDING already has a value; keeping it")
            return
        value = self.create(rotation)
        rotation.store.put_pending(
            rotation.secret_arn, rotation.token, value, rotation.event.rotation_token
        )

    def _complete(self, rotation: Rotation, already_current: bool = False) -> None:
        arn, token = rotation.secret_arn, rotation.token
        if not already_current:
            current = rotation.description.version_with(CURRENT)
            if current is None:
                raise StateError(f"Secret {rotation.description.name} has no AWSCURRENT version.")
            rotation.store.move_stage(arn, CURRENT, token, current)
            logger.info("Moved AWSCURRENT to the new version")
        if PENDING in rotation.description.stages_of(token):
            rotation.store.remove_stage(arn, PENDING, token)
        # The hook sees the labels as they now are, without another DescribeSecret.
        rotation.description = rotation.description.finished(token)
        self.finished(rotation)
        events.succeeded(self.name, arn, token)


_first_call = True


@contextmanager
def _collector_paused_on_first_call() -> Iterator[None]:
    """A container's first step imports botocore and a database driver: objects that live as
    long as the container, which the cyclic collector scans again and again while they are made
    (~25 ms of a cold start, nothing freed). Pause it for that call only."""
    global _first_call
    if not _first_call or not gc.isenabled():
        yield
        return
    _first_call = False
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
