"""Build the rotor Lambda layer: the runtime code of common/rotor and its runtime dependencies.

``sam build`` runs it through layer/Makefile (``BuildMethod: makefile``, in source; see
samconfig.toml); ``make layer`` runs it on its own. What goes in is read from pyproject.toml:

- the ``rotation`` extra's requirements, as wheels for the Lambda runtime's Python and
  architecture (so the building machine needs neither);
- common/rotor without the development modules listed under ``[tool.rotor] dev-modules``
  (the local harness, throwaway servers, fake providers, demo, CLI, test kit, pytest plugin),
  which never reach a deployed function, nor the consumer library (``consumer-modules``).

Two things keep a cold start short:

- bytecode, compiled by an interpreter of the runtime's version with unchecked hashes
  (``/opt`` is read-only on Lambda, so a layer without it recompiles every module in every new
  container, ~0.45 s; zip timestamps are too coarse for timestamp-checked bytecode);
- botocore's models and endpoint table cut down to ``[tool.rotor] aws-services`` (18 MiB and
  ~40 ms of client creation less), plus what ``--aws-services`` adds for a custom rotator.

Usage: ``python layer/build.py OUT_DIR [--python 3.13] [--arch x86_64] [--compiler PATH]``;
the layer is written to ``OUT_DIR/python`` (``/opt/python`` on Lambda). Standard library only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
SOURCE = ROOT / "common" / "rotor"
# glibc of the Lambda images: Amazon Linux 2023 (python3.12 and later) has 2.34.
GLIBC = {"3.11": 26, "3.12": 34, "3.13": 34, "3.14": 34}
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


def project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(pyproject: dict) -> list[str]:  # type: ignore[type-arg]
    """The base dependencies plus the ``rotation`` extra (what a rotation imports)."""
    base = list(pyproject["project"]["dependencies"])
    return base + list(pyproject["project"]["optional-dependencies"]["rotation"])


def dev_modules(pyproject: dict) -> list[str]:  # type: ignore[type-arg]
    """The modules the layer leaves out: the dev kit and the consumer library."""
    table = pyproject["tool"]["rotor"]
    return [*table["dev-modules"], *table["consumer-modules"]]


def is_dev(relative: Path, dev: list[str]) -> bool:
    """Whether a file of common/rotor (path relative to it) belongs to a dev module."""
    dotted = ".".join(("rotor", *relative.with_suffix("").parts))
    return any(dotted == m or dotted.startswith(m + ".") for m in dev)


def install_dependencies(target: Path, python: str, arch: str, reqs: list[str]) -> None:
    platforms = [f"manylinux_2_{minor}_{MACHINE[arch]}" for minor in range(17, GLIBC[python] + 1)]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-conflicts",  # pip would judge the building environment, not the layer
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        "--upgrade",
        *(f"--platform={p}" for p in platforms),
        *reqs,
    ]
    subprocess.run(cmd, check=True)


def copy_runtime(target: Path, dev: list[str]) -> list[Path]:
    shipped = []
    for path in sorted(SOURCE.rglob("*")):
        relative = path.relative_to(SOURCE)
        if not path.is_file() or "__pycache__" in relative.parts or is_dev(relative, dev):
            continue
        destination = target / "rotor" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        shipped.append(relative)
    return shipped


def trim_botocore(target: Path, services: list[str]) -> None:
    """Keep botocore's models and endpoints for ``services`` only (with boto3's resource
    models, which no rotation uses): a client for any other service fails with
    UnknownServiceError, so rotor.aws refuses one up front."""
    data = target / "botocore" / "data"
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in services:
            shutil.rmtree(entry)
    endpoints = data / "endpoints.json"
    table = json.loads(endpoints.read_text())
    for partition in table["partitions"]:
        partition["services"] = {
            name: value for name, value in partition["services"].items() if name in services
        }
    endpoints.write_text(json.dumps(table, separators=(",", ":")))
    shutil.rmtree(target / "boto3" / "data", ignore_errors=True)


def compiler(python: str, given: str | None) -> str | None:
    """An interpreter of the runtime's version: bytecode from any other is ignored."""
    version = tuple(int(part) for part in python.split("."))
    candidates = (
        [given]
        if given
        else [
            sys.executable,
            shutil.which(f"python{python}"),
            *sorted(glob.glob(f"{PYENV_ROOT}/versions/{python}.*/bin/python{python}")),
        ]
    )
    for candidate in candidates:
        if (
            candidate
            and subprocess.run(
                [candidate, "-c", f"import sys; sys.exit(sys.version_info[:2] != {version})"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ):
            return candidate
    if given:
        raise SystemExit(f"layer/build.py: {given} is not Python {python}.")
    return None


def compile_bytecode(target: Path, python: str, given: str | None) -> bool:
    interpreter = compiler(python, given)
    if interpreter is None:
        print(
            f"layer/build.py: warning: no Python {python} here, so the layer has no bytecode "
            f"and every cold start recompiles it (~0.45 s); install Python {python} or pass "
            "--compiler PATH.",
            file=sys.stderr,
        )
        return False
    subprocess.run(
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            # The paths Lambda has (/opt/python/...), not this build's: tracebacks find the
            # source, and the same files give the same bytes (a reproducible layer zip).
            "-s",
            str(target),
            "-p",
            "/opt/python",
            str(target),
        ],
        check=True,
    )
    return True


def build(
    out: Path,
    python: str,
    arch: str,
    given_compiler: str | None = None,
    aws_services: list[str] | None = None,
) -> Path:
    if not SOURCE.is_dir():
        raise SystemExit(
            "layer/build.py: common/rotor is not beside this script; run `sam build "
            "--build-in-source` (samconfig.toml sets it) from the repository."
        )
    pyproject = project()
    target = out / "python"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    install_dependencies(target, python, arch, requirements(pyproject))
    copy_runtime(target, dev_modules(pyproject))
    for extra in (ROOT / "layer" / "certs",):  # a CA bundle to ship, e.g. the RDS one
        if extra.is_dir():
            shutil.copytree(extra, target / extra.name, dirs_exist_ok=True)
    for unused in (*target.rglob("__pycache__"), target / "bin"):  # console scripts: no use
        shutil.rmtree(unused, ignore_errors=True)
    services = list(pyproject["tool"]["rotor"]["aws-services"]) + (aws_services or [])
    if "all" not in services:
        trim_botocore(target, services)
    compile_bytecode(target, python, given_compiler)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the layer into (python/)")
    parser.add_argument(
        "--python",
        default="3.13",
        choices=sorted(GLIBC),
        help="the Lambda runtime's Python version (default 3.13)",
    )
    parser.add_argument(
        "--arch",
        default="x86_64",
        choices=sorted(MACHINE),
        help="the functions' architecture (default x86_64)",
    )
    parser.add_argument(
        "--compiler",
        help="a Python of the runtime's version to compile the "
        "bytecode with (default: found on PATH or under ~/.pyenv)",
    )
    parser.add_argument(
        "--aws-services",
        default="",
        metavar="NAMES",
        help="more AWS services whose botocore models the layer keeps, comma-"
        "separated (a custom rotator calling IAM, say: iam), or all",
    )
    args = parser.parse_args()
    extra = [name.strip() for name in args.aws_services.split(",") if name.strip()]
    print(f"rotor layer: {build(args.out, args.python, args.arch, args.compiler, extra)}")


if __name__ == "__main__":
    main()
