"""Alternating users: an admin keeps ``<user>`` and ``<user>_clone`` taking turns.

The user being replaced is never touched, so AWSCURRENT logs in at every moment, and consumers
holding AWSPREVIOUS keep working until the next rotation. The admin secret is named by the
rotated secret's ``masterarn``.
"""

from __future__ import annotations

from typing import Any

from rotor.databases import naming
from rotor.databases.admin import AdminRotator
from rotor.databases.engine import CloneState
from rotor.databases.tls import TlsSettings
from rotor.errors import SecretFormatError, StateError
from rotor.models import DatabaseSecret
from rotor.observability import logger
from rotor.protocol import Rotation

# Key of the admin secret naming, per rotated secret ARN, the existing '<user>_clone' account
# rotor may take over as that secret's alternate (made by AWS's samples or hosted rotation).
ADOPT_KEY = "adopt_users"


def _adopted(admin: DatabaseSecret, where: str, secret_arn: str) -> str | None:
    """The clone the admin secret adopts for this secret. Bound to the secret's ARN: whoever
    holds a listed clone's password could otherwise get its original reset."""
    value = admin.raw.get(ADOPT_KEY, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise SecretFormatError(
            f"{where}: key '{ADOPT_KEY}' must map rotated secret ARNs to the user name of the "
            "clone to adopt for each."
        )
    return value.get(secret_arn)


class AlternatingUsers(AdminRotator):
    """The alternating-users strategy for an engine:
    ``AlternatingUsers(PostgreSQL()).handler``."""

    strategy = "alternating"
    uses_clone = True
    keeps = "new_and_previous"

    def create(self, rotation: Rotation) -> dict[str, Any]:
        current = self.current_login(rotation)
        self.admin_arn(current, rotation.description.name)
        new_user = naming.alternate(current.username)
        naming.check_length(
            naming.clone_of(current.username),
            self.engine.configured_username_limit(),
            self.engine.name,
        )
        return current.with_login(new_user, rotation.new_password())

    def apply(self, rotation: Rotation) -> None:
        current, pending = self.logins(rotation)
        name = rotation.description.name
        original = naming.original_of(current.username)
        clone = naming.clone_of(original)
        if pending.username != naming.alternate(current.username):
            raise StateError(
                f"AWSPENDING of secret {name} names user '{pending.username}', not the "
                f"alternate of '{current.username}'; it was edited by hand. Start a new rotation."
            )
        admin = self.admin_login(rotation, current)
        admin_where = f"Admin secret {current.masterarn}"
        self.require_proof(rotation, current, admin, username=original)
        adopt = _adopted(admin, admin_where, rotation.secret_arn) == clone
        with self.engine.session(admin, TlsSettings.for_secret(admin)) as conn:
            self.engine.check_admin_session(conn)
            naming.check_length(clone, self.engine.username_limit(conn), self.engine.name)
            state = self.engine.clone_state(conn, clone, original)
            if state is CloneState.FOREIGN and pending.username == clone and self.proves(pending):
                # An interrupted attempt of this rotation made it, or the secret's writer holds
                # its password anyway: taking it over harms nobody else.
                logger.info("The clone logs in with AWSPENDING already; marking it as rotor's")
                self.engine.mark_clone(conn, clone, original)
            elif state is CloneState.FOREIGN:
                if not adopt:
                    raise StateError(
                        f"User '{clone}' exists, but nothing on the server proves rotor made it "
                        f"as the alternate of '{original}'; refusing to touch either for secret "
                        f"{name}. If it is that alternate (made by AWS's samples, say), adopt "
                        f"it: key '{ADOPT_KEY}' of {admin_where}, mapping this secret's ARN to "
                        f"'{clone}'."
                    )
                logger.warning(
                    f"Adopting an existing user as the alternate (admin secret key '{ADOPT_KEY}')",
                    extra={"user": clone, "original": original},
                )
                self.engine.mark_clone(conn, clone, original)
            if pending.username == clone:
                self.engine.ensure_clone(conn, original, clone, pending.password)
            else:
                self.engine.set_password(conn, original, pending.password)
        logger.info("Admin set the alternate user's password", extra={"user": pending.username})
