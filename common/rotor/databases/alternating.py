"""Alternating users: an admin keeps ``<user>`` and ``<user>_clone`` taking turns.

The user being replaced is never touched, so AWSCURRENT logs in at every moment, and consumers
holding AWSPREVIOUS keep working until the next rotation. The admin secret is named by the
rotated secret's ``masterarn``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rotor.databases import naming, rds
from rotor.databases.base import DatabaseRotator
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, SecretFormatError, StateError
from rotor.models import DatabaseSecret
from rotor.observability import logger
from rotor.protocol import Rotation


class AlternatingUsers(DatabaseRotator):
    strategy = "alternating"

    def create(self, rotation: Rotation) -> dict[str, Any]:
        current = self.current_login(rotation)
        self._admin_arn(current, rotation.description.name)
        new_user = naming.alternate(current.username)
        naming.check_length(
            naming.clone_of(current.username), self.engine.configured_username_limit(),
            self.engine.name,
        )
        return current.with_login(new_user, rotation.new_password())

    def apply(self, rotation: Rotation) -> None:
        current, pending = self.logins(rotation)
        name = rotation.description.name
        original = naming.original_of(current.username)
        if pending.username != naming.alternate(current.username):
            raise StateError(
                f"AWSPENDING of secret {name} names user '{pending.username}', not the "
                f"alternate of '{current.username}'; it was edited by hand. Start a new rotation."
            )
        admin = self._admin(rotation, current, name)
        # Confused-deputy guard: prove the caller's current login is real before using admin.
        conn = self.engine.try_login(current, TlsSettings.for_secret(current))
        if conn is None:
            raise AuthenticationFailed(
                f"AWSCURRENT of secret {name} (user '{current.username}') does not log in at "
                f"{current.host}:{current.port}; refusing to use the admin login. Fix AWSCURRENT."
            )
        self.engine.close(conn)
        with self.engine.session(admin, TlsSettings.for_secret(admin)) as admin_conn:
            clone = naming.clone_of(original)
            naming.check_length(clone, self.engine.username_limit(admin_conn), self.engine.name)
            if pending.username == clone:
                self.engine.ensure_clone(admin_conn, original, clone, pending.password)
            elif self.engine.is_clone_of(admin_conn, clone, original):
                self.engine.set_password(admin_conn, original, pending.password)
            else:  # proving the clone's login proves nothing about the original
                raise StateError(
                    f"Secret {name} is current as '{clone}', which is not the alternate rotor "
                    f"made for '{original}'; refusing to reset '{original}' for it."
                )
        logger.info("Admin set the alternate user's password", extra={"user": pending.username})

    def _admin_arn(self, login: DatabaseSecret, name: str) -> str:
        if login.masterarn is None:
            raise SecretFormatError(
                f"Secret {name}: key 'masterarn' is missing; alternating users need the ARN of "
                "the admin secret that may create and alter users."
            )
        return login.masterarn

    def _admin(self, rotation: Rotation, current: DatabaseSecret, name: str) -> DatabaseSecret:
        arn = self._admin_arn(current, name)
        value = rotation.read_admin(arn, "masterarn")
        if "host" not in value:  # an RDS-managed master secret: the RDS API says where
            value = {**value, **rds.endpoint(rotation.store.describe(arn))}
        admin = self.login(value, f"Admin secret {arn}", admin=True)
        if not admin.same_server(current):
            raise StateError(
                f"The admin secret {arn} points at {admin.host}:{admin.port} but secret {name} at "
                f"{current.host}:{current.port}; refusing to use admin credentials elsewhere."
            )
        if naming.original_of(admin.username) == naming.original_of(current.username):
            raise StateError(
                f"Secret {name} rotates '{current.username}', the admin of {arn} itself; "
                "alternating users would change the admin's own password. Rotate the admin "
                "secret with the single-user rotator instead."
            )
        # TLS for the admin session is the admin secret's own choice (verified by default):
        # the less trusted rotated secret cannot downgrade it. Only the database follows.
        return dataclasses.replace(admin, dbname=admin.dbname or current.dbname)
