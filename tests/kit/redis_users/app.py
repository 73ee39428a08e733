"""Redis ACL users: an admin gives the user a new password; the one it replaces keeps working
until the next rotation, and older ones are removed.

The test kit's own subject: tests/kit/test_kit_catches.py breaks it one way at a time to prove
each check bites (rotor ships its own Redis rotator, rotators/redis; the walkthrough in
docs/writing-a-rotator.md is tests/kit/rabbitmq_users).

The secret: {"host", "port", "username", "password", "adminarn"} and, for a server without
TLS, "ssl": false. The admin secret named by "adminarn" holds an admin login to the same server.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from rotor import Rotation, Rotator
from rotor.errors import AuthenticationFailed, SecretFormatError, ServiceError, StateError
from rotor.models import text_field
from rotor.secrets import CURRENT, PENDING, PREVIOUS


@dataclass(frozen=True, repr=False)
class Login:
    """A Redis login as a secret holds it. Errors name the key, never a value."""

    host: str
    port: int
    username: str
    password: str
    ssl: bool

    @classmethod
    def parse(cls, value: dict[str, Any], where: str) -> Login:
        port, ssl = value.get("port", 6379), value.get("ssl", True)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise SecretFormatError(f"{where}: key 'port' must be a port number.")
        if not isinstance(ssl, bool):
            raise SecretFormatError(f"{where}: key 'ssl' must be true or false.")
        host, user, password = (
            str(text_field(value, key, where)) for key in ("host", "username", "password")
        )
        return cls(host, port, user, password, ssl)

    def same_user(self, other: Login) -> bool:
        return (self.host, self.port, self.username) == (other.host, other.port, other.username)

    def connect(self) -> Any:
        """An authenticated connection; AuthenticationFailed when Redis refuses the login."""
        import redis  # deferred: every import is part of the function's cold start
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            ssl=self.ssl,
            ssl_ca_certs=os.environ.get("ROTOR_CA_BUNDLE") or None,
            socket_timeout=5,
            socket_connect_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )  # Secrets Manager retries the whole rotation
        try:
            client.ping()
        except redis.AuthenticationError:
            client.close()
            raise AuthenticationFailed(
                f"Redis at {self.host}:{self.port} refused user '{self.username}'."
            ) from None
        except redis.RedisError as exc:
            client.close()
            raise ServiceError(f"Redis at {self.host}:{self.port}: {type(exc).__name__}.") from None
        return client


def digest(password: str) -> str:
    """A password as ACL SETUSER takes its hash: the clear text never reaches the server."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


class RedisUsers(Rotator):
    name = "redis-users"
    keeps = "new_and_previous"

    def create(self, rotation: Rotation) -> dict[str, Any]:
        current = rotation.current()
        Login.parse(current, rotation.where(CURRENT))
        text_field(current, "adminarn", rotation.where(CURRENT))
        return {**current, "password": rotation.new_password()}

    def apply(self, rotation: Rotation) -> None:
        current = Login.parse(rotation.current(), rotation.where(CURRENT))
        pending = Login.parse(rotation.pending(), rotation.where(PENDING))
        if not pending.same_user(current):
            raise StateError(
                f"{rotation.where(PENDING)} names another server or user than AWSCURRENT; "
                "it was edited by hand. Remove its AWSPENDING label and rotate again."
            )
        with self.admin(rotation, current) as admin:  # adding a known hash changes nothing
            admin.execute_command("ACL", "SETUSER", current.username, digest(pending.password))

    def verify(self, rotation: Rotation) -> None:
        Login.parse(rotation.pending(), rotation.where(PENDING)).connect().close()

    def finished(self, rotation: Rotation) -> None:
        current = Login.parse(rotation.current(), rotation.where(CURRENT))
        keep = [digest(current.password)]
        previous = rotation.previous()
        if previous is not None:
            old = Login.parse(previous, rotation.where(PREVIOUS))
            if old.same_user(current):
                keep.append(digest(old.password))
        with self.admin(rotation, current) as admin:  # one command: never no password at all
            admin.execute_command("ACL", "SETUSER", current.username, "resetpass", *keep)

    def admin(self, rotation: Rotation, current: Login) -> closing[Any]:
        """An admin connection to act for ``current``'s user. Whoever writes the rotated
        secret could name any user, so the admin acts only for one whose password that
        secret proves it holds, and never for the admin itself."""
        current.connect().close()
        arn = str(text_field(rotation.current(), "adminarn", rotation.where(CURRENT)))
        admin = Login.parse(rotation.read_admin(arn, "adminarn"), f"Admin secret {arn}")
        if (admin.host, admin.port) != (current.host, current.port):
            raise StateError(
                f"Admin secret {arn} is for another server than "
                f"{rotation.where(CURRENT)}; refusing to use it there."
            )
        if admin.username == current.username:
            raise StateError(
                f"{rotation.where(CURRENT)} rotates the admin user of {arn}; "
                "rotate the admin secret with a rotator of its own."
            )
        return closing(admin.connect())


lambda_handler = RedisUsers().handler
