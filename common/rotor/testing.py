"""A test kit that proves a rotator correct, the way rotor's own suite proves its rotators.

    from rotor.testing import RotatorCheck

    def test_widget_rotator(sm):  # a boto3 client of a moto server the handler also uses
        RotatorCheck(
            sm,
            widget.app.lambda_handler,
            new_secret=lambda: sm.create_secret(Name=..., SecretString=...)["ARN"],
            works=lambda value: widget_api.login(value["token"]),  # your real service
            previous="works",
        ).all()

Each check runs real rotations through :class:`rotor.local.harness.Harness` and raises
``AssertionError`` saying what broke. The handler must talk to the same moto endpoint as ``sm``
(``SECRETS_MANAGER_ENDPOINT``); ``sm`` must be a client of its own, not rotor's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from rotor import secrets as rotor_secrets
from rotor.errors import StateError
from rotor.local.harness import STEPS, Handler, Harness, LambdaContext
from rotor.secrets import CURRENT, PENDING


class _Fault(Exception):
    """Injected by the check: a Secrets Manager call failed (or its answer was lost)."""


@dataclass
class RotatorCheck:
    """The properties every rotator must have, checked against real services."""

    sm: Any
    handler: Handler
    new_secret: Callable[[], str]  # a fresh secret (its ARN) whose credential works now
    works: Callable[[dict[str, Any]], bool]  # does the service accept this secret value?
    previous: Literal["works", "rejected", "any"] = "any"  # the old value after a rotation
    # Single-user rotators cannot keep AWSCURRENT working between setSecret and finishSecret.
    window_allowed: bool = False

    def all(self) -> None:
        self.rotates()
        self.replays()
        self.refuses_bad_requests()
        self.survives_faults()

    # --- the checks ------------------------------------------------------------------------
    def rotates(self) -> None:
        """A rotation moves AWSCURRENT to a new, working value and leaves no AWSPENDING."""
        arn = self.new_secret()
        old = self._value(arn)
        report = Harness(self.sm, self.handler).rotate(arn)
        assert report.succeeded, f"rotation failed: {[s.error for s in report.steps]}"
        new = self._value(arn)
        assert new != old, "AWSCURRENT holds the same value after the rotation"
        assert self.works(new), "the new AWSCURRENT value does not work"
        stray = [v for v, s in report.after.items() if PENDING in s and v != report.token]
        assert not stray, "AWSPENDING left on another version"
        self._check_previous(old)

    def replays(self) -> None:
        """Every step invoked twice in a row gives the same stages and values as once."""
        arn = self.new_secret()
        harness = Harness(self.sm, self.handler)
        token = harness.start(arn)
        for step in STEPS:
            first = harness.invoke(arn, token, step)
            assert first.error is None, f"{step} failed: {first.error}"
            seen = self._state(arn)
            again = harness.invoke(arn, token, step)
            assert again.error is None, f"{step} replayed failed: {again.error}"
            assert self._state(arn) == seen, f"{step} replayed changed the secret"
        assert self.works(self._value(arn)), "the rotated value does not work"

    def refuses_bad_requests(self) -> None:
        """Unknown tokens and tokens that are not AWSPENDING are refused, changing nothing."""
        arn = self.new_secret()
        harness = Harness(self.sm, self.handler)
        assert harness.rotate(arn).succeeded, "rotation failed"
        previous = next(v for v, s in harness.stages(arn).items() if "AWSPREVIOUS" in s)
        for token in ("00000000-0000-4000-8000-000000000000", previous):
            before = self._state(arn)
            for step in STEPS:
                event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
                try:
                    self.handler(event, LambdaContext())
                except StateError:
                    continue  # refused, as it must be
                except Exception as exc:
                    raise AssertionError(
                        f"{step} with a wrong token crashed instead of refusing: "
                        f"{type(exc).__name__}") from None
                raise AssertionError(f"{step} with a wrong token ({token}) did not fail")
            assert self._state(arn) == before, "a refused request changed the secret"
        assert self.works(self._value(arn)), "AWSCURRENT stopped working"

    def survives_faults(self) -> None:
        """Whichever Secrets Manager call fails (before it runs, or after, answer lost),
        AWSCURRENT keeps working and a retry with the same token converges."""
        for after in (False, True):
            at = 1
            while True:
                arn = self.new_secret()
                old = self._value(arn)
                with self._fault_at(at, after) as fired:
                    report = Harness(self.sm, self.handler, attempts=1).rotate(arn)
                if not fired():
                    assert report.succeeded, f"rotation failed: {report.steps}"
                    break
                where = f"fault {'after' if after else 'before'} call {at}"
                current = self._value(arn)
                still = self.works(current) or (
                    self.window_allowed and self._pending_works(arn))
                assert still, f"{where}: no working credential left in AWSCURRENT"
                if at % 2:  # half the retries land on a cold container (no cached values)
                    rotor_secrets.reset_client()
                retried = Harness(self.sm, self.handler).resume(arn, report.token)
                assert retried.succeeded, f"{where}: the retry did not converge"
                new = self._value(arn)
                assert new != old and self.works(new), f"{where}: retry left no new credential"
                at += 1

    # --- helpers ---------------------------------------------------------------------------
    def _check_previous(self, old: dict[str, Any]) -> None:
        if self.previous == "works":
            assert self.works(old), "the previous value stopped working (AWSPREVIOUS)"
        elif self.previous == "rejected":
            assert not self.works(old), "the previous value still works"

    def _value(self, arn: str, stage: str = CURRENT) -> dict[str, Any]:
        text = self.sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
        return dict(json.loads(text))

    def _pending_works(self, arn: str) -> bool:
        try:
            return self.works(self._value(arn, PENDING))
        except self.sm.exceptions.ResourceNotFoundException:
            return False

    def _state(self, arn: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
        stages = Harness(self.sm, self.handler).stages(arn)
        values: dict[str, Any] = {}
        for labels in stages.values():
            for label in labels:
                try:
                    values[label] = self._value(arn, label)
                except self.sm.exceptions.ResourceNotFoundException:
                    values[label] = None  # AWSPENDING before createSecret: no value yet
        return stages, values

    @contextmanager
    def _fault_at(self, at: int, after: bool) -> Iterator[Callable[[], bool]]:
        """Fail the rotator's ``at``-th Secrets Manager call (rotor's own client)."""
        events = rotor_secrets.client().meta.events
        if rotor_secrets.client() is self.sm:
            raise ValueError("Pass RotatorCheck a Secrets Manager client of its own.")
        calls = 0

        def count(**_: Any) -> None:
            nonlocal calls
            calls += 1
            if not after and calls == at:
                raise _Fault(f"injected before call {at}")

        def lose(**_: Any) -> None:
            if after and calls == at:
                raise _Fault(f"injected after call {at}")

        events.register("before-call.secrets-manager", count)
        events.register("after-call.secrets-manager", lose)
        try:
            yield lambda: calls >= at
        finally:
            events.unregister("before-call.secrets-manager", count)
            events.unregister("after-call.secrets-manager", lose)
