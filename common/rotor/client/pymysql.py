"""PyMySQL connections from a rotated secret: ``connect(credentials, database=...)``.

The secret's ``host``, ``port``, ``username``, ``password`` and ``dbname`` are used;
keyword arguments add to them or override them (``ssl``, ``connect_timeout``...). A login the
server rejects (error 1045) is retried once with the credential :class:`SecretCredentials`
says to try next. PyMySQL is the application's own dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rotor.client import Credential, SecretCredentials

if TYPE_CHECKING:
    import pymysql

ACCESS_DENIED = 1045


def rejected(exc: BaseException) -> bool:
    """Whether PyMySQL says the server refused the login."""
    import pymysql

    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return (
        isinstance(exc, pymysql.err.OperationalError) and bool(args) and (args[0] == ACCESS_DENIED)
    )


def parameters(credential: Credential, **overrides: Any) -> dict[str, Any]:
    """PyMySQL's connection keywords from the secret's value; ``overrides`` win."""
    value = credential.value
    port = value.get("port")
    found = {
        "host": value.get("host"),
        "port": int(port) if port else None,
        "user": value.get("username"),
        "password": value.get("password"),
        "database": value.get("dbname"),
    }
    return {k: v for k, v in {**found, **overrides}.items() if v is not None}


def connect(credentials: SecretCredentials, **kwargs: Any) -> pymysql.connections.Connection[Any]:
    """A PyMySQL connection with the secret's current credential (or, refused, the next)."""
    import pymysql

    return credentials.use(lambda c: pymysql.connect(**parameters(c, **kwargs)), rejected)
