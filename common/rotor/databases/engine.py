"""The contract a database engine implements: connection code and engine-specific SQL only.

Like a Vault database plugin, an engine is a handful of operations. Steps, stages, guards and
retries live in the strategies (:mod:`rotor.databases.single`, :mod:`rotor.databases.alternating`);
an engine never sees a Secrets Manager call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, ClassVar

from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, ServiceError
from rotor.models import DatabaseSecret


class CloneState(Enum):
    """What an account named ``<user>_clone`` is to rotor."""

    MISSING = "missing"  # no such account: rotor may create it
    OURS = "ours"  # rotor made it (or adopted it) for this original: provably, on the server
    FOREIGN = "foreign"  # someone else's: never touched unless the admin secret adopts it


class Engine(ABC):
    """One database family (PostgreSQL, MySQL...).

    Rules every engine keeps: passwords never reach the server in clear text where the server
    could log them; identifiers are quoted by the driver's quoting, never interpolated; the
    admin session runs only SQL rotor wrote (nothing the application's role can shape); and
    the admin touches an account only when :meth:`clone_state` proves rotor made it.
    """

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
        """As an admin, create ``clone`` (marked as rotor's, see :meth:`clone_state`) or update
        it with ``password``, and bring its privileges in step with ``original``'s. Runs on
        every rotation, so it must converge. Refuses a ``clone`` that is not rotor's."""

    @abstractmethod
    def clone_state(self, conn: Any, clone: str, original: str) -> CloneState:
        """As an admin: whether ``clone`` exists, and whether the server holds proof that rotor
        made it as ``original``'s alternate. The name alone proves nothing: anyone may have
        created an account called ``<user>_clone``."""

    @abstractmethod
    def mark_clone(self, conn: Any, clone: str, original: str) -> None:
        """As an admin, record on the server that ``clone`` is ``original``'s alternate (an
        existing account the admin secret adopts, e.g. one made by AWS's samples)."""

    @abstractmethod
    def check(self, conn: Any) -> None:
        """A trivial query proving the session is usable."""

    def set_passwords(self, conn: Any, username: str, passwords: list[str]) -> None:
        """As an admin, make exactly ``passwords`` (oldest first, at most two) valid for
        ``username``; for the dual-password strategy. Servers that hold one password per
        account raise a :class:`~rotor.errors.ServiceError` saying so."""
        raise ServiceError(f"{self.name} holds one password per user; use alternating users.")

    def check_admin_session(self, conn: Any) -> None:  # noqa: B027 - optional hook
        """As the admin, right after connecting: refuse a session the application's role could
        have shaped (PostgreSQL: a database it owns)."""

    def configured_username_limit(self) -> int:
        """The user-name limit known without a connection (checked by createSecret)."""
        return self.max_username_bytes

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
