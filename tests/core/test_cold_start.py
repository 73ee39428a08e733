"""A handler's import stays light: the heavy modules load on first use, not at cold start."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# botocore's package itself is light (Powertools imports it for its user agent); its session
# and client modules are not.
HEAVY = ("boto3", "botocore.session", "aws_xray_sdk", "psycopg", "pymysql", "requests")


def test_handler_import_defers_heavy_modules():
    code = ("import sys; sys.path.insert(0, 'rotators/postgresql_single'); import app; "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT,
                                         text=True).split())
    assert "rotor" in loaded and "aws_lambda_powertools" in loaded
    assert not loaded & set(HEAVY)
