"""Fixtures of the deployment checks: the parsed template, the runtime's Python (from pyenv)
and one `sam build` per session into a temporary directory."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cfn import TEMPLATE, load, run, venv_tool

SAM_TIMEOUT = 900  # seconds; a warm pip cache builds in about 25 s


def sam_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        SAM_CLI_DISABLE_VERSION_CHECK="1",
        **extra,
    )
    return env


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load(TEMPLATE)


@pytest.fixture(scope="session")
def runtime(template: dict[str, Any]) -> str:
    """The Lambda runtime every function uses, e.g. ``python3.13``."""
    return str(template["Globals"]["Function"]["Runtime"])


@pytest.fixture(scope="session")
def architecture(template: dict[str, Any]) -> str:
    return str(template["Globals"]["Function"]["Architectures"][0])


def find_python(version: str) -> Path | None:
    """pyenv's python<version> (the newest patch release), else one on PATH."""
    root = None
    if shutil.which("pyenv"):
        root = (
            subprocess.run(
                ["pyenv", "root"], capture_output=True, text=True, check=False
            ).stdout.strip()
            or None
        )
    root = root or os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = glob.glob(f"{root}/versions/{version}.*/bin/python{version}")

    def patch(path: str) -> int:
        match = re.search(rf"/{re.escape(version)}\.(\d+)/", path)
        return int(match.group(1)) if match else -1

    if candidates:
        return Path(max(candidates, key=patch))
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


@pytest.fixture(scope="session")
def runtime_python(runtime: str) -> Path:
    version = runtime.removeprefix("python")
    python = find_python(version)
    if python is None:
        pytest.fail(
            f"sam build for {runtime} needs python{version}; install it with pyenv "
            f"(pyenv install {version}) or put it on PATH."
        )
    return python


@pytest.fixture(scope="session")
def sam() -> str:
    try:
        return venv_tool("sam")
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def sam_build(sam: str, runtime_python: Path, template: Path, build_dir: Path) -> Path:
    """`sam build` of ``template``, run from the repository root as users run it.

    Into ``build_dir`` (never the developer's .aws-sam) and without --cached: SAM's cache keys
    on the layer directory only, so a cached build would ship a stale rotor. pip's own
    download cache keeps the build at about 25 s once warm.
    """
    env = sam_env(
        PATH=f"{runtime_python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHON=sys.executable,
    )  # layer/Makefile's interpreter: this venv's
    started = time.perf_counter()
    proc = run(
        [
            sam,
            "build",
            "--build-in-source",
            "--template-file",
            str(template),
            "--build-dir",
            str(build_dir),
        ],
        env=env,
        timeout=SAM_TIMEOUT,
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, (
        f"sam build failed after {seconds:.0f}s:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    )
    print(f"\nsam build of {template.name}: {seconds:.1f}s")  # shown with -s
    return build_dir


@pytest.fixture(scope="session")
def built(
    sam: str, runtime_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """`sam build` of template.yaml."""
    yield sam_build(sam, runtime_python, TEMPLATE, tmp_path_factory.mktemp("sam") / "build")
