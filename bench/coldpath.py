"""Where a cold rotation's milliseconds go, for rotor; and what layer variants save.

    .venv/bin/python bench/coldpath.py [--runs 10] [--rotators postgresql_single ...]
        [--rotor-layer DIR] [--variant NAME=DIR ...] [--tracing] [--json FILE]

A cold rotation (a fresh process: interpreter start, handler import, the four steps) is split
into phases by timing each one on its own in the child before the steps run: importing
botocore, creating rotor's Secrets Manager client, its first and second
call, importing the database driver. Then the steps, which no longer pay for those. Separate
runs under ``python -X importtime`` attribute each phase's import time to the top-level
packages that spent it.

Each ``--variant NAME=DIR`` (a layer directory: a patched copy of the built layer, say) is
also run cold, undivided, beside the layer as built: the medians say what each idea saves.
``--tracing`` runs everything as a function with X-Ray active (template.yaml deploys
``Tracing: Active``): rotor then creates the Powertools Tracer in its first step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import (
    ROTATORS,
    Child,
    Fixture,
    Implementation,
    bare_python,
    build_layer,
    rotor_handlers,
    stats,
)

DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql"}
TRACING_ENV = {  # what Lambda sets for a function with active tracing
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",  # nothing listens: segments are lost (UDP)
    "LAMBDA_TASK_ROOT": tempfile.gettempdir(),
    "_X_AMZN_TRACE_ID": "Root=1-65f00000-0123456789abcdef01234567;Parent=0123456789abcdef;"
    "Sampled=1",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}
IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def split_pre(rotator: str, tracing: bool) -> list[str]:
    """What is timed on its own before the steps, in order."""
    pre = ["botocore.session", "rotor.secrets:client", "probes:sm_call", "probes:sm_call"]
    if tracing:
        pre.append("probes:tracer")
    return [*pre, DRIVERS[rotator.split("_")[0]]]


PHASE_NAMES = {
    "botocore.session": "import botocore",
    "rotor.secrets:client": "create the Secrets Manager client",
    "probes:tracer": "create the Tracer (X-Ray SDK)",
    "psycopg": "import psycopg",
    "pymysql": "import pymysql",
}


def pre_args(names: list[str]) -> list[str]:
    return [a for name in names for a in ("--pre", name)]


def cold_once(
    fixture: Fixture,
    impl: Implementation,
    case: Any,
    logs: Path,
    pre: list[str] | None = None,
    flags: tuple[str, ...] = (),
) -> tuple[dict[str, Any], Path]:
    token = fixture.start(case)
    log = logs / f"{impl.name}-{case.rotator}-{len(case.runs)}{'-it' if flags else ''}.log"
    child = Child(
        impl,
        case.rotator,
        fixture.moto.endpoint,
        log,
        ["cold", case.arn, token, *pre_args(pre or [])],
        python_flags=flags,
    )
    result = child.receive()
    result["wall_ms"] = (result["done"] - child.started) * 1000
    result["interpreter_ms"] = (result["t0"] - child.started) * 1000
    child.close()
    fixture.finish(case, token, result)
    return result, log


class Labels:
    """Phase names, in the order a split child runs them (the same name twice: first, then
    steady)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, name: str) -> str:
        if name == "import":
            return "import the handler"
        if name == "probes:sm_call":
            first = name not in self.seen
            self.seen.add(name)
            return "first Secrets Manager call" if first else "second call (steady)"
        return PHASE_NAMES.get(name, name)


def phases(result: dict[str, Any]) -> dict[str, float]:
    """A split run's phases, in order, in milliseconds."""
    label = Labels()
    out = {
        "interpreter start": result["interpreter_ms"],
        "bench child set-up": result["setup_ms"],
        label("import"): result["import_ms"],
    }
    for item in result["pre"]:
        out[label(item["name"])] = item["ms"]
    for step in result["steps"]:
        out[step["step"]] = step["ms"]
    return out


def parse_importtime(log: Path) -> dict[str, dict[str, float]]:
    """Per phase (the child's BENCH-PHASE markers), import self-time in ms by top-level
    package; the standard library as one entry."""
    stdlib = sys.stdlib_module_names
    phase, label = "interpreter start", Labels()
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("BENCH-PHASE "):
            phase = label(line.removeprefix("BENCH-PHASE ").removeprefix("pre "))
            continue
        match = IMPORTTIME.match(line)
        if match:
            top = match.group(4).split(".")[0]
            out[phase]["(stdlib)" if top in stdlib or top.startswith("_") else top] += (
                int(match.group(1)) / 1000
            )
    return {p: dict(v) for p, v in out.items()}


CLIENT_CODE = """
import gc, json, os, sys, time
t0 = time.perf_counter()
if sys.argv[2] == "gc-off":
    gc.disable()
if sys.argv[1] == "boto3":
    import boto3
    from botocore.config import Config
    t1 = time.perf_counter()
    c = boto3.client("secretsmanager", endpoint_url="http://127.0.0.1:9", config=Config(
        retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20))
else:
    import botocore.session
    from botocore.config import Config
    t1 = time.perf_counter()
    c = botocore.session.get_session().create_client(
        "secretsmanager", endpoint_url="http://127.0.0.1:9", config=Config(
            retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
            read_timeout=20))
t2 = time.perf_counter()
print(json.dumps({"import": (t1 - t0) * 1000, "create": (t2 - t1) * 1000}))
"""


def client_creation(impls: list[Implementation], runs: int) -> dict[str, Any]:
    """Importing the SDK and creating a Secrets Manager client in a fresh process, per layer:
    through boto3 or botocore alone (rotor.aws); with the garbage collector on or off.
    Interleaved; CPU-bound, so the minimum is the least noisy figure."""
    import subprocess

    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ways = [(sdk, gc) for sdk in ("boto3", "botocore") for gc in ("gc-on", "gc-off")]
    for _ in range(runs):
        for impl in impls:
            for sdk, gc in ways:
                out = subprocess.run(
                    [impl.python, "-c", CLIENT_CODE, sdk, gc],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=impl.env("http://127.0.0.1:9", 2),
                ).stdout
                measured = json.loads(out)
                key = f"{impl.name} {sdk} {gc}"
                for part in ("import", "create"):
                    samples[key][part].append(measured[part])
                samples[key]["total"].append(measured["import"] + measured["create"])
    return {
        key: {part: stats(values) for part, values in parts.items()}
        for key, parts in samples.items()
    }


def median_dicts(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    return {k: round(statistics.median(d.get(k, 0.0) for d in dicts), 1) for k in keys}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="rotor-coldpath-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        logs = workdir / "logs"
        logs.mkdir()
        python = bare_python(workdir)
        layer = (
            Path(args.rotor_layer)
            if args.rotor_layer
            else build_layer(
                workdir / "layer", f"{sys.version_info.major}.{sys.version_info.minor}"
            )
        )
        extra = TRACING_ENV if args.tracing else {}
        base = Implementation("rotor", python, rotor_handlers(), str(layer), extra_env=extra)
        variants = [base]
        for spec in args.variant or []:
            name, _, directory = spec.partition("=")
            variants.append(
                Implementation(name, python, rotor_handlers(), directory, extra_env=extra)
            )
        fixture = Fixture(stack)
        report: dict[str, Any] = {"tracing": args.tracing, "rotators": {}}
        for rotator in args.rotators:
            pre = split_pre(rotator, args.tracing)
            split_impls = [
                dataclasses.replace(v, extra_env={**v.extra_env, "BENCH_GC": "1"})
                for v in variants[:1]
            ]  # the layer as built
            split_cases = {i.name: fixture.case(i, rotator, "cold") for i in split_impls}
            cases = {i.name: fixture.case(i, rotator, "cold") for i in variants}
            split_runs: dict[str, list[dict[str, float]]] = defaultdict(list)
            walls: dict[str, list[float]] = defaultdict(list)
            gc_runs: dict[str, list[float]] = defaultdict(list)
            print(f"coldpath: {rotator}, {args.runs} rounds", file=sys.stderr)
            for _ in range(args.runs):
                for impl in split_impls:
                    result, _ = cold_once(fixture, impl, split_cases[impl.name], logs, pre)
                    split_runs[impl.name].append(phases(result))
                    gc_runs[impl.name].append(result["gc_ms"])
                for impl in variants:
                    result, _ = cold_once(fixture, impl, cases[impl.name], logs)
                    walls[impl.name].append(result["wall_ms"])
            imports: dict[str, list[dict[str, dict[str, float]]]] = defaultdict(list)
            for _ in range(args.importtime_runs):
                for impl in split_impls:
                    _, log = cold_once(
                        fixture, impl, split_cases[impl.name], logs, pre, flags=("-X", "importtime")
                    )
                    imports[impl.name].append(parse_importtime(log))
            entry: dict[str, Any] = {"phases": {}, "imports": {}, "variants": {}}
            for name, runs in split_runs.items():
                entry["phases"][name] = {k: stats([r[k] for r in runs]) for k in runs[0]}
                entry["phases"][name]["total"] = stats([sum(r.values()) for r in runs])
                entry["phases"][name]["of which garbage collection"] = stats(gc_runs[name])
                per_phase = {p for run in imports[name] for p in run}
                entry["imports"][name] = {
                    p: median_dicts([run.get(p, {}) for run in imports[name]]) for p in per_phase
                }
            for name, samples in walls.items():
                entry["variants"][name] = stats(samples)
            report["rotators"][rotator] = entry
        if args.client_runs:
            print(f"coldpath: client creation, {args.client_runs} rounds", file=sys.stderr)
            report["client_creation"] = client_creation(variants, args.client_runs)
            for case in [*split_cases.values(), *cases.values()]:
                fixture.check_logins(case)
        return report


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Cold path{' (X-Ray tracing active)' if report['tracing'] else ''}", ""]
    for rotator, entry in report["rotators"].items():
        names = list(entry["phases"])
        lines += [
            f"## {rotator}",
            "",
            "| phase | " + " | ".join(f"{n} median ms (p90)" for n in names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for phase in entry["phases"][names[0]]:
            cells = []
            for n in names:
                s = entry["phases"][n].get(phase, {})
                cells.append(f"{s.get('median', '-')} ({s.get('p90', '-')})")
            label = f"**{phase}**" if phase == "total" else phase
            label = f"*{phase}*" if phase.startswith("of which") else label
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Import self-time by package (ms, median of the -X importtime runs; "
            "importtime inflates them):",
            "",
        ]
        imports = entry["imports"][names[0]]
        for phase in entry["phases"][names[0]]:
            spent = imports.get(phase)
            if spent:
                top = sorted(spent.items(), key=lambda kv: -kv[1])
                shown = ", ".join(f"{k} {v:.0f}" for k, v in top if v >= 1)
                lines.append(f"- {phase}: {shown or 'under 1 ms'}")
        lines += [
            "",
            "Whole cold rotation, undivided (ms):",
            "",
            "| variant | median | p90 | min | max | n | vs rotor |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        base = entry["variants"]["rotor"]["median"]
        for name, s in entry["variants"].items():
            lines.append(
                f"| {name} | {s['median']} | {s['p90']} | {s['min']} | {s['max']} | "
                f"{s['n']} | {s['median'] - base:+.0f} |"
            )
        lines.append("")
    creation = report.get("client_creation")
    if creation:
        lines += [
            "## Secrets Manager client: SDK import + client creation, fresh process",
            "",
            "| layer, SDK, garbage collector | import median (min) | create median (min) "
            "| total median (min) |",
            "|---|---:|---:|---:|",
        ]
        for key, parts in creation.items():
            lines.append(
                f"| {key} | "
                + " | ".join(
                    f"{parts[p]['median']} ({parts[p]['min']})"
                    for p in ("import", "create", "total")
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="cold rotations per variant")
    parser.add_argument("--importtime-runs", type=int, default=3)
    parser.add_argument(
        "--rotators", nargs="+", choices=ROTATORS, default=["postgresql_single", "mysql_single"]
    )
    parser.add_argument("--rotor-layer", metavar="DIR", help="default: build one")
    parser.add_argument(
        "--variant",
        action="append",
        metavar="NAME=DIR",
        help="another layer directory to run cold beside it (repeatable)",
    )
    parser.add_argument(
        "--client-runs",
        type=int,
        default=15,
        help="fresh processes per way of creating the client (0: skip)",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="as a function with active X-Ray tracing (the template's default)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--md", type=Path)
    args = parser.parse_args()
    report = run(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    if args.md:
        args.md.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
