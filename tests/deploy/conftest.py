"""Fixtures of the deployment checks: the parsed template, the runtime's Python (from pyenv)
and one `sam build` per session into a temporary directory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import sam_cli
from tests.deploy.cfn import TEMPLATE, load, venv_tool


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


@pytest.fixture(scope="session")
def runtime_python(runtime: str) -> Path:
    version = runtime.removeprefix("python")
    python = sam_cli.layer_build().compiler(version, None)  # the one sam build's layer uses
    if python is None:
        pytest.fail(
            f"sam build for {runtime} needs python{version}; install it with pyenv "
            f"(pyenv install {version}) or put it on PATH."
        )
    return Path(python)


@pytest.fixture(scope="session")
def sam() -> str:
    try:
        return venv_tool("sam")
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def sam_build(template: Path, build_dir: Path, runtime: str) -> Path:
    """`sam build` of ``template`` as users (and `make release`) run it, into ``build_dir``
    (never the developer's .aws-sam) and without --cached: SAM's cache keys on the layer
    directory only, so a cached build would ship a stale rotor."""
    started = time.perf_counter()
    try:
        sam_cli.sam_build(template, build_dir, runtime)
    except sam_cli.ToolError as exc:
        pytest.fail(f"after {time.perf_counter() - started:.0f}s: {exc}", pytrace=False)
    print(f"\nsam build of {template.name}: {time.perf_counter() - started:.1f}s")  # with -s
    return build_dir


@pytest.fixture(scope="session")
def built(
    sam: str, runtime: str, runtime_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """`sam build` of template.yaml (``sam`` and ``runtime_python``: fail early, saying what
    is missing)."""
    yield sam_build(TEMPLATE, tmp_path_factory.mktemp("sam") / "build", runtime)
