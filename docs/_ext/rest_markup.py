"""Griffe extension of the API reference: rotor's docstrings use two pieces of reStructuredText
that Markdown would print as they are, Sphinx roles (``:class:`Rotator```) and the ``::`` that
opens a literal block. This shows the role's name as code and drops the ``::`` (the indented
block after it is already a Markdown code block)."""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`~?\.?([^`]+)`")
LITERAL_ALONE = re.compile(r"^[ \t]*::[ \t]*\n", re.MULTILINE)  # a line of its own: dropped
LITERAL_AFTER_TEXT = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)  # "as follows::" -> "...:"


def markdown(docstring: str) -> str:
    """The docstring with its reStructuredText roles and literal markers made Markdown."""
    text = ROLE.sub(r"`\1`", docstring)
    text = LITERAL_ALONE.sub("", text)
    return LITERAL_AFTER_TEXT.sub(r"\1:", text)


class RestMarkup(Extension):
    """Rewrites every docstring as it loads, before mkdocstrings parses it."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
