"""Griffe extension of the API reference: rotor's docstrings name objects with Sphinx roles
(``:class:`Rotator```), which Markdown would print as they are; this keeps the name as code."""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`~?\.?([^`]+)`")


class SphinxRoles(Extension):
    """Rewrites ``:role:`name``` to a code span of ``name`` in every docstring, as it loads."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
