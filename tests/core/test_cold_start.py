"""A handler's import stays light: the heavy modules load on first use, not at cold start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# botocore's package itself is light (Powertools imports it for its user agent); its session
# and client modules are not.
HEAVY = ("boto3", "botocore.session", "aws_xray_sdk", "psycopg", "pymysql", "requests", "ssl")


@pytest.mark.parametrize("rotator", sorted(p.parent.name for p in ROOT.glob("rotators/*/app.py")))
def test_handler_import_defers_heavy_modules(rotator):
    code = (
        f"import sys; sys.path.insert(0, 'rotators/{rotator}'); import app; "
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True).split())
    assert "rotor" in loaded and "aws_lambda_powertools" in loaded
    assert not loaded & set(HEAVY)
