"""Typed secret shapes and their validation.

The JSON shape is the one AWS documents for RDS secrets, so a secret rotated today by an AWS
sample rotator works unchanged. Errors name the secret, its stage and the key, never a value.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from rotor.errors import SecretFormatError

POSTGRES_ENGINES = frozenset({"postgres", "postgresql", "aurora-postgresql"})
MYSQL_ENGINES = frozenset({"mysql", "mariadb", "aurora-mysql", "aurora"})
REDIS_ENGINES = frozenset({"redis", "valkey"})


def text_field(value: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """``value[key]`` as a non-empty string without control characters; errors name the key
    (never the value). Every secret shape validates its string keys with this."""
    raw = value.get(key)
    if raw is None:
        if required:
            raise SecretFormatError(f"{where}: key '{key}' is missing; add it to the secret.")
        return None
    if not isinstance(raw, str) or raw == "":
        raise SecretFormatError(f"{where}: key '{key}' must be a non-empty string.")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw) and key != "password":
        raise SecretFormatError(f"{where}: key '{key}' contains control characters.")
    return raw


def _port(value: dict[str, Any], where: str, default: int | None) -> int:
    raw = value.get("port", default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 65535:
        raise SecretFormatError(f"{where}: key 'port' must be a whole number from 1 to 65535.")
    return raw


def _ssl(value: dict[str, Any], where: str) -> bool:
    raw = value.get("ssl", True)
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    if not isinstance(raw, bool):
        raise SecretFormatError(f"{where}: key 'ssl' must be true or false.")
    return raw


@dataclass(frozen=True, repr=False)
class DatabaseSecret:
    """A database login as stored in a secret. ``raw`` keeps every key, known or not."""

    engine: str | None
    host: str
    port: int
    username: str
    password: str
    dbname: str | None
    ssl: bool
    masterarn: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        value: dict[str, Any],
        where: str,
        engines: Collection[str],
        default_port: int,
        *,
        admin: bool = False,
    ) -> DatabaseSecret:
        """Validate ``value``. An admin secret may omit ``engine``; a rotated one may not."""
        engine = text_field(value, "engine", where, required=not admin)
        if engine is not None and engine not in engines:
            accepted = ", ".join(sorted(engines))
            raise SecretFormatError(
                f"{where}: engine '{engine}' is not handled by this rotator (accepts {accepted})."
            )
        password = value.get("password")
        if not isinstance(password, str) or password == "":
            raise SecretFormatError(f"{where}: key 'password' must be a non-empty string.")
        if "\x00" in password:
            raise SecretFormatError(f"{where}: key 'password' contains a NUL character.")
        return cls(
            engine=engine,
            host=str(text_field(value, "host", where)),
            port=_port(value, where, default_port),
            username=str(text_field(value, "username", where)),
            password=password,
            dbname=text_field(value, "dbname", where, required=False),
            ssl=_ssl(value, where),
            masterarn=text_field(value, "masterarn", where, required=False),
            raw=dict(value),
        )

    def with_login(self, username: str, password: str) -> dict[str, Any]:
        """The secret's JSON with another login, every other key kept as it was."""
        return {**self.raw, "username": username, "password": password}

    def same_server(self, other: DatabaseSecret) -> bool:
        return (self.host.lower(), self.port) == (other.host.lower(), other.port)

    def __repr__(self) -> str:
        return (
            f"DatabaseSecret(engine={self.engine!r}, host={self.host!r}, port={self.port}, "
            f"username={self.username!r}, dbname={self.dbname!r}, ssl={self.ssl})"
        )
