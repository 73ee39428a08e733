"""Dual passwords: one user, and its old password keeps working until finishSecret.

Single user has a window: between setSecret and finishSecret only the new password works.
Servers that hold two passwords per account close it: setSecret has the admin (the rotated
secret's ``masterarn``) make both the current and the new password valid, and finishSecret,
once AWSCURRENT moved, leaves only the new one. MariaDB 10.4+ does this with an authentication
chain (``IDENTIFIED VIA … USING … OR … USING …``), MySQL 8.0.14+ with ``RETAIN CURRENT
PASSWORD`` and ``DISCARD OLD PASSWORD``; other servers are refused with a clear error.

Under break glass (the current password was disabled and fails the proof) only the new
password is made valid: a leaked password is never kept. A rotated secret saying
``"keep_previous": true`` keeps the previous password valid after finishSecret too, until
the next rotation (on servers that hold more than two passwords per user: Redis and Valkey),
as long as it still logs in then.
"""

from __future__ import annotations

from typing import Any

from rotor.databases.admin import AdminRotator
from rotor.databases.tls import TlsSettings
from rotor.errors import StateError
from rotor.observability import logger
from rotor.protocol import Rotation
from rotor.secrets import PREVIOUS


class DualPasswords(AdminRotator):
    """The dual-password strategy for an engine: ``DualPasswords(MySQL()).handler``."""

    strategy = "dual"
    keeps = "new"  # the previous password is discarded once AWSCURRENT moved

    def create(self, rotation: Rotation) -> dict[str, Any]:
        current = self.current_login(rotation)
        self.admin_arn(current, rotation.description.name)
        return current.with_login(current.username, rotation.new_password())

    def apply(self, rotation: Rotation) -> None:
        current, pending = self.logins(rotation)
        if current.username != pending.username:
            raise StateError(
                f"AWSPENDING of secret {rotation.description.name} names another user than "
                "AWSCURRENT; it was edited by hand. Cancel this rotation and start a new one."
            )
        admin = self.admin_login(rotation, current)
        proven = self.require_proof(rotation, current, admin, username=current.username)
        if proven and self.proves(pending):
            logger.info("Both passwords log in already")
            return
        keep = [current.password] if proven else []
        with self.engine.session(admin, TlsSettings.for_secret(admin)) as conn:
            self.engine.check_admin_session(conn)
            self.engine.set_passwords(conn, current.username, [*keep, pending.password])
        logger.info(
            "Admin made the new password valid beside the current one",
            extra={"user": current.username, "kept_current": proven},
        )

    def finished(self, rotation: Rotation) -> None:
        """The rotation is done: the previous password stops working (or, asked for, the one
        before it)."""
        current = self.current_login(rotation)
        admin = self.admin_login(rotation, current)
        if not self.proves(current):  # only a credential proven here is kept
            raise StateError(
                f"AWSCURRENT of secret {rotation.description.name} does not log in after the "
                "rotation; refusing to change its passwords. Check the secret and the account."
            )
        kept = [current.password]
        if current.raw.get("keep_previous") is True:
            previous = self._previous(rotation, current)
            if previous is not None:
                kept.insert(0, previous)
        with self.engine.session(admin, TlsSettings.for_secret(admin)) as conn:
            self.engine.check_admin_session(conn)
            self.engine.set_passwords(conn, current.username, kept)
        logger.info(
            "Admin discarded the older passwords",
            extra={"user": current.username, "kept": len(kept)},
        )

    def _previous(self, rotation: Rotation, current: Any) -> str | None:
        """AWSPREVIOUS's password, if it is the same user's and still logs in (a value written
        by hand is not made valid)."""
        value = rotation.previous()
        if value is None:
            return None
        previous = self.login(value, rotation.where(PREVIOUS))
        same = previous.same_server(current) and previous.username == current.username
        if not same or previous.password == current.password or not self.proves(previous):
            return None
        return previous.password
