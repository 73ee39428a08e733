"""Redis and Valkey ACL users, with redis-py: an ACL admin sets passwords, as SHA-256 hashes.

A Redis user cannot change its own password without ACL rights, so rotation always goes
through an admin (the rotated secret's ``masterarn``) with the dual-password strategy: ACL
users hold several passwords, so setSecret adds the new one beside the current one
(``ACL SETUSER <user> resetpass #<sha256> #<sha256>``, never a clear password), and
finishSecret leaves only the new one, or the new and the previous one (``"keep_previous":
true`` in the rotated secret) until the next rotation.

Changes are persisted before any is made: with an ACL file (``aclfile``) by ``ACL SAVE``,
else by ``CONFIG REWRITE`` of the server's configuration file; a server with neither is
refused (a restart would bring the old passwords back). Replicas and cluster nodes keep their
own ACLs: rotate each node's users, or use a managed service's user API (docs/redis.md).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any, ClassVar

from rotor.databases.engine import CloneState, Engine
from rotor.databases.tls import TLS_HINT, TlsSettings, system_ca_file
from rotor.errors import AuthenticationFailed, ConfigurationError, ServiceError
from rotor.models import REDIS_ENGINES, DatabaseSecret

_NOT_HERE = (
    "Redis users rotate with the dual-password strategy (rotators/redis): an ACL "
    "admin changes passwords; a user cannot change its own, and there are no clones."
)


def password_hash(password: str) -> str:
    """What ``ACL SETUSER … #<hash>`` takes: the hex SHA-256 of the password."""
    return hashlib.sha256(password.encode()).hexdigest()


class Redis(Engine):
    """Redis (6+) and Valkey ACL users, on redis-py (docs/redis.md)."""

    name = "redis"
    engines: ClassVar[frozenset[str]] = REDIS_ENGINES
    default_port = 6379
    max_username_bytes = 512

    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {}
        if tls.enabled:
            ca = tls.ca_file or system_ca_file()
            if ca is None:
                raise ConfigurationError(
                    "No CA bundle to verify Redis's certificate: set ROTOR_CA_BUNDLE."
                )
            options = {
                "ssl": True,
                "ssl_cert_reqs": "required",
                "ssl_ca_certs": ca,
                "ssl_check_hostname": True,
            }
        where = f"Redis at {login.host}:{login.port} as '{login.username}'"
        client = redis.Redis(
            host=login.host,
            port=login.port,
            username=login.username,
            password=login.password,
            socket_timeout=10,
            socket_connect_timeout=10,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
            **options,
        )
        try:  # AUTH <user> <password> as the connection opens: exactly that user, or refused
            self.check(client)
        except redis.AuthenticationError:
            client.close()
            raise AuthenticationFailed(f"{where}: credentials rejected.") from None
        except redis.RedisError as exc:
            client.close()
            text = str(exc).strip()
            hint = f" {TLS_HINT}" if "SSL" in text or "certificate" in text else ""
            raise ServiceError(f"Could not connect to {where}: {text}.{hint}") from None
        return client

    def check(self, conn: Any) -> None:
        """PING; a user whose ACL denies PING has still logged in (NOPERM comes after AUTH)."""
        import redis

        with contextlib.suppress(redis.exceptions.NoPermissionError):
            conn.ping()

    def check_admin_session(self, conn: Any) -> None:
        """Refuse before any change a server that could not persist it."""
        if not self._aclfile(conn) and not self._config_file(conn):
            raise ServiceError(
                "This Redis server has neither an ACL file (aclfile) nor a configuration file: "
                "a password change would be lost at its next restart. Give it an aclfile "
                "(ACL SAVE) or start it from a configuration file (CONFIG REWRITE)."
            )

    @staticmethod
    def _aclfile(conn: Any) -> str:
        return str(conn.config_get("aclfile").get("aclfile") or "")

    @staticmethod
    def _config_file(conn: Any) -> str:
        return str(conn.info("server").get("config_file") or "")

    def set_passwords(self, conn: Any, username: str, passwords: list[str]) -> None:
        import redis

        if username not in conn.acl_users():
            raise ServiceError(f"Redis user '{username}' does not exist.")
        hashes = [f"#{password_hash(p)}" for p in passwords]
        try:
            conn.execute_command("ACL", "SETUSER", username, "resetpass", *hashes)
            if self._aclfile(conn):
                conn.execute_command("ACL", "SAVE")
            else:
                conn.config_rewrite()
        except redis.RedisError as exc:
            raise ServiceError(
                f"Setting the passwords of Redis user '{username}' failed: {str(exc).strip()}"
            ) from None

    # --- what Redis has no use for ------------------------------------------------------------
    def set_own_password(self, conn: Any, username: str, password: str) -> None:
        raise ServiceError(_NOT_HERE)

    def set_password(self, conn: Any, username: str, password: str) -> None:
        raise ServiceError(_NOT_HERE)

    def ensure_clone(self, conn: Any, original: str, clone: str, password: str) -> None:
        raise ServiceError(_NOT_HERE)

    def clone_state(self, conn: Any, clone: str, original: str) -> CloneState:
        raise ServiceError(_NOT_HERE)

    def mark_clone(self, conn: Any, clone: str, original: str) -> None:
        raise ServiceError(_NOT_HERE)
