"""One version everywhere: common/rotor/_version.py is what the package, `rotor --version`,
template.yaml (the layer, the Serverless Application Repository entry) and the CHANGELOG say.
The functions' logs: tests/core/test_version_in_logs.py; the built wheel: tests/deploy."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import rotor
from rotor._version import __version__

from deploy.changelog import ChangelogError, entries, notes
from tests.conftest import ROOT
from tests.core.cli_support import DEV_ONLY, without
from tests.deploy import cfn

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def test_the_version_is_semantic_and_the_package_exports_it() -> None:
    assert SEMVER.fullmatch(__version__), __version__
    assert rotor.__version__ == __version__


def test_the_package_metadata_reads_it_from_the_one_place() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "rotor._version.__version__"


def test_the_cli_prints_it_with_only_the_cli_extra_installed() -> None:
    """`pip install 'rotor[cli]'` has no moto, pytest, Powertools or drivers."""
    ran = without(DEV_ONLY, "--version")
    assert ran.code == 0 and ran.out == f"rotor {__version__}\n", ran.err


def test_the_template_names_it_on_the_layer_and_for_the_serverless_repository() -> None:
    template = cfn.load()
    (layer,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::LayerVersion"
    ]
    assert layer["Properties"]["Description"].startswith(f"rotor {__version__}: ")
    application = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert application["SemanticVersion"] == __version__
    assert (ROOT / application["ReadmeUrl"]).is_file()


def test_the_changelog_has_a_dated_entry_for_it() -> None:
    released = notes(__version__)
    assert released.startswith(f"# rotor {__version__} (")
    assert "### " in released  # Keep a Changelog sections: Added, Changed, Fixed...


CHANGELOG = """# Changelog

## [Unreleased]

### Added

- something new

## [1.1.0] - 2026-01-02

### Changed

- **Breaking**: a parameter renamed

## [1.0.0]

- undated

[1.1.0]: https://example.com/compare/v1.0.0...v1.1.0
"""


@pytest.fixture
def changelog(tmp_path: Path) -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG)
    return path


def test_changelog_entries_are_read_by_heading_without_link_references() -> None:
    found = entries(CHANGELOG)
    assert list(found) == ["Unreleased", "1.1.0", "1.0.0"]
    assert found["1.1.0"] == "### Changed\n\n- **Breaking**: a parameter renamed"
    assert found["1.0.0"] == "- undated"


def test_release_notes_are_the_versions_entry(changelog: Path) -> None:
    assert notes("1.1.0", changelog) == (
        "# rotor 1.1.0 (2026-01-02)\n\n### Changed\n\n- **Breaking**: a parameter renamed\n"
    )


@pytest.mark.parametrize(
    ("version", "says"),
    [
        ("2.0.0", "has no entry for 2.0.0: rename '## [Unreleased]'"),
        ("1.0.0", "date the 1.0.0 entry"),
    ],
)
def test_a_version_without_a_dated_entry_has_no_notes(
    changelog: Path, version: str, says: str
) -> None:
    with pytest.raises(ChangelogError, match=re.escape(says)):
        notes(version, changelog)


def test_a_missing_changelog_says_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(ChangelogError, match=r"CHANGELOG\.md is missing"):
        notes("1.0.0", tmp_path / "CHANGELOG.md")
