"""`rotor demo`: real rotations on this machine, shown step by step.

Starts a private PostgreSQL cluster (password authentication, TLS from a throwaway CA) and a
moto Secrets Manager on 127.0.0.1, then rotates secrets through the rotators' real Lambda
handlers with the harness, printing each step, the stages before and after, and proof by real
logins. Passwords are shown only as short fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rotor.local.harness import Harness, RotationReport, StepResult, load_handler
from rotor.local.servers import PostgresServer, free_port
from rotor.local.tlsca import CertFiles, make_ca

ROTATORS_DIR = Path(__file__).resolve().parents[3] / "rotators"
Proof = list[tuple[str, bool]]


def fingerprint(password: str) -> str:
    return "sha256:" + hashlib.sha256(password.encode()).hexdigest()[:10]


@dataclass
class Demo:
    """What a scenario needs: the Secrets Manager client, a temp dir, the CA, an output."""

    sm: Any
    workdir: Path
    certs: CertFiles
    out: TextIO
    stack: ExitStack
    failures: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def create_secret(self, name: str, value: dict[str, Any]) -> str:
        name = f"{name}-{uuid.uuid4().hex[:6]}"
        return str(self.sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])

    def value(self, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
        response = self.sm.get_secret_value(SecretId=arn, VersionStage=stage)
        return dict(json.loads(response["SecretString"]))

    def show_stages(self, label: str, stages: dict[str, list[str]]) -> None:
        shown = ", ".join(f"{v[:8]}…={'+'.join(s)}" for v, s in stages.items() if s)
        self.say(f"    stages {label}: {shown}")

    def rotate(
        self, rotator: str, arn: str, prove: Callable[[dict[str, Any], dict[str, Any]], Proof]
    ) -> RotationReport:
        """Rotate ``arn`` with rotators/<rotator>/app.py and print what happened."""
        handler = load_handler(str(ROTATORS_DIR / rotator / "app.py"))

        def show(step: StepResult) -> None:
            mark = "ok" if step.error is None else f"FAILED: {step.error}"
            self.say(f"    {step.step:<13} {step.seconds * 1000:7.1f} ms  {mark}")

        before = self.value(arn)
        harness = Harness(self.sm, handler, on_step=show)
        stages = harness.stages(arn)
        self.show_stages("before", stages)
        report = harness.rotate(arn)
        self.show_stages("after ", report.after)
        after = self.value(arn)
        self.say(f"    {before['username']} {fingerprint(before['password'])}  ->  "
                 f"{after['username']} {fingerprint(after['password'])}"
                 f"   ({report.seconds * 1000:.0f} ms in all)")
        checks = [("rotation reached a valid end state", report.succeeded), *prove(before, after)]
        for text, ok in checks:
            self.say(f"    {'✔' if ok else '✘'} {text}")
            if not ok:
                self.failures.append(text)
        return report


def _pg_logs_in(server: PostgresServer, value: dict[str, Any]) -> bool:
    import psycopg

    try:
        server.connect(value["username"], value["password"]).close()
    except psycopg.OperationalError:
        return False
    return True


def postgresql(demo: Demo) -> None:
    demo.say("\n== PostgreSQL ==")
    server = demo.stack.enter_context(PostgresServer(certs=demo.certs))
    demo.say(f"  private PostgreSQL on {server.host}:{server.port}: scram-sha-256 passwords, "
             "TLS only (verify-full against the demo CA)")
    with server.connect() as conn:
        conn.execute("CREATE ROLE app_single LOGIN PASSWORD 'initial-Password-1'")
        conn.execute("CREATE ROLE app_multi LOGIN PASSWORD 'initial-Password-2'")
    base = {"engine": "postgres", "host": server.host, "port": server.port, "dbname": "postgres"}

    demo.say("\n  -- single user: app_single changes its own password --")
    arn = demo.create_secret("demo/postgresql/single",
                             {**base, "username": "app_single", "password": "initial-Password-1"})
    demo.rotate("postgresql_single", arn, lambda old, new: [
        ("the new password logs in", _pg_logs_in(server, new)),
        ("the old password is rejected", not _pg_logs_in(server, old)),
    ])

    demo.say("\n  -- alternating users: the admin switches app_multi and app_multi_clone --")
    admin = demo.create_secret("demo/postgresql/admin", server.admin_secret())
    arn = demo.create_secret("demo/postgresql/alternating", {
        **base, "username": "app_multi", "password": "initial-Password-2", "masterarn": admin})
    for _ in range(2):
        demo.rotate("postgresql_alternating", arn, lambda old, new: [
            (f"the new user {new['username']} logs in", _pg_logs_in(server, new)),
            (f"the previous user {old['username']} still logs in (AWSPREVIOUS)",
             _pg_logs_in(server, old)),
        ])


SCENARIOS: list[Callable[[Demo], None]] = [postgresql]


@contextmanager
def local_secrets_manager() -> Iterator[Any]:
    """A moto Secrets Manager server on 127.0.0.1, with the handlers pointed at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    from rotor import secrets as rotor_secrets

    for key, value in {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["SECRETS_MANAGER_ENDPOINT"] = endpoint
    rotor_secrets.reset_client()
    try:
        yield boto3.client("secretsmanager", endpoint_url=endpoint)
    finally:
        server.stop()


def run(out: TextIO, scenarios: list[Callable[[Demo], None]] | None = None) -> int:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="rotor-demo-") as tmp:
        workdir = Path(tmp)
        certs = make_ca(workdir / "ca")
        os.environ["ROTOR_CA_BUNDLE"] = str(certs.ca)
        sm = stack.enter_context(local_secrets_manager())
        demo = Demo(sm, workdir, certs, out, stack)
        demo.say(f"rotor demo: Secrets Manager (moto) at {os.environ['SECRETS_MANAGER_ENDPOINT']}"
                 f", test CA at {certs.ca}")
        for scenario in scenarios or SCENARIOS:
            scenario(demo)
        demo.say("")
        if demo.failures:
            demo.say(f"FAILED: {len(demo.failures)} check(s) did not hold.")
            return 1
        demo.say("All rotations succeeded and every check held.")
        return 0
