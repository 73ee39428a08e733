"""CHANGELOG.md as data: the entry of a version, which the release ships as its notes.

The file follows Keep a Changelog (https://keepachangelog.com/en/1.1.0/): one
``## [X.Y.Z] - YYYY-MM-DD`` heading per release, newest first, ``## [Unreleased]`` on top while
changes wait for a version. Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHANGELOG = ROOT / "CHANGELOG.md"
HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$", re.M)


class ChangelogError(Exception):
    """CHANGELOG.md cannot give the notes of a release; the message says what to add."""


def entries(text: str) -> dict[str, str]:
    """Each heading's version (``Unreleased`` included) and its body, in file order."""
    found: dict[str, str] = {}
    headings = list(HEADING.finditer(text))
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[heading.end() : end]
        body = re.sub(r"^\[[^\]]+\]: \S+\s*$", "", body, flags=re.M)  # link references
        found[heading["version"]] = body.strip()
    return found


def notes(version: str, path: Path = CHANGELOG) -> str:
    """The release notes of ``version``: its heading and entry, as Markdown."""
    if not path.is_file():
        raise ChangelogError(f"{path.name} is missing: write it (Keep a Changelog) first.")
    text = path.read_text()
    heading = next((h for h in HEADING.finditer(text) if h["version"] == version), None)
    body = entries(text).get(version, "")
    if heading is None or not body:
        raise ChangelogError(
            f"{path.name} has no entry for {version}: rename '## [Unreleased]' to "
            f"'## [{version}] - <date>' and list the changes under it."
        )
    if heading["date"] is None:
        raise ChangelogError(f"{path.name}: date the {version} entry ('## [{version}] - <date>').")
    return f"# rotor {version} ({heading['date']})\n\n{body}\n"
