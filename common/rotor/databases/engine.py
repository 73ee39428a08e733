"""The contract a database engine implements: connection code and engine-specific SQL only.

Like a Vault database plugin, an engine is a handful of operations. Steps, stages, guards and
retries live in the strategies (:mod:`rotor.databases.single`, :mod:`rotor.databases.alternating`);
an engine never sees a Secrets Manager call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed
from rotor.models import DatabaseSecret


class Engine(ABC):
    """One database family (PostgreSQL, MySQL...)."""

    name: ClassVar[str]
    engines: ClassVar[frozenset[str]]  # accepted values of the secret's 'engine' key
    default_port: ClassVar[int]
    max_username_bytes: ClassVar[int]

    @abstractmethod
    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> Any:
        """An open connection. Raises :class:`AuthenticationFailed` only when the server
        rejected the credentials; any other failure (network, TLS) raises something else."""

    @abstractmethod
    def set_own_password(self, conn: Any, username: str, password: str) -> None:
        """As ``username`` itself, change its own password."""

    @abstractmethod
    def set_password(self, conn: Any, username: str, password: str) -> None:
        """As an admin, change an existing user's password."""

    @abstractmethod
    def ensure_clone(self, conn: Any, original: str, clone: str, password: str) -> None:
        """As an admin, create ``clone`` (or update it) with ``password`` and bring its
        privileges in step with ``original``'s. Runs on every rotation, so it must converge."""

    @abstractmethod
    def check(self, conn: Any) -> None:
        """A trivial query proving the session is usable."""

    def configured_username_limit(self) -> int:
        """The user-name limit known without a connection (checked by createSecret)."""
        return self.max_username_bytes

    def is_clone_of(self, conn: Any, clone: str, original: str) -> bool:
        """As an admin: is ``clone`` the alternate rotor made for ``original``? Checked before
        the admin resets the original for a secret whose current user is the clone."""
        return True

    def username_limit(self, conn: Any) -> int:
        """The server's user-name limit in bytes; engines whose limit varies ask the server."""
        return self.max_username_bytes

    def close(self, conn: Any) -> None:
        conn.close()

    @contextmanager
    def session(self, login: DatabaseSecret, tls: TlsSettings) -> Iterator[Any]:
        conn = self.connect(login, tls)
        try:
            yield conn
        finally:
            self.close(conn)

    def try_login(self, login: DatabaseSecret, tls: TlsSettings) -> Any | None:
        """An open connection, or ``None`` when the credentials are rejected."""
        try:
            return self.connect(login, tls)
        except AuthenticationFailed:
            return None
