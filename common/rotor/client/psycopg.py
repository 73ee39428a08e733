"""psycopg 3 connections from a rotated secret: ``connect(credentials, dbname=...)``.

The secret's ``host``, ``port``, ``username``, ``password`` and ``dbname`` are used (RDS
shape); keyword arguments add to them or override them (``sslmode``, ``connect_timeout``...).
A login the server rejects is retried once with the credential :class:`SecretCredentials`
says to try next. psycopg is the application's own dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rotor.client import Credential, SecretCredentials

if TYPE_CHECKING:
    import psycopg

_REJECTED_SQLSTATE = "28P01"  # invalid_password; libpq often gives no SQLSTATE: the message
_REJECTED_TEXT = "password authentication failed"


def rejected(exc: BaseException) -> bool:
    """Whether psycopg says the server refused the login's password."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and (
        getattr(exc, "sqlstate", None) == _REJECTED_SQLSTATE or _REJECTED_TEXT in str(exc)
    )


def parameters(credential: Credential, **overrides: Any) -> dict[str, Any]:
    """psycopg's connection keywords from the secret's value; ``overrides`` win."""
    value = credential.value
    found = {
        "host": value.get("host"),
        "port": value.get("port"),
        "user": value.get("username"),
        "password": value.get("password"),
        "dbname": value.get("dbname"),
    }
    return {k: v for k, v in {**found, **overrides}.items() if v is not None}


def connect(credentials: SecretCredentials, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection with the secret's current credential (or, refused, the next)."""
    import psycopg

    return credentials.use(lambda c: psycopg.connect(**parameters(c, **kwargs)), rejected)
