"""Measure a rotation: wall time, Secrets Manager calls, database connections, import time.

    .venv/bin/python bench/rotation.py [--rotations 20]

Runs against private PostgreSQL and MariaDB servers (real password authentication) and a moto
server on 127.0.0.1, with
the rotators' real handlers in one warm process (as Lambda reuses a container). Prints one JSON
object per rotator. Numbers are for comparison on the same machine, not absolute.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def import_ms(handler: Path, runs: int = 5) -> float:
    """Median time for a fresh interpreter to import a handler module (cold start share)."""
    code = (f"import sys, time; sys.path.insert(0, {str(handler.parent)!r}); "
            "t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)")
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true"}
    samples = [float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True))
               for _ in range(runs)]
    return round(statistics.median(samples), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rotations", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from contextlib import ExitStack

    from rotor import secrets as rotor_secrets
    from rotor.databases import AlternatingUsers, SingleUser
    from rotor.databases.mysql import MySQL
    from rotor.databases.postgresql import PostgreSQL
    from rotor.local.demo import local_secrets_manager
    from rotor.local.harness import Harness
    from rotor.local.servers import MariaDBServer, PostgresServer

    connections = 0

    def counting(engine_cls: type) -> Any:
        class Counting(engine_cls):  # type: ignore[valid-type,misc]
            def connect(self, *a: Any, **k: Any) -> Any:
                nonlocal connections
                connections += 1
                return super().connect(*a, **k)
        return Counting()

    with ExitStack() as stack:
        sm = stack.enter_context(local_secrets_manager())
        pg = stack.enter_context(PostgresServer())
        my = stack.enter_context(MariaDBServer())
        calls: list[str] = []
        rotor_secrets.client().meta.events.register(
            "before-call.secrets-manager", lambda model, **_: calls.append(model.name))
        with pg.connect() as conn:
            conn.execute("CREATE ROLE bench1 LOGIN PASSWORD 'bench-password-1'")
            conn.execute("CREATE ROLE bench2 LOGIN PASSWORD 'bench-password-2'")
        with my.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER 'bench1'@'%' IDENTIFIED BY 'bench-password-1'")
            cur.execute("CREATE USER 'bench2'@'%' IDENTIFIED BY 'bench-password-2'")
        cases = []
        for family, server, engine in (("postgresql", pg, PostgreSQL), ("mysql", my, MySQL)):
            admin = sm.create_secret(Name=f"admin-{family}",
                                     SecretString=json.dumps(server.admin_secret()))["ARN"]
            base = {k: v for k, v in server.admin_secret().items()
                    if k not in ("username", "password")}
            cases += [
                (f"{family}_single", SingleUser, engine,
                 {**base, "username": "bench1", "password": "bench-password-1"}),
                (f"{family}_alternating", AlternatingUsers, engine,
                 {**base, "username": "bench2", "password": "bench-password-2",
                  "masterarn": admin}),
            ]
        for name, strategy, engine, value in cases:
            arn = sm.create_secret(Name=f"bench-{name}", SecretString=json.dumps(value))["ARN"]
            rotator = strategy(counting(engine))
            harness = Harness(sm, rotator.handler)
            walls, sm_calls, conns = [], [], []
            for _ in range(args.rotations):
                token = harness.start(arn)  # the harness's own calls use its own client
                calls.clear()
                connections = 0
                started = time.perf_counter()
                report = harness.resume(arn, token)
                walls.append((time.perf_counter() - started) * 1000)
                assert report.succeeded, report.steps
                sm_calls.append(len(calls))
                conns.append(connections)
            print(json.dumps({
                "rotator": name,
                "rotations": args.rotations,
                "wall_ms_median": round(statistics.median(walls), 1),
                "secretsmanager_calls": max(sm_calls),
                "db_connections": max(conns),
                "handler_import_ms": import_ms(ROOT / "rotators" / name / "app.py"),
            }))


if __name__ == "__main__":
    main()
