"""What rotation costs applications: failed queries while rotations run back to back.

    .venv/bin/python bench/downtime.py [--rotations 50] [--threads 4]

For PostgreSQL and MariaDB (private servers, password authentication), single user,
alternating users and (MariaDB) dual passwords, consumer threads open a connection per query
through rotor's helper (rotor.client) and through a naive client (AWSCURRENT cached for 1 s,
read again once on a refused login), while the rotator's real handler rotates the secret back
to back through the local harness and a moto server on 127.0.0.1. Prints one JSON object per
run: engine, strategy, client, rotations, queries_ok, queries_failed (and seconds, threads,
rotations_failed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rotations", type=int, default=50, help="rotations per run")
    parser.add_argument("--threads", type=int, default=4, help="consumer threads per run")
    args = parser.parse_args()
    os.environ.update(POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="ERROR")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from rotor.local import loadtest
    from rotor.local.demo import local_secrets_manager
    from rotor.local.harness import Harness, load_handler
    from rotor.local.servers import MariaDBServer, PostgresServer

    failed = 0
    with ExitStack() as stack:
        sm = stack.enter_context(local_secrets_manager())
        servers = {
            "postgresql": stack.enter_context(PostgresServer()),
            "mysql": stack.enter_context(MariaDBServer()),
        }
        admins = {
            engine: sm.create_secret(
                Name=f"bench/{engine}/admin", SecretString=json.dumps(server.admin_secret())
            )["ARN"]
            for engine, server in servers.items()
        }
        for engine, server in servers.items():
            for strategy in ("single", "alternating", *(("dual",) if engine == "mysql" else ())):
                handler = load_handler(str(ROOT / "rotators" / f"{engine}_{strategy}" / "app.py"))
                for client in ("helper", "naive"):
                    user, password = f"load_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
                    with server.connect() as conn:
                        if engine == "postgresql":
                            conn.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'")
                        else:
                            with conn.cursor() as cursor:
                                cursor.execute(
                                    "CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password)
                                )
                    value = {
                        "engine": server.engine,
                        "host": server.host,
                        "port": server.port,
                        "username": user,
                        "password": password,
                        "ssl": False,
                    }
                    if engine == "postgresql":
                        value["dbname"] = "postgres"
                    if strategy in ("alternating", "dual"):
                        value["masterarn"] = admins[engine]
                    arn = sm.create_secret(
                        Name=f"bench/{engine}/{strategy}/{client}", SecretString=json.dumps(value)
                    )["ARN"]
                    result = loadtest.run(
                        sm=sm,
                        harness=Harness(sm, handler),
                        secret_arn=arn,
                        engine=engine,
                        strategy=strategy,  # type: ignore[arg-type]
                        client=client,
                        rotations=args.rotations,  # type: ignore[arg-type]
                        threads=args.threads,
                    )
                    print(json.dumps(result.as_dict()), flush=True)
                    failed += result.rotations_failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
