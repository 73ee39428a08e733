"""SQLAlchemy engines whose connections come from a rotated secret.

::

    engine = sqlalchemy.create_engine("postgresql+psycopg://")   # no credentials in the URL
    attach(engine, SecretCredentials("orders-db"))

Every new DBAPI connection (the pool's) is opened with the secret's current credential, and a
refused login is retried once with the next one, through the ``do_connect`` event. Supported
drivers: psycopg (3) and PyMySQL; other drivers get the credential without the retry.
"""

from __future__ import annotations

from typing import Any

from rotor.client import SecretCredentials
from rotor.client import psycopg as psycopg_adapter
from rotor.client import pymysql as pymysql_adapter

_ADAPTERS = {"psycopg": psycopg_adapter, "pymysql": pymysql_adapter}


def attach(engine: Any, credentials: SecretCredentials, **overrides: Any) -> None:
    """Make ``engine`` open its connections with ``credentials``."""
    from sqlalchemy import event

    adapter = _ADAPTERS.get(engine.dialect.driver)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        def attempt(credential: Any) -> Any:
            params = (
                adapter.parameters(credential)
                if adapter
                else {"user": credential.get("username"), "password": credential.get("password")}
            )
            return dialect.connect(*cargs, **{**cparams, **params, **overrides})

        rejected = adapter.rejected if adapter else (lambda exc: False)
        return credentials.use(attempt, rejected)
