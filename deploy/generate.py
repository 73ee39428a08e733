"""Write (or, with --check, verify) every file derived from rotor's two tables.

The rotator table (deploy/rotators.py) and the settings table (common/rotor/settings.py) give
template.yaml (deploy/template.py), the per-secret application apps/rotation/template.yaml
(deploy/app.py) and the generated tables of README.md, docs/deploying.md and docs/migrating.md
(deploy/docs.py). ``make template`` runs it; tests/deploy runs ``--check``.

Usage: ``python deploy/generate.py [--check]``. Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make deploy/ and rotor importable
    sys.path[:0] = [str(ROOT), str(ROOT / "common")]

from deploy import app, docs, template  # noqa: E402
from deploy.cfn_yaml import dump  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
APP = ROOT / "apps" / "rotation" / "template.yaml"
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "deploying.md", ROOT / "docs" / "migrating.md")


def generated() -> dict[Path, str]:
    """Each derived file's text as the tables make it."""
    files = {
        TEMPLATE: dump(template.build(), template.HEADER),
        APP: dump(app.build(), app.HEADER),
    }
    for path in DOCUMENTS:
        files[path] = docs.fill(path.read_text(), str(path.relative_to(ROOT)))
    return files


def stale() -> list[Path]:
    return [
        path for path, text in generated().items() if not path.exists() or path.read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail when a derived file differs from the tables",
    )
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print(
                f"{path.relative_to(ROOT)} is stale: run `make template` (python "
                "deploy/generate.py) and commit the result.",
                file=sys.stderr,
            )
        return 1 if outdated else 0
    for path, text in generated().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
