"""Text from AWS made safe for a terminal.

Secret values, tags, CloudTrail messages and a function's answers are written by teams rotor
does not trust, and reach the table, progress and error lines (a check's reason names the
secret's user and host). An escape sequence there would be run by the operator's terminal:
retitle it, rewrite earlier lines (a forged ``PASS``), or on some terminals answer back. So
control characters and bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN``, visible
and inert. JSON output needs nothing: ``json.dump`` escapes them already.
"""

from __future__ import annotations

import re

# C0 and C1 controls but newline and tab (a table cell may wrap on them), and the bidi
# embeddings, overrides and isolates that reorder what a line seems to say.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape instead."""
    return _UNSAFE.sub(_shown, text)
