"""What the strategies acting through an admin share: finding the admin, and the proof.

The admin secret (the rotated secret's ``masterarn``) is more trusted than the rotated secret,
whose writer may name any user. So before the admin acts: the admin secret must point at the
same server (for RDS-managed admin secrets, the RDS API's endpoint), must not be the rotated
user's own, and the rotated secret's current login must work, unless the admin secret
authorises a reset without that proof (break glass, for that user only).
"""

from __future__ import annotations

from rotor.databases import naming, rds
from rotor.databases.base import DatabaseRotator
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, SecretFormatError, StateError
from rotor.models import DatabaseSecret
from rotor.protocol import Rotation


class AdminRotator(DatabaseRotator):
    """A database strategy whose password changes are made by the admin secret's login."""

    uses_admin = True

    def proves(self, login: DatabaseSecret) -> bool:
        """Whether ``login`` really logs in (with its password, as that account)."""
        conn = self.engine.try_login(login, TlsSettings.for_secret(login))
        if conn is None:
            return False
        self.engine.close(conn)
        return True

    def require_proof(
        self, rotation: Rotation, current: DatabaseSecret, admin: DatabaseSecret, *, username: str
    ) -> bool:
        """Confused-deputy guard: ``True`` when AWSCURRENT logs in; ``False`` when it does not
        but the admin secret authorises resetting ``username`` without it; else an error."""
        if self.proves(current):
            return True
        if rotation.break_glass(admin.raw, f"Admin secret {current.masterarn}", username=username):
            return False
        raise AuthenticationFailed(
            f"AWSCURRENT of secret {rotation.description.name} (user '{current.username}') does "
            f"not log in at {current.host}:{current.port}; refusing to use the admin login. Fix "
            "AWSCURRENT, or have the platform team authorise a reset (key 'break_glass' of the "
            "admin secret; see docs/security.md)."
        )

    def admin_arn(self, login: DatabaseSecret, name: str) -> str:
        if login.masterarn is None:
            raise SecretFormatError(
                f"Secret {name}: key 'masterarn' is missing; the {self.strategy} strategy needs "
                "the ARN of the admin secret that may alter users."
            )
        return login.masterarn

    def admin_login(self, rotation: Rotation, current: DatabaseSecret) -> DatabaseSecret:
        """The admin secret's login, checked to be for the same server and not the user's."""
        name = rotation.description.name
        arn = self.admin_arn(current, name)
        value = rotation.read_admin(arn, "masterarn")
        if "host" not in value:  # an RDS-managed master secret: the RDS API says where
            value = {**value, **rds.endpoint(rotation.describe_admin(arn, "masterarn"))}
        admin = self.login(value, f"Admin secret {arn}", admin=True)
        if not admin.same_server(current):
            raise StateError(
                f"The admin secret {arn} points at {admin.host}:{admin.port} but secret {name} at "
                f"{current.host}:{current.port}; refusing to use admin credentials elsewhere."
            )
        if naming.original_of(admin.username) == naming.original_of(current.username):
            raise StateError(
                f"Secret {name} rotates '{current.username}', the admin of {arn} itself; "
                "the admin would change its own password. Rotate the admin secret with the "
                "single-user rotator instead."
            )
        # TLS and the database of the admin session are the admin secret's own choice (TLS
        # verified by default, else database 'postgres' or none): the rotated secret's
        # database may belong to the application's role, which can shape sessions there.
        return admin
