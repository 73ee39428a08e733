"""The service retrying over a slow invocation: the same step of one token runs twice at once.
Whatever the two do to each other, a retry converges and AWSCURRENT keeps working.

setSecret, testSecret and finishSecret run in two threads of one process (a warm container
each would behave alike: the pending value is already written). createSecret runs in two
fresh processes, as two containers would: moto, unlike Secrets Manager, lets the second
PutSecretValue of one token replace the first value, so one shared cache could not stand in.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from rotor import secrets as rotor_secrets
from rotor.local.harness import STEPS

from tests.conftest import ROOT
from tests.helpers import secret_value, stages
from tests.mysql.support import my_secret
from tests.pg import pg_secret

CHILD = """
import sys
from rotor.local.harness import Harness, load_handler
import boto3
handler = load_handler(sys.argv[1])
Harness(boto3.client("secretsmanager", endpoint_url=sys.argv[4]), handler).invoke(
    sys.argv[2], sys.argv[3], "createSecret")
"""


def twice_at_once(step, harness, arn, token, moto_endpoint, handler_path):
    if step == "createSecret":
        env = {"SECRETS_MANAGER_ENDPOINT": moto_endpoint, "PYTHONPATH": str(ROOT / "common")}
        import os

        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, handler_path, arn, token, moto_endpoint],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        for proc in procs:
            proc.wait(timeout=120)
        return
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        harness.invoke(arn, token, step)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    ("engine", "strategy"),
    [
        ("postgresql", "single"),
        ("postgresql", "alternating"),
        ("mysql", "single"),
        ("mysql", "alternating"),
    ],
)
def test_a_step_invoked_twice_at_once_converges(
    pg,
    mdb,
    sm,
    harness,
    new_secret,
    make_role,
    make_user,
    admin_arn,
    moto_endpoint,
    engine,
    strategy,
    step,
):
    server = pg if engine == "postgresql" else mdb
    if engine == "postgresql":
        user, password = make_role(pg)
        extra = {"masterarn": admin_arn} if strategy == "alternating" else {}
        arn = new_secret(pg_secret(pg, user, password, **extra))
    else:
        user, password = make_user(mdb)
        extra = {"masterarn": new_secret(mdb.admin_secret())} if strategy == "alternating" else {}
        arn = new_secret(my_secret(mdb, user, password, **extra))
    name = f"{engine}_{strategy}"
    h = harness(name)
    for _ in range(2 if strategy == "alternating" else 0):  # the clone exists: both directions
        assert h.rotate(arn).succeeded
    token = h.start(arn)
    for done in STEPS[: STEPS.index(step)]:
        assert h.invoke(arn, token, done).error is None
    twice_at_once(step, h, arn, token, moto_endpoint, str(ROOT / "rotators" / name / "app.py"))
    current = secret_value(sm, arn)
    if strategy == "alternating":  # AWSCURRENT works at every moment
        assert server.logs_in(current["username"], current["password"])
    rotor_secrets.reset_client()  # the service's retry may land in a fresh container
    retried = h.resume(arn, token)
    assert retried.succeeded, retried.steps
    current = secret_value(sm, arn)
    assert server.logs_in(current["username"], current["password"])
    assert stages(sm, arn)[token] == ["AWSCURRENT"]
