"""Every benchmark, one command (``make bench``): a Markdown table, JSON and a plot.

    .venv/bin/python bench/run.py [--reference DIR] [--out build/bench] [--skip downtime ...]

Benchmarks, each a section of the results:

- ``rotations`` (bench/compare.py): per rotator and implementation (rotor, and with
  ``--reference DIR`` AWS's sample rotators), Secrets Manager calls and database connections
  per rotation, warm and cold wall time, handler import time.
- ``layer``: the Lambda layer ``layer/build.py`` builds (its defaults: the template's runtime
  and architecture): size unzipped and zipped, file count, largest packages; and, with
  ``--reference``, what AWS's sample ships beside the runtime's boto3.
- ``downtime`` (bench/downtime.py): failed application queries while rotations run.
- ``rotate-all`` (bench/rotate_all.py): ``rotor rotate-all`` over 1,000 secrets in a local
  moto, rotations/s achieved against the configured rate, and with Secrets Manager's quotas
  enforced by a throttling proxy (OUT/rotate-all.png plots it).

Writes OUT/results.json, OUT/results.md and OUT/results.png (when matplotlib is installed; it
is in the dev extra), and prints the Markdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("rotations", "layer", "downtime", "rotate-all")
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


# --- the benchmarks ---------------------------------------------------------------------------


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def layer(args: argparse.Namespace) -> dict[str, Any]:
    """The layer as deployed, and what the reference ships beside the runtime."""
    with tempfile.TemporaryDirectory(prefix="rotor-bench-layer-") as tmp:
        built = compare.build_layer(Path(tmp))  # layer/build.py's defaults
        count, size = tree_size(built)
        archive = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(built.rglob("*")):
                if path.is_file():
                    zf.write(path, Path("python") / path.relative_to(built))
        packages = {}
        for entry in built.iterdir():
            if entry.is_dir() and not entry.name.endswith(".dist-info"):
                packages[entry.name] = tree_size(entry)[1]
        biggest = sorted(packages.items(), key=lambda kv: -kv[1])[:6]
        result: dict[str, Any] = {
            "rotor": {
                "files": count,
                "bytes": size,
                "zipped_bytes": archive.stat().st_size,
                "largest": dict(biggest),
                "botocore_data_bytes": tree_size(built / "botocore" / "data")[1],
            },
        }
    if args.reference:
        result["aws-sample"] = reference_package(args)
    return result


def reference_package(args: argparse.Namespace) -> dict[str, Any]:
    """A sample's deployment package beside the runtime's boto3: its handler and the files
    of its database drivers as installed for ``--reference-python``."""
    code = (
        "import importlib.metadata as m, json; out = {}\n"
        "for d in ('PyGreSQL', 'PyMySQL'):\n"
        "    files = [f for f in m.distribution(d).files if '__pycache__' not in str(f)]\n"
        "    paths = [f.locate() for f in files]\n"
        "    out[d] = [len(paths), sum(p.stat().st_size for p in paths if p.is_file())]\n"
        "print(json.dumps(out))"
    )
    drivers = json.loads(subprocess.check_output([args.reference_python, "-c", code], text=True))
    handlers = {}
    for rotator, sample in compare.SAMPLES.items():
        path = Path(args.reference) / sample / "lambda_function.py"
        if path.is_file():
            driver = "PyGreSQL" if rotator.startswith("postgresql") else "PyMySQL"
            files, size = drivers[driver]
            handlers[rotator] = {"files": files + 1, "bytes": size + path.stat().st_size}
    return {"per_function": handlers, "note": "handler + its driver; boto3 from the runtime"}


def downtime(args: argparse.Namespace) -> dict[str, Any]:
    """bench/downtime.py's runs, one row each."""
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "downtime.py"),
        "--rotations",
        str(args.downtime_rotations),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        row.pop("errors", None)  # driver messages: in the raw output, not the table
    return {
        "rows": rows,
        "exit_code": done.returncode,
        **({"stderr": done.stderr[-2000:]} if done.returncode else {}),
    }


def rotate_all(args: argparse.Namespace) -> dict[str, Any]:
    """bench/rotate_all.py's runs, one row each: ``rotor rotate-all`` over 1,000 secrets in a
    local moto, rotations/s achieved against the configured rate, and through the quota proxy."""
    cmd = [sys.executable, str(ROOT / "bench" / "rotate_all.py")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {
        "rows": rows,
        "exit_code": done.returncode,
        **({"stderr": done.stderr[-2000:]} if done.returncode else {}),
    }


# --- output -----------------------------------------------------------------------------------


def cell(s: dict[str, Any] | None, key: str = "median") -> str:
    return "-" if not s or key not in s else f"{s[key]:.0f}"


def counts(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(str(v) for v in value) if value else "-"
    return "-" if value is None else str(value)


def rotation_tables(section: dict[str, Any]) -> list[str]:
    rows = section["rows"]
    lines = [
        "| rotator | implementation | SM calls | DB connections (refused) | warm median ms "
        "| warm p90 ms | cold median ms | cold p90 ms | handler import ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        warm, cold = row.get("warm", {}), row.get("cold", {})
        calls = counts(cold.get("sm_calls", warm.get("sm_calls")))
        if warm and cold and warm["sm_calls"] != cold["sm_calls"]:
            calls += f" ({counts(warm['sm_calls'])} warm)"
        source = cold or warm
        conns = f"{counts(source.get('db_connections'))} ({counts(source.get('db_refused'))})"
        lines.append(
            f"| {row['rotator']} | {row['implementation']} | {calls} | {conns} | "
            f"{cell(warm.get('wall_ms'))} | {cell(warm.get('wall_ms'), 'p90')} | "
            f"{cell(cold.get('wall_ms'))} | {cell(cold.get('wall_ms'), 'p90')} | "
            f"{cell(cold.get('import_ms'))} |"
        )
    lines += [
        "",
        "Cold rotation, where the time goes (medians, ms):",
        "",
        "| rotator | implementation | interpreter start | bench child | handler import | "
        + " | ".join(STEPS)
        + " | total (min-max) |",
        "|---|---|" + "---:|" * (4 + len(STEPS)),
    ]
    for row in rows:
        cold = row.get("cold")
        if not cold:
            continue
        steps = " | ".join(cell(cold["steps_ms"][s]) for s in STEPS)
        wall = cold["wall_ms"]
        lines.append(
            f"| {row['rotator']} | {row['implementation']} | "
            f"{cell(cold['interpreter_ms'])} | {cell(cold['setup_ms'])} | "
            f"{cell(cold['import_ms'])} | {steps} | {cell(wall)} "
            f"({cell(wall, 'min')}-{cell(wall, 'max')}) |"
        )
    lines += [
        "",
        "Warm rotation by step (medians, ms; the first rotation of each process, "
        "left out, in brackets):",
        "",
        "| rotator | implementation | " + " | ".join(STEPS) + " | first rotation |",
        "|---|---|" + "---:|" * (len(STEPS) + 1),
    ]
    for row in rows:
        warm = row.get("warm")
        if warm:
            steps = " | ".join(cell(warm["steps_ms"][s]) for s in STEPS)
            lines.append(
                f"| {row['rotator']} | {row['implementation']} | {steps} | "
                f"({warm['first_rotation_ms']:.0f}) |"
            )
    operations = {
        (r["rotator"], r["implementation"]): (r.get("cold") or r["warm"])["sm_calls_by_operation"]
        for r in rows
    }
    lines += ["", "Secrets Manager calls per rotation by operation:", ""]
    lines += [
        f"- {rot} / {impl}: " + ", ".join(f"{k} {v:g}" for k, v in ops.items())
        for (rot, impl), ops in operations.items()
    ]
    return lines


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        "# rotor benchmarks",
        "",
        f"{meta['date']}, commit {meta['commit']}, Python {meta['python']}, "
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after. Numbers compare implementations on this machine; "
        "they are not what Lambda measures (see docs/benchmarks.md).",
        "",
    ]
    section = results.get("rotations")
    if section:
        s = section["settings"]
        lines += [
            "## Rotations",
            "",
            f"{s['warm_rotations']} warm rotations per row ({s['warmup_discarded']} "
            f"more first, left out), {s['cold_rotations']} cold; PostgreSQL "
            f"{s['servers']['postgresql']}, {s['servers']['mysql']}; moto on 127.0.0.1. "
            "SM calls: per rotation, all four steps in one container (a warm container "
            "that wrote the previous version may skip one read).",
            "",
        ]
        lines += rotation_tables(section)
        lines.append("")
    if "layer" in results:
        lay = results["layer"]
        rotor = lay["rotor"]
        mb = 1024 * 1024
        lines += [
            "## Lambda layer",
            "",
            f"rotor's layer (layer/build.py defaults): {rotor['bytes'] / mb:.1f} MiB "
            f"unzipped in {rotor['files']} files, {rotor['zipped_bytes'] / mb:.1f} MiB "
            f"zipped; botocore's service models alone "
            f"{rotor['botocore_data_bytes'] / mb:.1f} MiB. Largest: "
            + ", ".join(f"{k} {v / mb:.1f} MiB" for k, v in rotor["largest"].items())
            + ".",
        ]
        if "aws-sample" in lay:
            per = lay["aws-sample"]["per_function"]
            lines.append(
                "AWS's samples ship per function (boto3 from the runtime): "
                + ", ".join(
                    f"{k} {v['bytes'] / 1024:.0f} KiB in {v['files']} files" for k, v in per.items()
                )
                + "."
            )
        lines.append("")
    if "downtime" in results:
        rows = results["downtime"]["rows"]
        lines += [
            "## Downtime (bench/downtime.py)",
            "",
            "| engine | strategy | client | rotations | queries ok | queries failed |",
            "|---|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['engine']} | {r['strategy']} | {r['client']} | {r['rotations']} | "
            f"{r['queries_ok']} | {r['queries_failed']} |"
            for r in rows
        ]
        lines.append("")
    if "rotate-all" in results:
        lines += [
            "## rotate-all over 1,000 secrets (bench/rotate_all.py)",
            "",
            "| rate (/s) | quotas enforced | secrets | rotated | seconds | rotations/s | "
            "throttled calls | calls per rotation |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['rate']:g} | {'yes' if r['quotas'] else 'no'} | {r['secrets']} | "
            f"{r['rotated']} | {r['seconds']:.1f} | {r['per_second']:.1f} | "
            f"{r['throttled_calls']} | {r['calls_per_rotation']:g} |"
            for r in results["rotate-all"]["rows"]
        ]
        lines.append("")
    if results.get("plot_note"):
        lines += [results["plot_note"], ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> str | None:
    """Warm and cold wall time per rotator and implementation; a note when not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "No plot: matplotlib is not installed (`pip install -e '.[dev]'` brings it)."
    rows = results.get("rotations", {}).get("rows", [])
    if not rows:
        return None
    rotators = list(dict.fromkeys(r["rotator"] for r in rows))
    impls = list(dict.fromkeys(r["implementation"] for r in rows))
    by = {(r["rotator"], r["implementation"]): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(impls)
    for ax, mode, title in (
        (axes[0], "warm", "warm rotation (ms)"),
        (axes[1], "cold", "cold rotation: fresh process (ms)"),
    ):
        for i, impl in enumerate(impls):
            xs, medians, errors = [], [], [[], []]
            for j, rotator in enumerate(rotators):
                s = by.get((rotator, impl), {}).get(mode, {}).get("wall_ms")
                if s and s.get("n"):
                    xs.append(j + i * width)
                    medians.append(s["median"])
                    errors[0].append(s["median"] - s["min"])
                    errors[1].append(s["p90"] - s["median"])
            if xs:
                ax.bar(xs, medians, width, yerr=errors, capsize=3, label=impl)
        ax.set_xticks([j + width * (len(impls) - 1) / 2 for j in range(len(rotators))])
        ax.set_xticklabels([r.replace("_", "\n") for r in rotators])
        ax.set_title(title + ", median; whiskers min to p90")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_rotate_all(results: dict[str, Any], path: Path) -> None:
    """rotate-all: rotations/s achieved against the configured rate (matplotlib, if any)."""
    rows = results.get("rotate-all", {}).get("rows", [])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for quotas, marker, label in ((False, "o", "straight to moto"), (True, "x", "quotas enforced")):
        picked = [r for r in rows if r["quotas"] is quotas]
        ax.plot([r["rate"] for r in picked], [r["per_second"] for r in picked], marker, label=label)
    top = max(r["rate"] for r in rows)
    ax.plot([0, top], [0, top], ":", label="achieved = configured")
    ax.axhline(50 / 3, linestyle="--", label="ceiling: 50 writes/s, 3 per rotation")
    ax.set_xlabel("--rate (rotations started/s)")
    ax.set_ylabel("rotations/s achieved")
    ax.set_title("rotor rotate-all over 1,000 secrets")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (done.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    compare.add_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "bench",
        help="directory for results.json, results.md, results.png",
    )
    parser.add_argument(
        "--skip", nargs="+", choices=BENCHMARKS, default=[], help="benchmarks not to run"
    )
    parser.add_argument("--downtime-rotations", type=int, default=20)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        }
    }
    started = time.perf_counter()
    runners = {
        "rotations": compare.run,
        "layer": layer,
        "downtime": downtime,
        "rotate-all": rotate_all,
    }
    for name in BENCHMARKS:
        if name in args.skip:
            continue
        print(f"bench: {name}", file=sys.stderr)
        results[name] = runners[name](args)
    results["meta"]["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results["meta"]["seconds"] = round(time.perf_counter() - started)
    note = plot(results, args.out / "results.png")
    plot_rotate_all(results, args.out / "rotate-all.png")
    if note:
        results["plot_note"] = note
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "results.md").write_text(text + "\n")
    print(text)
    print(
        f"bench: wrote {args.out}/results.{{json,md}}{'' if note else ' and results.png'}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
