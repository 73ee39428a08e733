"""The part of the two database strategies that is the same: parsing logins and testSecret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rotor.databases.engine import Engine
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, StateError
from rotor.models import DatabaseSecret
from rotor.protocol import Rotation, Rotator

if TYPE_CHECKING:
    from rotor.preflight import Check, Report
from rotor.secrets import CURRENT, PENDING


class DatabaseRotator(Rotator):
    strategy = "database"
    # What the preflight checks cover beyond the login (rotor.databases.checks).
    uses_admin: ClassVar[bool] = False
    uses_clone: ClassVar[bool] = False

    def __init__(self, engine: Engine, store: Any = None, *, name: str | None = None) -> None:
        """``name``: the rotator's name in logs, metrics and checks; by default
        ``<engine>-<strategy>``. A rotator whose engine has one strategy passes its own."""
        super().__init__(store)
        self.engine = engine
        self.name = name or f"{engine.name}-{self.strategy}"

    def login(self, value: dict[str, Any], where: str, *, admin: bool = False) -> DatabaseSecret:
        return DatabaseSecret.parse(
            value, where, self.engine.engines, self.engine.default_port, admin=admin
        )

    def current_login(self, rotation: Rotation) -> DatabaseSecret:
        return self.login(rotation.current(), rotation.where(CURRENT))

    def pending_login(self, rotation: Rotation) -> DatabaseSecret:
        return self.login(rotation.pending(), rotation.where(PENDING))

    def logins(self, rotation: Rotation) -> tuple[DatabaseSecret, DatabaseSecret]:
        """(current, pending), after checking pending still names the current server."""
        name = rotation.description.name
        current, pending = self.current_login(rotation), self.pending_login(rotation)
        if not pending.same_server(current) or pending.dbname != current.dbname:
            raise StateError(
                f"AWSPENDING of secret {name} points at another server or database than "
                "AWSCURRENT; it was edited by hand. Cancel this rotation and start a new one."
            )
        return current, pending

    def checks(self, rotation: Rotation, report: Report) -> list[Check]:
        from rotor.databases.checks import DatabaseChecks  # only a check event needs it

        return DatabaseChecks(self, rotation, report).build(
            admin=self.uses_admin, clone=self.uses_clone
        )

    def verify(self, rotation: Rotation) -> None:
        name = rotation.description.name
        pending = self.pending_login(rotation)
        try:
            with self.engine.session(pending, TlsSettings.for_secret(pending)) as conn:
                self.engine.check(conn)
        except AuthenticationFailed:
            raise AuthenticationFailed(
                f"The AWSPENDING login of secret {name} (user '{pending.username}') is rejected "
                f"by {pending.host}:{pending.port}; setSecret has not taken effect."
            ) from None
