"""``rotor new NAME``: a rotator package to start from, passing the kit's structural checks.

    NAME/
      rotator/app.py            the Rotator subclass and its Lambda handler
      rotator/requirements.txt  what the function needs besides rotor's layer (sam build)
      tests/test_NAME.py        rotor's pytest plugin and RotatorCheck
      template.yaml             SAM: the function with its own dependencies, on rotor's layer
      README.md                 what to write next, and how to deploy

The files come from the ``*.tmpl`` files beside this module, with ``{{name}}``,
``{{package}}`` and ``{{class}}`` filled in.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME = 40
_TEMPLATES = Path(__file__).parent
# Each file written, and the template it comes from.
_FILES = {
    "rotator/app.py": "app.py.tmpl",
    "rotator/requirements.txt": "requirements.txt.tmpl",
    "tests/test_{{package}}.py": "test.py.tmpl",
    "template.yaml": "template.yaml.tmpl",
    "README.md": "README.md.tmpl",
}


class ScaffoldError(ValueError):
    """The name is not usable, or the target exists. One line saying what to change."""


def check_name(name: str) -> str:
    """``name`` itself when usable as a rotator's name; else :class:`ScaffoldError`."""
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ScaffoldError(
            f"Rotator name {name!r} is not usable: use lower-case letters and digits, words "
            f"joined by '-' or '_', starting with a letter, at most {MAX_NAME} characters "
            "(e.g. widget-tokens)."
        )
    if keyword.iskeyword(name.replace("-", "_")):
        raise ScaffoldError(f"Rotator name {name!r} is a Python keyword; choose another.")
    return name


def create(name: str, directory: Path) -> list[Path]:
    """Write a new rotator package ``directory/<package>`` (``<package>``: ``name`` with
    '-' as '_') and return the files written. Refuses to write into a directory that exists
    and is not empty."""
    check_name(name)
    package = name.replace("-", "_")
    values = {
        "name": name,
        "package": package,
        "class": "".join(part.capitalize() for part in re.split(r"[-_]", name)),
    }
    root = Path(directory) / package
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(
            f"{root} already exists and is not empty; choose another name or directory."
        )
    written = []
    for target, template in _FILES.items():
        path = root / _render(target, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render((_TEMPLATES / template).read_text(), values))
        written.append(path)
    return written


def _render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text
