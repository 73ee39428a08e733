"""RabbitMQ users: an admin gives the user a new password through the management HTTP API,
sending only its salted hash; an AMQP login proves it. A user has one password, so the old
one stops working at setSecret.

The secret: {"host", "port" (AMQP), "management_port", "username", "password", "adminarn"},
optionally "vhost" (default "/") and, for a server without TLS, "ssl": false. The admin secret
named by "adminarn" holds a login with the administrator tag to the same server.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from rotor import Rotation, Rotator
from rotor.errors import AuthenticationFailed, SecretFormatError, ServiceError, StateError
from rotor.models import text_field
from rotor.secrets import CURRENT, PENDING
from rotor.settings import current as settings


def port(value: dict[str, Any], key: str, default: int, where: str) -> int:
    found = value.get(key, default)
    if isinstance(found, bool) or not isinstance(found, int) or not 0 < found < 65536:
        raise SecretFormatError(f"{where}: key '{key}' must be a port number.")
    return found


@dataclass(frozen=True, repr=False)
class Login:
    """A RabbitMQ login as a secret holds it. Errors name the key, never a value."""

    host: str
    port: int
    management_port: int
    vhost: str
    username: str
    password: str
    ssl: bool

    @classmethod
    def parse(cls, value: dict[str, Any], where: str) -> Login:
        ssl = value.get("ssl", True)
        if not isinstance(ssl, bool):
            raise SecretFormatError(f"{where}: key 'ssl' must be true or false.")
        amqp = port(value, "port", 5671 if ssl else 5672, where)
        management = port(value, "management_port", 15671 if ssl else 15672, where)
        vhost = text_field(value, "vhost", where, required=False) or "/"
        host, user, password = (
            str(text_field(value, key, where)) for key in ("host", "username", "password")
        )
        return cls(host, amqp, management, vhost, user, password, ssl)

    def same_user(self, other: Login) -> bool:
        return replace(self, password="") == replace(other, password="")

    def logs_in(self) -> None:
        """An AMQP login, as the application makes it; AuthenticationFailed when refused."""
        import ssl  # deferred: every import is part of the function's cold start

        import pika
        import pika.exceptions

        tls = None
        if self.ssl:
            context = ssl.create_default_context(cafile=settings().ca_bundle)
            tls = pika.SSLOptions(context, self.host)
        parameters = pika.ConnectionParameters(
            host=self.host,
            port=self.port,
            virtual_host=self.vhost,
            credentials=pika.PlainCredentials(self.username, self.password),
            ssl_options=tls,
            connection_attempts=1,  # Secrets Manager retries the whole rotation
            socket_timeout=5,
            stack_timeout=10,
        )
        where = f"RabbitMQ at {self.host}:{self.port}"
        try:
            pika.BlockingConnection(parameters).close()
        except pika.exceptions.ProbableAuthenticationError:
            raise AuthenticationFailed(f"{where} refused user '{self.username}'.") from None
        except pika.exceptions.ProbableAccessDeniedError:
            raise ServiceError(
                f"{where}: user '{self.username}' may not use vhost '{self.vhost}'; "
                "grant it permissions there or fix key 'vhost'."
            ) from None
        except (pika.exceptions.AMQPError, OSError) as exc:  # OSError: TLS, sockets
            hint = "check keys 'host', 'port' and 'ssl'"
            raise ServiceError(f"{where}: {type(exc).__name__}; {hint}.") from None

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A management API request as this login; its JSON answer."""
        import requests

        scheme, where = ("https" if self.ssl else "http"), f"{self.host}:{self.management_port}"
        try:
            response = requests.request(
                method,
                f"{scheme}://{where}{path}",
                auth=(self.username, self.password),
                json=body,
                timeout=10,
                verify=settings().ca_bundle or True,
            )
        except requests.RequestException as exc:
            hint = "check keys 'host', 'management_port' and 'ssl'"
            raise ServiceError(f"RabbitMQ API at {where}: {type(exc).__name__}; {hint}.") from None
        if response.status_code == 401:
            raise AuthenticationFailed(  # a wrong password, or a user not an administrator
                f"RabbitMQ API at {where} refused '{self.username}': it needs its password "
                "and the administrator tag."
            )
        if not response.ok:
            raise ServiceError(f"RabbitMQ API at {where}: {method} {path}: {response.status_code}.")
        return response.json() if response.content else None


def password_hash(password: str) -> str:
    """The hash RabbitMQ stores (rabbit_password_hashing_sha256): base64 of a 4-byte random
    salt and SHA-256(salt + password). The API gets this, never the password."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


class RabbitMQUsers(Rotator):
    name = "rabbitmq-users"
    keeps = "new"  # one password per user: setting the new one ends the old

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
        try:
            admin = self.admin(rotation, current)
        except AuthenticationFailed:  # a retry after the change: the old password is gone
            pending.logs_in()
            return
        path = f"/api/users/{quote(current.username, safe='')}"
        tags = admin.api("GET", path)["tags"]  # PUT replaces the user: keep its tags
        admin.api(
            "PUT",
            path,
            {
                "password_hash": password_hash(pending.password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": tags,
            },
        )

    def verify(self, rotation: Rotation) -> None:
        Login.parse(rotation.pending(), rotation.where(PENDING)).logs_in()

    def admin(self, rotation: Rotation, current: Login) -> Login:
        """The admin login to act for ``current``'s user. Whoever writes the rotated secret
        could name any user, so the admin acts only for one whose password that secret
        proves it holds, and never for the admin itself."""
        current.logs_in()
        arn = str(text_field(rotation.current(), "adminarn", rotation.where(CURRENT)))
        admin = Login.parse(rotation.read_admin(arn, "adminarn"), f"Admin secret {arn}")
        broker = (admin.host, admin.port, admin.management_port)  # proof and admin: one
        if broker != (current.host, current.port, current.management_port):
            raise StateError(
                f"Admin secret {arn} is for another server than "
                f"{rotation.where(CURRENT)}; refusing to use it there."
            )
        if admin.username == current.username:
            raise StateError(
                f"{rotation.where(CURRENT)} rotates the admin user of {arn}; "
                "rotate the admin secret with a rotator of its own."
            )
        return admin


lambda_handler = RabbitMQUsers().handler
