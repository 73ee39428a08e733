"""The documentation site (mkdocs.yml) builds with --strict, as `make test` builds it: every guide
is in the navigation, the API reference carries the docstrings, and a broken link or a page left
out of the navigation fails the build."""

from __future__ import annotations

import html
import inspect
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rotor.protocol import Rotator

from tests.deploy.cfn import ROOT, run, venv_tool

DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``site``, as ``make docs-build`` runs it."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    cmd = [venv_tool("mkdocs"), "build", "--strict", "-f", str(config), "--site-dir", str(site)]
    return run(cmd, env=env, timeout=300)


def nav_pages(entries: list[Any]) -> Iterator[str]:
    """Every page of mkdocs.yml's ``nav``, however deep its sections."""
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from nav_pages(value if isinstance(value, list) else [value])


def guides() -> set[str]:
    """The Markdown pages of docs/, as mkdocs names them (the site leaves out docs/_ext)."""
    return {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if "_ext" not in path.relative_to(DOCS).parts
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = build(CONFIG, out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def test_every_guide_is_in_the_navigation() -> None:
    nav = set(nav_pages(yaml.safe_load(CONFIG.read_text())["nav"]))
    assert guides() - nav == set(), "add these pages to nav in mkdocs.yml"
    assert nav - guides() == set(), "nav names pages docs/ does not have"


def test_the_site_builds_strictly_with_a_page_per_guide(site: Path) -> None:
    for page in guides():
        path = Path(page).with_suffix("")  # x.md is served as x/, an index.md as its folder
        built = site / (path.parent if path.name == "index" else path) / "index.html"
        assert built.is_file(), f"{page} was not built"


def test_the_api_reference_renders_the_docstrings(site: Path) -> None:
    page = html.unescape((site / "reference" / "rotator" / "index.html").read_text())
    first_line = (inspect.getdoc(Rotator) or "").splitlines()[0]
    assert first_line in page
    assert 'id="rotor.protocol.Rotator"' in page
    reference = "".join(p.read_text() for p in (site / "reference").rglob("*.html"))
    assert ":class:" not in reference and ":meth:" not in reference, "a Sphinx role leaked"
    assert "::</p>" not in reference, "a reStructuredText literal marker leaked"


def test_a_broken_link_or_an_orphan_page_fails_the_build(tmp_path: Path) -> None:
    """The strict build can fail: a copy of the docs with a missing page, a missing anchor, a
    link out of docs/ and a page no navigation names."""
    shutil.copy(CONFIG, tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    (tmp_path / "common").symlink_to(ROOT / "common")  # the reference's sources
    cli = tmp_path / "docs" / "cli.md"
    cli.write_text(
        cli.read_text() + "\n[gone](no-such-page.md) [deep](deploying.md#no-such-heading) "
        "[out](../template.yaml)\n"
    )
    (tmp_path / "docs" / "orphan.md").write_text("# Nobody links here\n")

    proc = build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert proc.returncode != 0
    for named in ("no-such-page.md", "#no-such-heading", "../template.yaml", "orphan.md"):
        assert named in proc.stderr, f"the build did not report {named}"
