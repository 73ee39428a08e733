"""``rotor rotate-all`` over 1,000 secrets in a local Secrets Manager: rotations per second
achieved against the configured rate, throttling seen, API calls per rotation.

    .venv/bin/python bench/rotate_all.py [--secrets 1000] [--seconds 4]

A moto server on 127.0.0.1 holds the secrets, rotation configured; the command runs in this
process through its service path (RotateSecret, then DescribeSecret until the new version is
AWSCURRENT: moto completes a rotation at once, so this measures the command, not a rotation
function). Runs at --rate 5, 10 and 16 straight to moto, each over the secrets it can start in
about --seconds; at 50/s over all of them; then at 50/s over all of them again through the
throttling proxy enforcing Secrets Manager's quotas (RotateSecret 50/s; writes 50/s shared,
three per rotation charged to RotateSecret: a ceiling near 16 rotations/s). Prints one JSON
object per run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import uuid
from typing import Any

RATES = (5.0, 10.0, 16.0, 50.0)


def rotate_all(endpoint: str, prefix: str, rate: float, concurrency: int) -> dict[str, Any]:
    """The command, in this process, as a user runs it; its JSON report."""
    from rotor.cli import main

    out = io.StringIO()
    argv = ["rotate-all", "--prefix", prefix, "--rate", f"{rate:g}", "--output", "json"]
    argv += ["--concurrency", str(concurrency), "--endpoint-url", endpoint]
    with contextlib.redirect_stdout(out):
        code = main(argv)
    doc = json.loads(out.getvalue())
    doc["exit_code"] = code
    return doc


def row(doc: dict[str, Any], *, quotas: bool) -> dict[str, Any]:
    totals = doc["totals"]
    calls = sum(totals["calls"].values())
    return {
        "rate": doc["settings"]["rate"],
        "concurrency": doc["settings"]["concurrency"],
        "quotas": quotas,
        "secrets": totals["selected"],
        "rotated": totals["rotated"],
        "seconds": totals["elapsed_seconds"],
        "per_second": totals["rotations_per_second"],
        "throttled_calls": totals["throttled_calls"],
        "calls_per_rotation": round(calls / max(1, totals["rotated"]), 2),
        "exit_code": doc["exit_code"],
    }


def _report(doc: dict[str, Any], quotas: bool = False) -> None:
    print(json.dumps(row(doc, quotas=quotas)), flush=True)


def _note(text: str) -> None:
    print(f"rotate-all bench: {text}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secrets", type=int, default=1000, help="secrets in the largest runs")
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="about how long a slow-rate run lasts"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="rotate-all --concurrency")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    import boto3
    from rotor.local.fleet import configure_all, make_fleet
    from rotor.local.moto import LocalMoto
    from rotor.local.throttling_proxy import Quotas, ThrottlingProxy

    with LocalMoto() as moto:
        sm = boto3.client("secretsmanager", endpoint_url=moto.endpoint, region_name="us-east-1")
        base = f"bench-{uuid.uuid4().hex[:6]}/"
        began = time.perf_counter()
        for rate in RATES[:-1]:  # a small fleet of its own per slow rate
            make_fleet(sm, f"{base}r{rate:g}-", int(rate * args.seconds))
        fleet = make_fleet(sm, f"{base}all-", args.secrets)
        _note(f"{args.secrets} secrets and the slow runs' in {time.perf_counter() - began:.0f} s")
        for rate in RATES[:-1]:
            _report(rotate_all(moto.endpoint, f"{base}r{rate:g}-", rate, args.concurrency))
        _report(rotate_all(moto.endpoint, f"{base}all-", RATES[-1], args.concurrency))
        began = time.perf_counter()
        configure_all(sm, fleet)  # moto forgets the function of a secret it rotated
        _note(f"rotation configured again in {time.perf_counter() - began:.0f} s")
        with ThrottlingProxy(moto.endpoint, Quotas()) as proxy:
            doc = rotate_all(proxy.endpoint, f"{base}all-", RATES[-1], args.concurrency)
        _report(doc, quotas=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
