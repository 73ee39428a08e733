"""Credentials from a rotated secret, for application code: no query fails because of rotation.

A rotation replaces a credential; an application that read the old one keeps using it until it
fails. :class:`SecretCredentials` serves the secret's AWSCURRENT value from a cache (one
Secrets Manager read per TTL, however many threads ask), and when the service rejects it,
:meth:`SecretCredentials.after_rejection` gives the one credential worth trying next:

- AWSCURRENT read again, if it changed (the rotation finished since it was cached; with
  alternating users that is also a new user name);
- else AWSPENDING, if there is one (single-user rotation: between setSecret and finishSecret
  the database already accepts only the new password).

The adapters do that dance for a driver: :func:`rotor.client.psycopg.connect`,
:func:`rotor.client.pymysql.connect`, :func:`rotor.client.sqlalchemy.attach` and
:class:`rotor.client.apikeys.ApiKey`. Only boto3 is needed (``pip install rotor``); nothing of
the rotation side is imported. Values never reach a log: only secret ids and version ids do.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger("rotor.client")
CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
_T = TypeVar("_T")


class CredentialsError(Exception):
    """The secret cannot be read or is not a JSON object. Never carries a value."""


@dataclass(frozen=True, repr=False)
class Credential:
    """One version of the secret: its id, its stage and its JSON value."""

    version_id: str
    stage: str
    value: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.value[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def __repr__(self) -> str:  # the value is a credential: never shown
        return f"Credential(version_id={self.version_id!r}, stage={self.stage!r})"


@dataclass
class _Flight:
    """One read in progress; the threads that ask meanwhile wait for its result."""

    done: threading.Event = field(default_factory=threading.Event)
    result: Credential | None = None
    error: BaseException | None = None


class SecretCredentials:
    """A rotated secret's credentials for one application, cached and refreshed on demand.

    ``ttl`` bounds how stale a served value may be (seconds); a rejection refreshes at once.
    ``client`` is a boto3 Secrets Manager client (default: ``boto3.client("secretsmanager")``,
    created on first use, which honours ``AWS_ENDPOINT_URL_SECRETS_MANAGER``).
    """

    def __init__(
        self,
        secret_id: str,
        *,
        ttl: float = 300.0,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self.ttl = ttl
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credential | None = None
        self._fetched_at = 0.0
        self._flights: dict[str, _Flight] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    # --- reading --------------------------------------------------------------------------
    def current(self) -> Credential:
        """AWSCURRENT, from the cache while it is fresh."""
        with self._lock:
            cached, age = self._cached, self._clock() - self._fetched_at
        if cached is not None and age < self.ttl:
            return cached
        found = self._read(CURRENT)
        assert found is not None  # AWSCURRENT always exists
        return found

    def after_rejection(self, rejected: Credential) -> Credential | None:
        """The credential to try once ``rejected`` was refused, or ``None`` (nothing else
        could work: the failure is real). Reads AWSCURRENT again (one read however many
        threads ask), then AWSPENDING only if AWSCURRENT did not change, then AWSCURRENT once
        more if there was no AWSPENDING (the rotation may have finished in between)."""
        with self._lock:
            cached = self._cached
        if cached is not None and cached.version_id != rejected.version_id:
            return cached  # another thread refreshed already
        current = self._read(CURRENT, refresh=True)
        if current is not None and current.version_id != rejected.version_id:
            log.info(
                "Secret %s: AWSCURRENT moved to version %s", self.secret_id, current.version_id
            )
            return current
        pending = self._read(PENDING)
        if pending is not None and pending.version_id != rejected.version_id:
            log.info(
                "Secret %s: trying AWSPENDING (version %s), which the service may already accept",
                self.secret_id,
                pending.version_id,
            )
            return pending
        # No AWSPENDING: the rotation may have finished between the two reads.
        current = self._read(CURRENT, refresh=True)
        if current is not None and current.version_id != rejected.version_id:
            return current
        return None

    def _read(self, stage: str, refresh: bool = False) -> Credential | None:
        """One GetSecretValue per stage at a time: concurrent callers share its answer."""
        with self._lock:
            flight = self._flights.get(stage)
            leader = flight is None
            if leader:
                flight = self._flights[stage] = _Flight()
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise CredentialsError(str(flight.error)) from None
            return flight.result
        try:
            flight.result = self._fetch(stage)
            if stage == CURRENT and flight.result is not None:
                with self._lock:
                    self._cached, self._fetched_at = flight.result, self._clock()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(stage, None)
            flight.done.set()

    def _fetch(self, stage: str) -> Credential | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_secret_value(SecretId=self.secret_id, VersionStage=stage)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if stage == PENDING and code == "ResourceNotFoundException":
                return None  # no rotation in progress
            raise CredentialsError(
                f"Secret {self.secret_id} ({stage}) cannot be read ({code}); check the id and "
                "that this application may read it."
            ) from None
        try:
            value = json.loads(answer.get("SecretString") or "")
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise CredentialsError(f"Secret {self.secret_id} ({stage}) is not a JSON object.")
        return Credential(str(answer["VersionId"]), stage, value)

    # --- using ----------------------------------------------------------------------------
    def use(
        self, attempt: Callable[[Credential], _T], rejected: Callable[[BaseException], bool]
    ) -> _T:
        """``attempt(credential)`` with AWSCURRENT; if it raises an error ``rejected`` says is
        a refused credential, once more with :meth:`after_rejection`'s credential."""
        credential = self.current()
        try:
            return attempt(credential)
        except Exception as exc:
            if not rejected(exc):
                raise
            fallback = self.after_rejection(credential)
            if fallback is None:
                raise
            log.info(
                "Secret %s: version %s was rejected; retrying with version %s",
                self.secret_id,
                credential.version_id,
                fallback.version_id,
            )
        result = attempt(fallback)
        if fallback.stage == PENDING:  # accepted: serve it until the rotation moves the label
            with self._lock:
                self._cached, self._fetched_at = fallback, self._clock()
        return result


__all__ = ["Credential", "CredentialsError", "SecretCredentials"]
