"""Single user: the user changes its own password.

Between setSecret and finishSecret only the pending password works; that window is the price of
not needing an admin (see the dual-password strategy). setSecret logs in with AWSCURRENT and
changes the password: with testSecret's login that is two connections per rotation, and no
refused login in the usual path (servers may lock accounts after failed logins). A retried
setSecret converges: AWSCURRENT no longer logs in, AWSPENDING does (already set); a password
reset by hand to the previous value is found through AWSPREVIOUS.
"""

from __future__ import annotations

from typing import Any

from rotor.databases.base import DatabaseRotator
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, StateError
from rotor.observability import logger
from rotor.protocol import Rotation
from rotor.secrets import PREVIOUS


class SingleUser(DatabaseRotator):
    """The single-user strategy for an engine: ``SingleUser(PostgreSQL()).handler``."""

    strategy = "single"
    keeps = "new"

    def create(self, rotation: Rotation) -> dict[str, Any]:
        current = self.current_login(rotation)
        return current.with_login(current.username, rotation.new_password())

    def apply(self, rotation: Rotation) -> None:
        current, pending = self.logins(rotation)
        name = rotation.description.name
        if current.username != pending.username:
            raise StateError(
                f"AWSPENDING of secret {name} names another user than AWSCURRENT; it was edited "
                "by hand. Cancel this rotation and start a new one."
            )
        tls = TlsSettings.for_secret(current)
        conn = self.engine.try_login(current, tls)
        if conn is None:
            done = self.engine.try_login(pending, tls)
            if done is not None:
                self.engine.close(done)
                logger.info("AWSPENDING already logs in; password already set")
                return
            previous_value = rotation.previous()
            if previous_value is not None:
                previous = self.login(previous_value, rotation.where(PREVIOUS))
                if previous.same_server(current) and previous.username == current.username:
                    conn = self.engine.try_login(previous, tls)
        if conn is None:
            raise AuthenticationFailed(
                f"Neither AWSCURRENT, AWSPENDING nor AWSPREVIOUS of secret {name} logs in as "
                f"'{current.username}' at {current.host}:{current.port}. Reset the password by "
                "hand to the AWSCURRENT value, then rotate again."
            )
        try:
            self.engine.set_own_password(conn, current.username, pending.password)
        finally:
            self.engine.close(conn)
        logger.info("Password changed by the user itself")
