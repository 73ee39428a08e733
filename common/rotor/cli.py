"""The `rotor` command: see and test rotations on this machine before deploying them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rotor.local.demo import ROTATORS_DIR


def _quiet_handlers(verbose: bool) -> None:
    """Handlers log JSON for CloudWatch; a person at a terminal wants the summary."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request log
    if not verbose:
        from rotor.observability import logger

        logger.setLevel(logging.WARNING)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


def _handler_spec(args: argparse.Namespace) -> str:
    if args.handler:
        return str(args.handler)
    path = ROTATORS_DIR / args.rotator.replace("-", "_") / "app.py"
    if not path.is_file():
        known = ", ".join(sorted(p.parent.name for p in ROTATORS_DIR.glob("*/app.py")))
        raise SystemExit(f"rotor: no rotator '{args.rotator}' (known: {known}).")
    return f"{path}:lambda_handler"


def _client(endpoint: str | None, region: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region)


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_handlers(args.verbose)
    from rotor.local import demo

    return demo.run(sys.stdout)


def cmd_rotate(args: argparse.Namespace) -> int:
    _quiet_handlers(args.verbose)
    from rotor.local.harness import Harness, HarnessError, StepResult, load_handler

    if not args.endpoint_url:
        raise SystemExit("rotor: --endpoint-url (a moto server, e.g. `rotor moto-server`) "
                         "is required: the harness never calls real AWS.")
    os.environ["SECRETS_MANAGER_ENDPOINT"] = args.endpoint_url
    os.environ.setdefault("AWS_DEFAULT_REGION", args.region)
    sm = _client(args.endpoint_url, args.region)

    def show(step: StepResult) -> None:
        status = "ok" if step.error is None else f"FAILED: {step.error}"
        print(f"attempt {step.attempt}  {step.step:<13} {step.seconds * 1000:7.1f} ms  {status}")

    harness = Harness(sm, load_handler(_handler_spec(args)), attempts=args.attempts,
                      on_step=show)
    try:
        report = harness.rotate(args.secret_id)
    except HarnessError as exc:
        print(f"rotor: {exc}", file=sys.stderr)
        return 2
    for version, stages in report.after.items():
        if stages:
            print(f"{version}  {' '.join(stages)}")
    print("rotation succeeded" if report.succeeded else "rotation FAILED")
    return 0 if report.succeeded else 1


def cmd_stages(args: argparse.Namespace) -> int:
    if not args.endpoint_url:
        raise SystemExit("rotor: --endpoint-url is required (a moto server, e.g. "
                         "`rotor moto-server`).")
    sm = _client(args.endpoint_url, args.region)
    meta = sm.describe_secret(SecretId=args.secret_id)
    print(f"{meta['Name']}  rotation enabled: {bool(meta.get('RotationEnabled'))}")
    for version, stages in meta.get("VersionIdsToStages", {}).items():
        print(f"{version}  {' '.join(stages) or '-'}")
    return 0


def cmd_moto_server(args: argparse.Namespace) -> int:
    import threading

    from rotor.local.moto import LocalMoto

    try:
        moto = LocalMoto(port=args.port).start()
    except OSError as exc:
        print(f"rotor: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"moto Secrets Manager on {moto.endpoint} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        moto.stop()
    return 0


def cmd_rotators(args: argparse.Namespace) -> int:
    for path in sorted(ROTATORS_DIR.glob("*/app.py")):
        doc = (path.read_text().split('"""')[1:2] or [""])[0].strip().splitlines()
        print(f"{path.parent.name.replace('_', '-'):<26} {doc[0] if doc else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rotor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run real rotations locally and show each step")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the handlers' logs")
    demo.set_defaults(func=cmd_demo)

    rotate = sub.add_parser("rotate", help="rotate a secret in a moto Secrets Manager")
    rotate.add_argument("secret_id")
    which = rotate.add_mutually_exclusive_group(required=True)
    which.add_argument("--rotator", help="a folder of rotators/, e.g. postgresql-single")
    which.add_argument("--handler", type=Path, help="path/to/app.py[:function] of your own")
    rotate.add_argument("--endpoint-url", default=os.environ.get("SECRETS_MANAGER_ENDPOINT"))
    rotate.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    rotate.add_argument("--attempts", type=int, default=3, help="whole-rotation retries")
    rotate.add_argument("-v", "--verbose", action="store_true")
    rotate.set_defaults(func=cmd_rotate)

    stages = sub.add_parser("stages", help="show a secret's versions and their labels")
    stages.add_argument("secret_id")
    stages.add_argument("--endpoint-url", default=os.environ.get("SECRETS_MANAGER_ENDPOINT"))
    stages.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    stages.set_defaults(func=cmd_stages)

    server = sub.add_parser("moto-server", help="run a moto Secrets Manager on 127.0.0.1")
    server.add_argument("--port", type=int, default=5000)
    server.set_defaults(func=cmd_moto_server)

    sub.add_parser("rotators", help="list the rotators").set_defaults(func=cmd_rotators)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
