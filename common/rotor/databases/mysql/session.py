"""A PyMySQL connection, the server it talks to, and errors as rotor reports them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotor.errors import ServiceError

if TYPE_CHECKING:
    import pymysql

# A syntax error quotes the statement from the error on ("near '...'"): never show it.
_NEAR = re.compile(r"near '.*", re.DOTALL)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Server:
    """What ``SELECT VERSION()`` says: ``8.0.36``, ``5.7.44-log``, ``10.11.6-MariaDB``..."""

    version: str

    @property
    def mariadb(self) -> bool:
        return "mariadb" in self.version.lower()

    @property
    def numbers(self) -> tuple[int, int, int]:
        match = _VERSION.match(self.version)
        return (0, 0, 0) if match is None else (int(match[1]), int(match[2]), int(match[3]))

    def username_limit(self) -> int:
        """The documented limit, when the catalogue cannot be read."""
        if self.mariadb:
            return 80
        return 32 if self.numbers >= (5, 7, 8) else 16


class Session:
    """A PyMySQL connection and the server it talks to (detected on first use)."""

    def __init__(self, conn: pymysql.connections.Connection[Any]) -> None:
        self.conn = conn
        self._server: Server | None = None

    @property
    def server(self) -> Server:
        if self._server is None:
            self.identify()
        assert self._server is not None
        return self._server

    def identify(self) -> str:
        """The account the server authenticated (``user@host``), reading the version too."""
        rows = self.execute("Reading the session's account", "SELECT CURRENT_USER(), VERSION()")
        self._server = Server(str(rows[0][1]))
        return text(rows[0][0])

    def execute(
        self,
        what: str,
        sql: str,
        args: tuple[Any, ...] | None = None,
        secret: str | list[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run ``sql``; ``args`` are bound by PyMySQL (``sql`` is never %-formatted without)."""
        import pymysql

        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            code, text = error_of(exc)
            if secret is not None:
                text = _NEAR.sub("near (statement not shown)", text)
                for value in [secret] if isinstance(secret, str) else secret:
                    text = text.replace(value, "*****")
            raise ServiceError(f"{what} failed: MySQL error {code}: {text}") from None

    def close(self) -> None:
        self.conn.close()


def error_of(exc: Exception) -> tuple[int | None, str]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1]).strip()
    return None, str(exc).strip()


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value or "")


def quote_ident(name: str) -> str:
    """A MySQL identifier (or account part) in backticks, backticks doubled."""
    return "`" + name.replace("`", "``") + "`"


def account(user: str, host: str) -> str:
    return f"{quote_ident(user)}@{quote_ident(host)}"
