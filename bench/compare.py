"""rotor's rotators against AWS's sample rotators, on the same servers and the same moto.

    .venv/bin/python bench/compare.py [--reference DIR] [--warm 60] [--cold 15] [--json FILE]

For each rotator (PostgreSQL and MySQL, single user and alternating users) and each
implementation (rotor; with ``--reference DIR``, AWS's sample found there), it measures per
rotation: Secrets Manager calls (counted by the moto server), database connections (counted
by wrapping the driver's connect function in the process running the handler), warm wall time
(one long-lived process, many rotations), cold wall time (a fresh process per rotation:
interpreter start, handler import and the four steps, as a new Lambda container pays) and
handler import time.

How each implementation runs, as on Lambda:

- rotor: ``rotators/<name>/app.py`` with the layer ``layer/build.py`` builds (for this
  machine's Python) on ``PYTHONPATH`` of an empty virtualenv, bytecode not written (Lambda's
  /opt is read-only): the layer ships its own bytecode, as Lambda gets it.
- AWS's sample: ``DIR/<SampleDirectory>/lambda_function.py`` (the layout of
  aws-samples/aws-secrets-manager-rotation-lambdas) with ``--reference-python``, a virtualenv
  holding boto3, PyGreSQL and PyMySQL (boto3 with bytecode, as the Lambda runtime has it).

The parent process starts every rotation (RotateSecret placeholder on moto) through the local
harness and checks its end state; a child (``bench/child.py``) runs the four steps. Secrets use
``"ssl": false`` (the samples verify TLS against a CA path that exists only on Amazon Linux),
``engine`` ``mysql`` for MariaDB (the samples refuse ``mariadb``), and each implementation its
own users. Rounds are interleaved across implementations so a burst of load on the machine
hits all of them alike. Numbers compare implementations on one machine; they are not absolute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "bench" / "child.py"
ROTATORS = ("postgresql_single", "postgresql_alternating", "mysql_single", "mysql_alternating")
SAMPLES = {
    "postgresql_single": "SecretsManagerRDSPostgreSQLRotationSingleUser",
    "postgresql_alternating": "SecretsManagerRDSPostgreSQLRotationMultiUser",
    "mysql_single": "SecretsManagerRDSMySQLRotationSingleUser",
    "mysql_alternating": "SecretsManagerRDSMySQLRotationMultiUser",
}
DEFAULT_REFERENCE_PYTHON = "/tmp/awsref-venv/bin/python"  # noqa: S108 - documented location
REGION = "us-east-1"
TIMEOUT = 120.0  # seconds a child may take for one rotation before the run is abandoned


def stats(samples: list[float]) -> dict[str, float | int]:
    """Median, p90, min, max and count of a list of milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    p90 = (
        statistics.quantiles(ordered, n=10, method="inclusive")[8]
        if len(ordered) > 1
        else ordered[0]
    )
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p90": round(p90, 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }


# --- environments ----------------------------------------------------------------------------


@dataclass
class Implementation:
    """One way of running a rotator's handler: an interpreter, a path, handler files."""

    name: str
    python: str
    handlers: dict[str, str]  # rotator -> "file.py:attr"
    pythonpath: str | None = None
    warm: bool = True  # measured warm too (a bytecode variant only changes cold start)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, endpoint: str, fd: int) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": "rotor-bench",
            "SECRETS_MANAGER_ENDPOINT": endpoint,
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's /opt and /var/task are read-only
            "BENCH_FD": str(fd),
        }
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return {**env, **self.extra_env}


def build_layer(out: Path, python: str | None = None) -> Path:
    """``layer/build.py OUT`` (for ``python``, default the Lambda default); OUT/python."""
    cmd = [sys.executable, str(ROOT / "layer" / "build.py"), str(out)]
    if python:
        cmd += ["--python", python]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"layer/build.py failed: {done.stderr[-2000:]}")
    return out / "python"


def bare_python(workdir: Path) -> str:
    """An empty virtualenv of this interpreter's base: nothing on sys.path but the stdlib and
    what PYTHONPATH adds, as on Lambda (the layer is /opt/python)."""
    venv = workdir / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def rotor_handlers() -> dict[str, str]:
    return {r: f"{ROOT / 'rotators' / r / 'app.py'}:lambda_handler" for r in ROTATORS}


def reference_handlers(directory: Path) -> dict[str, str]:
    found = {}
    for rotator, sample in SAMPLES.items():
        path = directory / sample / "lambda_function.py"
        if path.is_file():
            found[rotator] = f"{path}:lambda_handler"
        else:
            print(f"compare: no {path}; {rotator} is measured for rotor only", file=sys.stderr)
    return found


# --- the moto server, counting Secrets Manager calls ------------------------------------------


def counting_moto() -> Any:
    from rotor.local.moto import LocalMoto

    class CountingMoto(LocalMoto):
        """moto on 127.0.0.1 counting Secrets Manager operations (X-Amz-Target) it serves."""

        def __init__(self) -> None:
            super().__init__()
            self.calls: Counter[str] = Counter()
            self._lock = threading.Lock()

        def start(self) -> CountingMoto:
            super().start()
            app = self._server.app

            def counted(environ: dict[str, Any], start_response: Any) -> Any:
                service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
                if service == "secretsmanager":
                    with self._lock:
                        self.calls[operation] += 1
                return app(environ, start_response)

            self._server.app = counted
            return self

        def take(self) -> Counter[str]:
            with self._lock:
                calls, self.calls = self.calls, Counter()
            return calls

    return CountingMoto()


# --- children ---------------------------------------------------------------------------------


class Child:
    """A process running one handler (``bench/child.py``), with its result pipe."""

    def __init__(
        self,
        impl: Implementation,
        rotator: str,
        endpoint: str,
        log: Path,
        args: list[str],
        python_flags: tuple[str, ...] = (),
    ) -> None:
        read, write = os.pipe()
        self.log = log
        self.started = time.perf_counter()
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [impl.python, *python_flags, str(CHILD), impl.handlers[rotator], *args],
                env=impl.env(endpoint, write),
                pass_fds=(write,),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=tempfile.gettempdir(),
            )
        os.close(write)
        self.results = os.fdopen(read, "r")

    def receive(self) -> dict[str, Any]:
        ready, _, _ = select.select([self.results], [], [], TIMEOUT)
        line = self.results.readline() if ready else ""
        if not line:
            self.close()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"benchmark child failed or timed out; its log ends:\n{tail}")
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, request: dict[str, str]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.results.close()


# --- the fixture: servers, users, secrets -----------------------------------------------------


@dataclass
class Case:
    """One secret rotated again and again by one implementation of one rotator."""

    impl: Implementation
    rotator: str
    mode: str  # "warm" or "cold"
    arn: str
    server: Any
    username: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Counter[str]] = field(default_factory=list)


class Fixture:
    def __init__(self, stack: ExitStack) -> None:
        import boto3
        from rotor.local.harness import Harness
        from rotor.local.servers import MariaDBServer, PostgresServer

        for key, value in {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            os.environ.setdefault(key, value)
        self.moto = stack.enter_context(counting_moto())
        self.sm = boto3.client(
            "secretsmanager", endpoint_url=self.moto.endpoint, region_name=REGION
        )
        self.harness = Harness(self.sm, lambda event, context: None)
        self.servers = {
            "postgresql": stack.enter_context(PostgresServer()),
            "mysql": stack.enter_context(MariaDBServer()),
        }
        self.admins = {}
        for family, server in self.servers.items():
            value = server.admin_secret()
            if family == "mysql":
                value["engine"] = "mysql"  # the samples accept mysql and aurora-mysql only
            self.admins[family] = self.sm.create_secret(
                Name=f"bench/{family}/admin", SecretString=json.dumps(value)
            )["ARN"]
        with self.servers["mysql"].connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE benchdb")
        self.users = 0

    def case(self, impl: Implementation, rotator: str, mode: str) -> Case:
        """A fresh user with one privilege, and its secret (RDS shape, plaintext)."""
        family, strategy = rotator.split("_")
        server = self.servers[family]
        self.users += 1
        user, password = f"bench_u{self.users}", os.urandom(12).hex()
        with server.connect() as conn:
            if family == "postgresql":
                conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
                conn.execute(f"GRANT pg_read_all_settings TO {user}")
            else:
                with conn.cursor() as cur:
                    cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
                    cur.execute("GRANT SELECT ON benchdb.* TO %s@'%%'", (user,))
        value: dict[str, Any] = {
            "engine": "postgres" if family == "postgresql" else "mysql",
            "host": server.host,
            "port": server.port,
            "username": user,
            "password": password,
            "ssl": False,
        }
        if family == "postgresql":
            value["dbname"] = "postgres"
        if strategy == "alternating":
            value["masterarn"] = self.admins[family]
        arn = self.sm.create_secret(
            Name=f"bench/{impl.name}/{rotator}/{mode}/{user}", SecretString=json.dumps(value)
        )["ARN"]
        return Case(impl, rotator, mode, arn, server, user)

    def start(self, case: Case) -> str:
        token = self.harness.start(case.arn)
        self.moto.take()  # the harness's own calls are not the rotation's
        return token

    def finish(self, case: Case, token: str, result: dict[str, Any]) -> None:
        """Record a rotation; fail loudly unless it succeeded and left a valid end state."""
        calls = self.moto.take()
        errors = [s for s in result["steps"] if s["error"]]
        stages = self.harness.stages(case.arn)
        # AWSPENDING left beside AWSCURRENT on the new version is tolerated, as by the service
        # (AWS's samples leave it; the next RotateSecret clears it): nowhere else.
        if (
            errors
            or "AWSCURRENT" not in stages.get(token, [])
            or any("AWSPENDING" in s for v, s in stages.items() if v != token)
        ):
            raise RuntimeError(
                f"{case.impl.name} {case.rotator} ({case.mode}): rotation failed: "
                f"{errors or stages}"
            )
        case.runs.append(result)
        case.calls.append(calls)

    def check_logins(self, case: Case) -> None:
        """AWSCURRENT logs in after all those rotations (a rotation that only moved labels
        would pass the end-state check)."""
        value = json.loads(
            self.sm.get_secret_value(SecretId=case.arn, VersionStage="AWSCURRENT")["SecretString"]
        )
        if not case.server.logs_in(value["username"], value["password"]):
            raise RuntimeError(f"{case.impl.name} {case.rotator}: AWSCURRENT does not log in")


# --- the runs ---------------------------------------------------------------------------------


def run_warm(fixture: Fixture, cases: list[Case], rotations: int, logs: Path) -> None:
    """One long-lived process per case; rounds interleaved across cases."""
    children = {}
    try:
        for case in cases:
            child = Child(
                case.impl,
                case.rotator,
                fixture.moto.endpoint,
                logs / f"warm-{case.impl.name}-{case.rotator}.log",
                ["warm"],
            )
            child.receive()  # imported and ready
            children[id(case)] = child
        for _ in range(rotations):
            for case in cases:
                token = fixture.start(case)
                child = children[id(case)]
                child.send({"arn": case.arn, "token": token})
                fixture.finish(case, token, child.receive())
    finally:
        for child in children.values():
            child.close()


def run_cold(fixture: Fixture, cases: list[Case], rotations: int, logs: Path) -> None:
    """A fresh process per rotation; rounds interleaved across cases."""
    for _ in range(rotations):
        for case in cases:
            token = fixture.start(case)
            child = Child(
                case.impl,
                case.rotator,
                fixture.moto.endpoint,
                logs / f"cold-{case.impl.name}-{case.rotator}.log",
                ["cold", case.arn, token],
            )
            result = child.receive()
            result["wall_ms"] = (result["done"] - child.started) * 1000
            result["interpreter_ms"] = (result["t0"] - child.started) * 1000
            child.close()
            fixture.finish(case, token, result)


def steps_ms(run: dict[str, Any]) -> float:
    return float(sum(s["ms"] for s in run["steps"]))


def summarise(cases: list[Case], warmup: int) -> list[dict[str, Any]]:
    """One row per (rotator, implementation), in the order of ROTATORS and of ``cases``."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        row = rows.setdefault(
            (case.rotator, case.impl.name),
            {"rotator": case.rotator, "implementation": case.impl.name},
        )
        runs = case.runs[warmup:] if case.mode == "warm" else case.runs
        calls = case.calls[warmup:] if case.mode == "warm" else case.calls
        totals = sorted({sum(c.values()) for c in calls})
        operations = Counter[str]()
        for c in calls:
            operations.update(c)
        row[case.mode] = {
            "rotations": len(runs),
            "sm_calls": totals[0] if len(totals) == 1 else totals,
            "sm_calls_by_operation": {
                k: round(v / len(calls), 2) for k, v in sorted(operations.items())
            },
            "db_connections": sorted({r["connections"] for r in runs}),
            "db_refused": sorted({r["failed_connections"] for r in runs}),
            "steps_ms": {
                s: stats([next(x["ms"] for x in r["steps"] if x["step"] == s) for r in runs])
                for s in ("createSecret", "setSecret", "testSecret", "finishSecret")
            },
        }
        if case.mode == "warm":
            row["warm"]["wall_ms"] = stats([steps_ms(r) for r in runs])
            row["warm"]["first_rotation_ms"] = round(steps_ms(case.runs[0]), 1)
        else:
            row["cold"].update(
                wall_ms=stats([r["wall_ms"] for r in runs]),
                interpreter_ms=stats([r["interpreter_ms"] for r in runs]),
                setup_ms=stats([r["setup_ms"] for r in runs]),
                import_ms=stats([r["import_ms"] for r in runs]),
                rotation_ms=stats([steps_ms(r) for r in runs]),
            )
    impls = list(dict.fromkeys(case.impl.name for case in cases))
    return sorted(
        rows.values(),
        key=lambda row: (ROTATORS.index(row["rotator"]), impls.index(row["implementation"])),
    )


def implementations(args: argparse.Namespace, workdir: Path) -> list[Implementation]:
    impls = []
    if args.rotor_layer or not args.rotor_venv:
        layer = Path(args.rotor_layer) if args.rotor_layer else None
        if layer is None:
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            print(f"compare: building the layer for Python {version}", file=sys.stderr)
            layer = build_layer(workdir / "layer", version)
        python = bare_python(workdir)
        impls.append(Implementation("rotor", python, rotor_handlers(), str(layer)))
    else:  # the development virtualenv: quick, but its site-packages is not the layer
        impls.append(Implementation("rotor", sys.executable, rotor_handlers()))
    if args.reference:
        handlers = reference_handlers(Path(args.reference))
        if not Path(args.reference_python).is_file():
            raise SystemExit(
                f"compare: no interpreter at {args.reference_python}; create it: "
                f"python3 -m venv {Path(args.reference_python).parents[1]} && "
                f"{Path(args.reference_python).parent}/pip install boto3 "
                "PyGreSQL pymysql"
            )
        impls.append(Implementation("aws-sample", args.reference_python, handlers))
    return impls


@contextmanager
def workspace(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="rotor-bench-") as tmp:
            yield Path(tmp)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement of this module, as one JSON-able dict."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="ERROR")
    wanted = args.rotators or list(ROTATORS)
    with workspace(args.workdir) as workdir, ExitStack() as stack:
        impls = implementations(args, workdir)
        logs = workdir / "logs"
        logs.mkdir(exist_ok=True)
        fixture = Fixture(stack)
        warm = [
            fixture.case(i, r, "warm") for r in wanted for i in impls if i.warm and r in i.handlers
        ]
        cold = [fixture.case(i, r, "cold") for r in wanted for i in impls if r in i.handlers]
        started = time.perf_counter()
        if args.warm:
            print(f"compare: warm, {args.warm} rotations x {len(warm)}", file=sys.stderr)
            run_warm(fixture, warm, args.warm + args.warmup, logs)
        if args.cold:
            print(f"compare: cold, {args.cold} rotations x {len(cold)}", file=sys.stderr)
            run_cold(fixture, cold, args.cold, logs)
        for case in warm + cold:
            if case.runs:
                fixture.check_logins(case)
        rows = summarise([c for c in cold + warm if c.runs], args.warmup)
        return {
            "rows": rows,
            "implementations": {
                i.name: {"python": i.python, "pythonpath": i.pythonpath, "handlers": i.handlers}
                for i in impls
            },
            "settings": {
                "warm_rotations": args.warm,
                "warmup_discarded": args.warmup,
                "cold_rotations": args.cold,
                "reference": args.reference,
                "seconds": round(time.perf_counter() - started, 1),
                "servers": {
                    "postgresql": server_version(fixture, "postgresql"),
                    "mysql": server_version(fixture, "mysql"),
                },
            },
        }


def server_version(fixture: Fixture, family: str) -> str:
    with fixture.servers[family].connect() as conn:
        if family == "postgresql":
            return str(conn.execute("SHOW server_version").fetchone()[0])
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            return str(cur.fetchone()[0])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference",
        metavar="DIR",
        help="a directory holding AWS's sample rotators (their repository's "
        "layout); measured beside rotor",
    )
    parser.add_argument(
        "--reference-python",
        default=DEFAULT_REFERENCE_PYTHON,
        help="interpreter of a virtualenv with boto3, PyGreSQL and PyMySQL "
        f"(default {DEFAULT_REFERENCE_PYTHON})",
    )
    parser.add_argument("--warm", type=int, default=60, help="warm rotations per case")
    parser.add_argument(
        "--warmup", type=int, default=2, help="first warm rotations left out of the warm statistics"
    )
    parser.add_argument("--cold", type=int, default=15, help="cold rotations per case")
    parser.add_argument("--rotators", nargs="+", choices=ROTATORS, help="default: all four")
    parser.add_argument(
        "--rotor-layer",
        metavar="DIR",
        help="run rotor from this layer (a directory holding rotor/ and its "
        "dependencies) instead of building one: e.g. a patched copy",
    )
    parser.add_argument(
        "--rotor-venv",
        action="store_true",
        help="run rotor from the development virtualenv (no layer build)",
    )
    parser.add_argument(
        "--workdir",
        help="keep layers and child logs here (default: a temporary directory, removed)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--json", type=Path, help="write the results here (default: stdout)")
    args = parser.parse_args()
    results = run(args)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
