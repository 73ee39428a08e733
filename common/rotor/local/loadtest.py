"""Consumers querying a database while rotations run back to back: what rotation costs them.

Each consumer thread opens a connection per query (the worst case: every query logs in) with
either rotor's consumer helper (:mod:`rotor.client`) or a naive client (AWSCURRENT cached for a
second, read again once when a login is refused, no AWSPENDING), while the harness rotates the
secret through the rotator's real handler. Used by ``bench/downtime.py`` (full size) and by the
suite (small size).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rotor.client import Credential, SecretCredentials
from rotor.local.harness import Harness

Engine = Literal["postgresql", "mysql"]
Client = Literal["helper", "naive"]


@dataclass
class LoadResult:
    engine: str
    strategy: str
    client: str
    rotations: int
    threads: int
    queries_ok: int = 0
    queries_failed: int = 0
    seconds: float = 0.0
    rotations_failed: int = 0
    errors: list[str] = field(default_factory=list)  # a few, for the reader; no values

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class NaiveCredentials(SecretCredentials):
    """What most applications do: a cached AWSCURRENT, read again once on a refused login."""

    def after_rejection(self, rejected: Credential) -> Credential | None:
        current = self._read("AWSCURRENT", refresh=True)
        return (
            current if current is not None and current.version_id != rejected.version_id else None
        )


def _driver(engine: Engine) -> tuple[Callable[..., Any], Callable[[BaseException], bool]]:
    if engine == "postgresql":
        from rotor.client import psycopg as adapter

        def connect(credential: Credential) -> Any:
            import psycopg

            return psycopg.connect(
                **adapter.parameters(credential, sslmode="disable", connect_timeout=5)
            )
    else:
        from rotor.client import pymysql as adapter  # type: ignore[no-redef]

        def connect(credential: Credential) -> Any:
            import pymysql

            return pymysql.connect(
                **adapter.parameters(credential, ssl_disabled=True, connect_timeout=5)
            )

    return connect, adapter.rejected


def run(
    *,
    sm: Any,
    harness: Harness,
    secret_arn: str,
    engine: Engine,
    strategy: str,
    client: Client,
    rotations: int,
    threads: int = 4,
    ttl: float = 1.0,
) -> LoadResult:
    """Rotate ``secret_arn`` ``rotations`` times while ``threads`` consumers query."""
    result = LoadResult(engine, strategy, client, rotations, threads)
    connect, rejected = _driver(engine)
    cls = SecretCredentials if client == "helper" else NaiveCredentials
    credentials = cls(secret_arn, client=sm, ttl=ttl)
    stop = threading.Event()
    lock = threading.Lock()

    def query(credential: Credential) -> None:
        conn = connect(credential)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchall()
        finally:
            conn.close()

    def consume() -> None:
        while not stop.is_set():
            try:
                credentials.use(query, rejected)
                ok = True
            except Exception as exc:
                ok = False
                with lock:
                    if len(result.errors) < 5:
                        result.errors.append(type(exc).__name__ + ": " + str(exc)[:160])
            with lock:
                if ok:
                    result.queries_ok += 1
                else:
                    result.queries_failed += 1

    workers = [threading.Thread(target=consume, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.2)  # consumers warm, caches filled
        for _ in range(rotations):
            if not harness.rotate(secret_arn).succeeded:
                result.rotations_failed += 1
        time.sleep(0.2)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    result.seconds = round(time.perf_counter() - started, 2)
    return result
