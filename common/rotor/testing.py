"""A test kit that proves a rotator correct, the way rotor's own suite proves its rotators.

    def test_widget_rotator(rotor_check):  # fixtures of rotor's pytest plugin
        rotor_check(
            "widget/app.py",                               # or the handler itself
            new_secret=make_widget_secret,                 # a fresh secret value (or ARN)
            works=lambda value: widget_api.login(value["token"]),  # your real service
            credential_key="token",                        # the key holding the credential
        ).all()

Each check runs real rotations through :class:`rotor.local.harness.Harness` and raises
``AssertionError`` saying what broke. Whether a credential works is judged only by ``works``,
the author's own login against the real service, never by the rotator's ``verify``. The
handler must talk to the same moto endpoint as ``sm`` (``SECRETS_MANAGER_ENDPOINT``; the
plugin's ``rotor_sm`` sets it); ``sm`` must be a client of its own, not rotor's.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from rotor import secrets as rotor_secrets
from rotor.errors import ServiceError, StateError
from rotor.local.harness import STEPS, Handler, Harness, LambdaContext, RotationReport
from rotor.protocol import Keeps, Rotation, Rotator
from rotor.secrets import CURRENT, PENDING

KEEPS: tuple[Keeps, ...] = ("new", "new_and_previous")
_LEGACY_PREVIOUS: dict[str, Keeps] = {"works": "new_and_previous", "rejected": "new"}
_UNKNOWN_TOKEN = "00000000-0000-4000-8000-000000000000"
Value = dict[str, Any]


class _Fault(Exception):
    """Injected by the check: a Secrets Manager call failed (or its answer was lost)."""


def create_secret(sm: Any, value: Mapping[str, Any] | str, name: str | None = None) -> str:
    """Create a secret holding ``value`` (a dict, or JSON text) and return its ARN."""
    text = value if isinstance(value, str) else json.dumps(dict(value))
    name = name or f"rotor-test-{uuid.uuid4().hex[:12]}"
    return str(sm.create_secret(Name=name, SecretString=text)["ARN"])


@dataclass
class RotatorCheck:
    """The properties every rotator must have, checked against real services.

    ``keeps`` defaults to the rotator's class attribute; ``previous`` is the older way to say
    the same (``"works"``: new_and_previous, ``"rejected"``: new). ``credential_key`` names the
    key whose value the service checks: the kit puts a wrong one there to see ``verify``
    refuse it (``break_credential`` replaces that for credentials spread over several keys),
    and removes ``required_key`` (default: ``credential_key``) to see a malformed secret
    stopped at once.
    """

    sm: Any
    handler: Handler
    # A fresh secret whose credential works now: its ARN, or its value (the kit creates it).
    new_secret: Callable[[], str | Value] | None = None
    works: Callable[[Value], bool] | None = None  # does the service accept this secret value?
    previous: Literal["works", "rejected", "any"] = "any"
    # Single-user rotators cannot keep AWSCURRENT working between setSecret and finishSecret.
    window_allowed: bool = False
    keeps: Keeps | None = None
    credential_key: str = "password"
    break_credential: Callable[[Value], Value] | None = None
    required_key: str | None = None
    rotations: int = 3  # how many rotations keeps_what_it_declares() watches

    def all(self) -> None:
        """Every check, cheapest first."""
        self.structure()
        self.rotates()
        self.rejects_a_wrong_credential()
        self.keeps_what_it_declares()
        self.replays()
        self.refuses_bad_requests()
        self.stops_at_a_malformed_secret()
        self.survives_faults()

    # --- checks that need no service ----------------------------------------------------------
    def structure(self) -> None:
        """What holds before the rotator talks to any service: it declares what it keeps,
        refuses steps while rotation is disabled or for a token it does not know, and stops at
        once (a permanent error, no retry) on a secret without any of the keys it needs."""
        self.declared_keeps()
        rotator = self.rotator
        if rotator is not None:
            assert rotator.name != Rotator.name, (
                'the rotator has no name of its own: set `name = "my-service"` on the class '
                "(it is a logging key and a metric dimension)"
            )
        arn = create_secret(self.sm, {})
        for step in STEPS:
            self._expect_refusal(arn, str(uuid.uuid4()), step, "while rotation is disabled")
        report = self._harness().rotate(arn)
        self._expect_permanent_stop(report, "a secret holding {}")
        for step in STEPS:
            self._expect_refusal(arn, _UNKNOWN_TOKEN, step, "for an unknown token")

    # --- checks against the real service ------------------------------------------------------
    def rotates(self) -> None:
        """A rotation moves AWSCURRENT to a new, working value and leaves no AWSPENDING."""
        arn = self.fresh_secret()
        old = self._value(arn)
        report = self._harness().rotate(arn)
        assert report.succeeded, _failure(report)
        new = self._value(arn)
        assert new != old, "AWSCURRENT holds the same value after the rotation"
        assert self._works(new), "the new AWSCURRENT value does not work"

    def rejects_a_wrong_credential(self) -> None:
        """testSecret fails when AWSPENDING holds a credential the service rejects: a value
        made by the rotator's own createSecret, with its credential replaced by a wrong one."""
        arn = self.fresh_secret()
        harness = self._harness()
        first = harness.start(arn)
        created = harness.invoke(arn, first, "createSecret")
        assert created.error is None, f"createSecret failed: {created.error}"
        wrong = self.broken(self._value(arn, PENDING))
        self._unlabel_pending(arn, first)
        assert not self._works(wrong), (
            f"the wrong credential the kit made (key '{self.credential_key}' replaced) still "
            "works: name the key holding the credential with credential_key=, or pass "
            "break_credential="
        )
        token = harness.start(arn)
        self.sm.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=json.dumps(wrong),
            VersionStages=[PENDING],
        )
        tested = harness.invoke(arn, token, "testSecret")
        self._unlabel_pending(arn, token)
        assert tested.error is not None, (
            "testSecret passed although AWSPENDING holds a credential the service rejects: "
            "verify() must log in with rotation.pending() and raise when that fails"
        )
        assert self._works(self._value(arn)), "AWSCURRENT stopped working"

    def keeps_what_it_declares(self) -> None:
        """After each of several rotations, exactly the credentials the rotator keeps work:
        the new one (and, for ``new_and_previous``, the one before it); older ones are revoked.
        Judged by ``works``, so a ``finished()`` that revokes nothing is caught."""
        keeps = self.declared_keeps()
        kept = 1 if keeps == "new" else 2
        arn = self.fresh_secret()
        values = [self._value(arn)]
        harness = self._harness()
        for rotation in range(1, self.rotations + 1):
            report = harness.rotate(arn)
            assert report.succeeded, f"rotation {rotation}: {_failure(report)}"
            values.append(self._value(arn))
            for age, value in enumerate(reversed(values)):
                works = self._works(value)
                if age < kept:
                    assert works, (
                        f"after rotation {rotation}, the {_generation(age)} credential does not "
                        f"work, but keeps = '{keeps}' promises it does"
                    )
                else:
                    assert not works, (
                        f"after rotation {rotation}, the {_generation(age)} credential still "
                        f"works, but keeps = '{keeps}' says it is revoked: revoke it in "
                        f"{'setSecret or finished()' if keeps == 'new' else 'finished()'}"
                    )

    def replays(self) -> None:
        """Every step invoked twice in a row gives the same stages and values as once."""
        arn = self.fresh_secret()
        harness = self._harness()
        token = harness.start(arn)
        for step in STEPS:
            first = harness.invoke(arn, token, step)
            assert first.error is None, f"{step} failed: {first.error}"
            seen = self._state(arn)
            again = harness.invoke(arn, token, step)
            assert again.error is None, f"{step} replayed failed: {again.error}"
            assert self._state(arn) == seen, f"{step} replayed changed the secret"
        assert self._works(self._value(arn)), "the rotated value does not work after replays"

    def refuses_bad_requests(self) -> None:
        """Unknown tokens and tokens that are not AWSPENDING are refused, changing nothing."""
        arn = self.fresh_secret()
        harness = self._harness()
        report = harness.rotate(arn)
        assert report.succeeded, _failure(report)
        previous = next(v for v, s in harness.stages(arn).items() if "AWSPREVIOUS" in s)
        for token, why in (
            (_UNKNOWN_TOKEN, "for an unknown token"),
            (previous, "for the AWSPREVIOUS version's token"),
        ):
            before = self._state(arn)
            for step in STEPS:
                self._expect_refusal(arn, token, step, why)
            assert self._state(arn) == before, "a refused request changed the secret"
        assert self._works(self._value(arn)), "AWSCURRENT stopped working"

    def stops_at_a_malformed_secret(self) -> None:
        """A secret missing ``required_key`` fails at once with a permanent error naming the
        key: no retry (the harness, like rotor's CLI, stops at a permanent error), no value."""
        key = self.required_key or self.credential_key
        arn = self.fresh_secret()
        value = self._value(arn)
        assert key in value, (
            f"the secret has no key '{key}' for the kit to remove: name a key create() needs "
            "with required_key="
        )
        self.sm.put_secret_value(
            SecretId=arn, SecretString=json.dumps({k: v for k, v in value.items() if k != key})
        )
        report = self._harness().rotate(arn)
        self._expect_permanent_stop(report, f"a secret without key '{key}'")
        error = report.steps[-1].error or ""
        assert f"'{key}'" in error, (
            f"the error for a secret without key '{key}' does not name the key: {error}"
        )

    def survives_faults(self) -> None:
        """Whichever Secrets Manager call fails (before it runs, or after, answer lost),
        AWSCURRENT keeps working and a retry with the same token converges."""
        for after in (False, True):
            at = 1
            while True:
                arn = self.fresh_secret()
                old = self._value(arn)
                with self._fault_at(at, after) as fired:
                    report = Harness(self.sm, self.handler, attempts=1).rotate(arn)
                if not fired():
                    assert report.succeeded, _failure(report)
                    break
                where = f"fault {'after' if after else 'before'} call {at}"
                current = self._value(arn)
                still = self._works(current) or (self.window_allowed and self._pending_works(arn))
                assert still, f"{where}: no working credential left in AWSCURRENT"
                if at % 2:  # half the retries land on a cold container (no cached values)
                    rotor_secrets.reset_client()
                retried = self._harness().resume(arn, report.token)
                assert retried.succeeded, f"{where}: the retry did not converge: " + _failure(
                    retried
                )
                new = self._value(arn)
                assert new != old and self._works(new), f"{where}: retry left no new credential"
                at += 1

    # --- mutants: proof that the checks above bite ----------------------------------------
    def mutants(self) -> dict[str, Handler]:
        """Broken copies of the rotator, each of which should fail :meth:`all`: ``apply``,
        ``verify`` and each optional hook it overrides emptied, ``create`` returning the
        current value, and an ``apply`` that fails, or applies a wrong credential, when run a
        second time for the same token. (A mutant may be equivalent to the rotator: an
        ``apply`` with nothing to do survives being emptied.)"""
        rotator = self.rotator
        if rotator is None:
            raise TypeError("mutants() needs the handler of a rotor.Rotator (MyRotator().handler).")
        variants: dict[str, Mapping[str, Callable[..., Any]]] = {
            "create returns the current value": {"create": lambda r: r.current()},
        }
        for hook in ("apply", "verify", "finished"):
            if getattr(type(rotator), hook) is not getattr(Rotator, hook):
                variants[f"{hook} does nothing"] = {hook: lambda r: None}
        variants["apply fails when repeated"] = {"apply": _once(rotator.apply, None)}
        variants["apply sets a wrong credential when repeated"] = {
            "apply": _once(rotator.apply, self.broken)
        }
        return {name: _patched(rotator, methods).handler for name, methods in variants.items()}

    def mutation_report(self) -> dict[str, str | None]:
        """Each mutant's name and the first complaint of :meth:`all` about it (``None``: the
        mutant passed every check)."""
        found: dict[str, str | None] = {}
        for name, handler in self.mutants().items():
            try:
                dataclasses.replace(self, handler=handler).all()
            except AssertionError as exc:
                found[name] = str(exc).splitlines()[0] if str(exc) else "AssertionError"
            else:
                found[name] = None
        return found

    # --- what the checks share --------------------------------------------------------------
    @property
    def rotator(self) -> Rotator | None:
        """The rotator behind the handler, when it is a Rotator's bound ``handler``."""
        owner = getattr(self.handler, "__self__", None)
        return owner if isinstance(owner, Rotator) else None

    def declared_keeps(self) -> Keeps:
        """``keeps`` as given, else the rotator's, else as ``previous`` says."""
        declared = self.keeps or (self.rotator.keeps if self.rotator is not None else None)
        legacy = _LEGACY_PREVIOUS.get(self.previous)
        assert not (declared and legacy and declared != legacy), (
            f"previous='{self.previous}' contradicts keeps = '{declared}'; drop previous="
        )
        keeps = declared or legacy
        assert keeps in KEEPS, (
            "the rotator does not say which credentials stay valid after a rotation: set "
            '`keeps = "new"` (only the new one works) or `keeps = "new_and_previous"` on '
            "the class (or pass keeps= to RotatorCheck)"
        )
        return keeps

    def fresh_secret(self) -> str:
        """The ARN of a new secret from ``new_secret``."""
        if self.new_secret is None:
            raise TypeError(
                "This check needs new_secret=: a fresh secret whose credential "
                "works now (its value as a dict, or its ARN)."
            )
        made = self.new_secret()
        return made if isinstance(made, str) else create_secret(self.sm, made)

    def broken(self, value: Value) -> Value:
        """``value`` with a credential the service must reject."""
        if self.break_credential is not None:
            return self.break_credential(copy.deepcopy(value))
        key = self.credential_key
        assert isinstance(value.get(key), str), (
            f"the secret has no string key '{key}' holding its credential: name that key with "
            "credential_key=, or pass break_credential="
        )
        return {**value, key: "wrong-" + secrets.token_urlsafe(18)}

    def _works(self, value: Value) -> bool:
        if self.works is None:
            raise TypeError(
                "This check needs works=: a real login with a secret value against "
                "your service, True when the service accepts it."
            )
        return bool(self.works(value))

    def _harness(self) -> Harness:
        return Harness(self.sm, self.handler)

    def _expect_refusal(self, arn: str, token: str, step: str, why: str) -> None:
        event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
        try:
            self.handler(event, LambdaContext())
        except StateError:
            return  # refused, as it must be
        except Exception as exc:
            raise AssertionError(
                f"{step} {why} crashed instead of refusing: {type(exc).__name__}"
            ) from None
        raise AssertionError(f"{step} {why} did not fail")

    def _expect_permanent_stop(self, report: RotationReport, what: str) -> None:
        assert not report.succeeded, f"a rotation of {what} succeeded"
        last = report.steps[-1]
        assert last.permanent, (
            f"{last.step} of {what} failed with an error retrying cannot fix, but did not say "
            f"so ({last.error}); raise rotor.errors.SecretFormatError naming the key"
        )
        assert report.attempts == 1, f"a rotation of {what} was retried"
        value = self.sm.get_secret_value(SecretId=report.secret_id, VersionStage=CURRENT)
        assert value["VersionId"] != report.token, f"a rotation of {what} moved AWSCURRENT"

    def _unlabel_pending(self, arn: str, token: str) -> None:
        self.sm.update_secret_version_stage(
            SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token
        )

    def _value(self, arn: str, stage: str = CURRENT) -> Value:
        text = self.sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
        return dict(json.loads(text))

    def _pending_works(self, arn: str) -> bool:
        try:
            return self._works(self._value(arn, PENDING))
        except self.sm.exceptions.ResourceNotFoundException:
            return False

    def _state(self, arn: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
        stages = self._harness().stages(arn)
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


def _failure(report: RotationReport) -> str:
    """Why a rotation did not reach a valid end state, in one line."""
    errors = [f"{s.step} (attempt {s.attempt}): {s.error}" for s in report.steps if s.error]
    if errors:
        return "rotation failed: " + "; ".join(errors[-3:])
    stray = sorted(v for v, stages in report.after.items() if PENDING in stages)
    if stray:
        return (
            f"rotation failed: AWSPENDING is left on version(s) {', '.join(stray)}; "
            "finishSecret must remove it"
        )
    return "rotation failed: AWSCURRENT did not move to the new version"


def _generation(age: int) -> str:
    return {0: "new (AWSCURRENT)", 1: "previous (AWSPREVIOUS)"}.get(age, f"{age} rotations old")


def _patched(rotator: Rotator, methods: Mapping[str, Callable[..., Any]]) -> Rotator:
    """A shallow copy of ``rotator`` with some methods replaced (same service, same store)."""
    clone = copy.copy(rotator)
    for name, method in methods.items():
        setattr(clone, name, method)
    return clone


def _once(
    apply: Callable[[Rotation], None], wrong: Callable[[Value], Value] | None
) -> Callable[[Rotation], None]:
    """An ``apply`` that misbehaves from its second call for a token on: it fails, or (with
    ``wrong``) applies a wrong credential instead of the pending one."""
    seen: set[str] = set()

    def mutant(rotation: Rotation) -> None:
        if rotation.token not in seen:
            seen.add(rotation.token)
            apply(rotation)
        elif wrong is None:
            raise ServiceError("this apply cannot run twice for one token")
        else:
            apply(_WrongPending(rotation, wrong))

    return mutant


class _WrongPending(Rotation):
    """A step's view in which AWSPENDING holds a wrong credential (the same one each time)."""

    def __init__(self, rotation: Rotation, wrong: Callable[[Value], Value]) -> None:
        super().__init__(rotation.store, rotation.description, rotation.event)
        self._wrong = wrong(rotation.pending())

    def pending(self) -> Value:
        return copy.deepcopy(self._wrong)
