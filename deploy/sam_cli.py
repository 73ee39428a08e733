"""The SAM CLI as the release runs it: `sam build` as users run it, `sam package`, and the
tools of the dev extra they need. A failed command is a :class:`ToolError` quoting its last
lines."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAM_TIMEOUT = 1800  # seconds; a warm pip cache builds the layer in about 25 s


class ToolError(Exception):
    """A tool is missing or failed; the message says which and what it printed last."""


def layer_build() -> ModuleType:
    """layer/build.py (a script beside the layer's Makefile, not a package), to reuse its
    search for the runtime's Python."""
    spec = importlib.util.spec_from_file_location("rotor_layer_build", ROOT / "layer" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool(name: str) -> str:
    """A console script of the dev extra, beside this interpreter or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise ToolError(f"{name} is not installed: pip install -e '.[dev]' (or make release).")
    return found


def run(cmd: list[str], what: str, **kwargs: Any) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ToolError(f"{what} failed ({' '.join(cmd[:2])}): " + " | ".join(tail))


def sam_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SAM_CLI_TELEMETRY="0", SAM_CLI_DISABLE_VERSION_CHECK="1", **extra)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def sam_build(template: Path, build_dir: Path, runtime: str) -> Path:
    """``sam build`` of one template as users run it: from the repository, in source (the
    layer's Makefile builds from common/rotor), with ``runtime``'s Python on PATH."""
    version = runtime.removeprefix("python")
    python = layer_build().compiler(version, None)
    if python is None:
        raise ToolError(
            f"sam build needs python{version} (the functions' runtime): pyenv install {version}, "
            "or pass --built DIR with a sam build of template.yaml."
        )
    run(
        [
            tool("sam"),
            "build",
            "--build-in-source",
            "--template-file",
            str(template),
            "--build-dir",
            str(build_dir),
        ],
        f"sam build of {template.relative_to(ROOT) if template.is_relative_to(ROOT) else template}",
        cwd=ROOT,
        env=sam_env(
            PATH=f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHON=sys.executable,  # layer/Makefile's interpreter: this one, which has pip
        ),
        timeout=SAM_TIMEOUT,
    )
    return build_dir


def sam_package(built: Path, packaged: Path, bucket: str, prefix: str, env: dict[str, str]) -> None:
    run(
        [
            tool("sam"),
            "package",
            "--template-file",
            str(built / "template.yaml"),
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            prefix,
            "--output-template-file",
            str(packaged),
            "--no-progressbar",
        ],
        f"sam package of {packaged.name}",
        cwd=built,
        env=env,
        timeout=SAM_TIMEOUT,
    )
