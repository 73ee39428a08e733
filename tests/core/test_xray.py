"""X-Ray gets scrubbed errors only, and the SDK's DEBUG output carries no secret either.

The rotation runs in a child process set up as a traced Lambda container (daemon address,
trace header, task root) whose root logger is at DEBUG; a real UDP socket on 127.0.0.1 plays
the X-Ray daemon and keeps every datagram.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT
from tests.pg import pg_secret

CHILD = textwrap.dedent("""
    import json, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    from rotor.local.harness import Harness, load_handler
    import boto3
    sm = boto3.client("secretsmanager")
    handler = load_handler(sys.argv[1])
    report = Harness(sm, handler, attempts=1).rotate(sys.argv[2])
    print(json.dumps([s.error for s in report.steps]))
""")


def test_traced_failure_reaches_xray_scrubbed(pg, sm, new_secret, make_role, moto_endpoint):
    user, password = make_role(pg)
    # PostgreSQL answers 'database "<password>" does not exist': the driver's message quotes it.
    arn = new_secret(pg_secret(pg, user, password, dbname=password))
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    env = {
        **os.environ,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "rotor-test",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
        "Parent=53995c3f42cd8ad8;Sampled=1",
        "SECRETS_MANAGER_ENDPOINT": moto_endpoint,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "POWERTOOLS_TRACE_DISABLED": "false",
        "PYTHONPATH": str(ROOT / "common"),
    }
    handler = str(Path(ROOT) / "rotators" / "postgresql_single" / "app.py")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, handler, arn],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    datagrams = []
    try:
        while True:
            datagrams.append(daemon.recv(65536).decode())
    except TimeoutError:
        pass
    finally:
        daemon.close()

    assert child.returncode == 0, child.stderr[-3000:]
    errors = json.loads(child.stdout.strip().splitlines()[-1])
    assert errors[-1] is not None and "*****" in errors[-1]  # the step failed, scrubbed
    segments = [json.loads(line) for d in datagrams for line in d.splitlines()[1:]]
    failed = [s for s in segments if s.get("name") == "rotor.setSecret"]
    assert failed and failed[0]["fault"], segments  # X-Ray got the failed step...
    messages = [e["message"] for e in failed[0]["cause"]["exceptions"]]
    assert any("*****" in m for m in messages)  # ...with the scrubbed error
    assert "aws_xray_sdk" in child.stderr or "botocore" in child.stderr  # DEBUG was on
    everything = child.stdout + child.stderr + "".join(datagrams)
    assert password not in everything
