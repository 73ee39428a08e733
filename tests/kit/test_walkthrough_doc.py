"""The code in docs/writing-a-rotator.md is the tested code: each block marked with a file's
path appears in that file, in order, and together the blocks leave out nothing but blank
lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-a-rotator.md"
BLOCK = re.compile(r"^<!-- (\S+) -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, code in BLOCK.findall(DOC.read_text()):
        found.setdefault(path, []).append(code)
    return found


def test_the_walkthrough_shows_both_files():
    assert set(blocks()) == {
        "tests/kit/rabbitmq_users/app.py",
        "tests/kit/test_rabbitmq_users.py",
    }


@pytest.mark.parametrize("path", sorted(blocks()))
def test_the_doc_shows_the_tested_file_whole(path):
    text = (ROOT / path).read_text()
    at = 0
    for code in blocks()[path]:
        found = text.find(code.strip("\n"), at)
        assert found >= 0, (
            f"this block of the doc is not in {path} (after what came before):\n{code}"
        )
        assert text[at:found].strip() == "", f"the doc leaves out of {path}:\n{text[at:found]}"
        at = found + len(code.strip("\n"))
    assert text[at:].strip() == "", f"the doc leaves out the end of {path}:\n{text[at:]}"
