"""`rotor demo`: real rotations on this machine, shown step by step.

Starts private PostgreSQL and MariaDB servers (password authentication, TLS from a throwaway
CA) and a moto Secrets Manager on 127.0.0.1, then rotates secrets through the rotators' real Lambda
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
from rotor.local.moto import LocalMoto
from rotor.local.rotators import ROTATORS_DIR
from rotor.local.servers import (
    LocalServer,
    MariaDBServer,
    PostgresServer,
    ServerNotInstalled,
    mariadb_binaries,
)
from rotor.local.tlsca import CertFiles, make_ca

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
        self.say(
            f"    {_login(before)}  ->  {_login(after)}   ({report.seconds * 1000:.0f} ms in all)"
        )
        checks = [("rotation reached a valid end state", report.succeeded), *prove(before, after)]
        for text, ok in checks:
            self.say(f"    {'✔' if ok else '✘'} {text}")
            if not ok:
                self.failures.append(text)
        return report


def _login(value: dict[str, Any]) -> str:
    """A credential as a person may see it: who, and a fingerprint of the secret part."""
    if "password" in value:
        return f"{value['username']} {fingerprint(value['password'])}"
    return f"key {value.get('key_id', '?')} {fingerprint(value.get('api_key', ''))}"


def _databases(
    demo: Demo, server: LocalServer, family: str, base: dict[str, Any], alternations: int
) -> None:
    """The two strategies against one server: a user ``app_single`` and ``app_multi``."""
    logs_in = server.logs_in
    demo.say("\n  -- single user: app_single changes its own password --")
    arn = demo.create_secret(
        f"demo/{family}/single",
        {**base, "username": "app_single", "password": "initial-Password-1"},
    )
    demo.rotate(
        f"{family}_single",
        arn,
        lambda old, new: [
            ("the new password logs in", logs_in(new["username"], new["password"])),
            ("the old password is rejected", not logs_in(old["username"], old["password"])),
        ],
    )
    demo.say(
        "\n  -- alternating users: the admin switches app_multi and app_multi_clone, "
        "whose privileges follow app_multi --"
    )
    admin = demo.create_secret(f"demo/{family}/admin", server.admin_secret())
    arn = demo.create_secret(
        f"demo/{family}/alternating",
        {**base, "username": "app_multi", "password": "initial-Password-2", "masterarn": admin},
    )
    for _ in range(alternations):
        demo.rotate(
            f"{family}_alternating",
            arn,
            lambda old, new: [
                (
                    f"the new user {new['username']} logs in",
                    logs_in(new["username"], new["password"]),
                ),
                (
                    f"the previous user {old['username']} still logs in (AWSPREVIOUS)",
                    logs_in(old["username"], old["password"]),
                ),
            ],
        )


def postgresql(demo: Demo) -> None:
    demo.say("\n== PostgreSQL ==")
    server = demo.stack.enter_context(PostgresServer(certs=demo.certs))
    demo.say(
        f"  private PostgreSQL on {server.host}:{server.port}: scram-sha-256 passwords, "
        "TLS only (verify-full against the demo CA)"
    )
    with server.connect() as conn:
        conn.execute("CREATE ROLE app_single LOGIN PASSWORD 'initial-Password-1'")
        conn.execute("CREATE ROLE app_multi LOGIN PASSWORD 'initial-Password-2'")
    base = {"engine": "postgres", "host": server.host, "port": server.port, "dbname": "postgres"}
    _databases(demo, server, "postgresql", base, alternations=2)


def mysql(demo: Demo) -> None:
    demo.say("\n== MySQL family (MariaDB here) ==")
    try:
        mariadb_binaries()
    except ServerNotInstalled as missing:
        demo.say(f"  skipped: {missing}")
        return
    server = demo.stack.enter_context(MariaDBServer(certs=demo.certs))
    demo.say(
        f"  private MariaDB on {server.host}:{server.port}: TLS required (verified "
        "against the demo CA)"
    )
    with server.connect() as conn, conn.cursor() as cur:
        for user, password in (
            ("app_single", "initial-Password-1"),
            ("app_multi", "initial-Password-2"),
        ):
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (user, password))
        cur.execute("CREATE DATABASE demo_app")
        cur.execute("GRANT SELECT, INSERT ON demo_app.* TO 'app_multi'@'%'")
    _databases(
        demo,
        server,
        "mysql",
        {"engine": "mariadb", "host": server.host, "port": server.port},
        alternations=1,
    )


def api_keys(demo: Demo) -> None:
    from rotor.local.fakeproviders import SENDGRID_ADMIN_SCOPES, FakeSendGrid

    demo.say("\n== API keys (a SendGrid-compatible API on 127.0.0.1) ==")
    api = demo.stack.enter_context(FakeSendGrid())
    admin = api.add_key("rotor-admin", scopes=SENDGRID_ADMIN_SCOPES)
    first = api.add_key("payments", scopes=["mail.send"])
    demo.say(f"  fake SendGrid at {api.base_url}; the admin key lives in its own secret")
    # The endpoint and the provider live with the admin key: the admin credential goes nowhere
    # else. A new key gets at most the scopes of the key it replaces.
    admin_arn = demo.create_secret(
        "demo/sendgrid/admin",
        {
            "provider": "sendgrid",
            "api_key": admin.secret,
            "base_url": api.base_url,
            "allowed_scopes": ["mail.send"],
        },
    )
    arn = demo.create_secret(
        "demo/sendgrid/payments",
        {
            "provider": "sendgrid",
            "api_key": first.secret,
            "key_id": first.key_id,
            "adminarn": admin_arn,
            "scopes": ["mail.send"],
        },
    )
    generations = [first.secret]
    for _ in range(3):
        demo.say("")
        demo.rotate(
            "apikey",
            arn,
            lambda old, new: [
                ("the new key works", api.works(new["api_key"])),
                ("the previous key still works (AWSPREVIOUS)", api.works(old["api_key"])),
                (
                    "the new key has the old key's scopes, no more",
                    [k.scopes for k in api.live_keys() if k.key_id == new["key_id"]]
                    == [["mail.send"]],
                ),
                *(
                    [
                        (
                            "the key from the generation before is revoked",
                            not api.works(generations[-2]),
                        )
                    ]
                    if len(generations) > 1
                    else []
                ),
            ],
        )
        generations.append(demo.value(arn)["api_key"])


SCENARIOS: list[Callable[[Demo], None]] = [postgresql, mysql, api_keys]


@contextmanager
def local_secrets_manager() -> Iterator[Any]:
    """A moto Secrets Manager server on 127.0.0.1, with the handlers pointed at it while it
    runs (the environment and rotor's client are put back afterwards)."""
    import boto3

    from rotor import secrets as rotor_secrets

    saved = {
        key: os.environ.get(key)
        for key in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "SECRETS_MANAGER_ENDPOINT",
        )
    }
    for key, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    try:
        with LocalMoto() as moto:
            os.environ["SECRETS_MANAGER_ENDPOINT"] = moto.endpoint
            rotor_secrets.reset_client()
            yield boto3.client("secretsmanager", endpoint_url=moto.endpoint)
    finally:
        for key, before in saved.items():
            if before is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before
        rotor_secrets.reset_client()


def run(out: TextIO, scenarios: list[Callable[[Demo], None]] | None = None) -> int:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="rotor-demo-") as tmp:
        workdir = Path(tmp)
        certs = make_ca(workdir / "ca")
        saved_ca = os.environ.get("ROTOR_CA_BUNDLE")
        os.environ["ROTOR_CA_BUNDLE"] = str(certs.ca)
        stack.callback(
            lambda: (
                os.environ.pop("ROTOR_CA_BUNDLE", None)
                if saved_ca is None
                else os.environ.__setitem__("ROTOR_CA_BUNDLE", saved_ca)
            )
        )
        sm = stack.enter_context(local_secrets_manager())
        demo = Demo(sm, workdir, certs, out, stack)
        demo.say(
            f"rotor demo: Secrets Manager (moto) at {os.environ['SECRETS_MANAGER_ENDPOINT']}"
            f", test CA at {certs.ca}"
        )
        for scenario in scenarios or SCENARIOS:
            scenario(demo)
        demo.say("")
        if demo.failures:
            demo.say(f"FAILED: {len(demo.failures)} check(s) did not hold.")
            return 1
        demo.say("All rotations succeeded and every check held.")
        return 0
