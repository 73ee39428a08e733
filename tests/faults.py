"""Fault injection for rotations: fail the Nth call a rotator makes, before or after it runs.

Wraps the real engine and the real Secrets Manager client (nothing is faked: the call either
does not happen, or happens and its answer is lost), so a test can walk a fault across every
call of a rotation and prove the retried rotation converges.
"""

from __future__ import annotations

from typing import Any

from rotor.secrets import SecretStore

SM_CALLS = (
    "describe_secret",
    "get_secret_value",
    "put_secret_value",
    "update_secret_version_stage",
    "get_random_password",
)
ENGINE_CALLS = (
    "connect",
    "set_own_password",
    "set_password",
    "set_passwords",
    "ensure_clone",
    "clone_state",
    "mark_clone",
    "check_admin_session",
    "check",
)


class InjectedFault(Exception):
    pass


class Faults:
    """Counts calls; raises at call number ``at`` (1-based), ``before`` or after it runs."""

    def __init__(self, at: int = 0, before: bool = True) -> None:
        self.at, self.before, self.calls = at, before, 0
        self.log: list[str] = []

    def call(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.log.append(name)
        hit = self.calls == self.at
        if hit and self.before:
            raise InjectedFault(f"injected before {name}")
        result = fn(*args, **kwargs)
        if hit:
            raise InjectedFault(f"injected after {name}")
        return result

    @property
    def fired(self) -> bool:
        return 0 < self.at <= self.calls


class _FaultySM:
    def __init__(self, sm: Any, faults: Faults) -> None:
        self._sm, self._faults = sm, faults

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sm, name)
        if name not in SM_CALLS:
            return attr
        return lambda *a, **k: self._faults.call(name, attr, *a, **k)


def faulty_store(sm: Any, faults: Faults) -> SecretStore:
    return SecretStore(_FaultySM(sm, faults))  # type: ignore[arg-type]


def faulty_engine(engine_cls: type, faults: Faults) -> Any:
    """An instance of a subclass of ``engine_cls`` whose calls go through ``faults``."""

    def wrap(name: str) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return faults.call(name, getattr(super(cls, self), name), *args, **kwargs)

        return method

    cls = type(
        f"Faulty{engine_cls.__name__}", (engine_cls,), {name: wrap(name) for name in ENGINE_CALLS}
    )
    return cls()


def rotations_with_a_fault(build: Any) -> Any:
    """Yield ``(faults, rotator)`` with a fault at call 1, 2, ... (before the call, then after
    it) until a rotation runs past its last call. ``build(faults)`` makes the rotator."""
    for before in (True, False):
        at = 1
        while True:
            faults = Faults(at=at, before=before)
            yield faults, build(faults)
            if not faults.fired:
                break
            at += 1
