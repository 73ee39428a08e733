"""CloudFormation YAML out of Python data, with the short-form tags (``!Ref``, ``!Sub``, ``!If``).

A template is built from dicts, lists, strings, numbers and :class:`Fn` (an intrinsic
function); a dict key may be a :class:`Key` carrying a comment and a blank line to write before
it. Lists and functions go on one line when they hold no mapping and fit in :data:`WIDTH`;
longer strings fold (``>-``). Standard library only: the writer needs no YAML library, and
tests/deploy reads its output back with a CloudFormation-aware loader to compare it with
:func:`as_cfn` of what was built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WIDTH = 100
# Plain scalars YAML 1.1 would read as something else than a string.
_RESERVED = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}
_NOT_FIRST = set("-?:,[]{}#&*!|>'\"%@`0123456789+.~=<")
_NEVER_PLAIN = set("#'\"`\t\r\n")
_FLOW_INDICATORS = set(",[]{}")


@dataclass(frozen=True)
class Fn:
    """An intrinsic function, written ``!<tag> <value>``."""

    tag: str
    value: Any


def ref(name: str) -> Fn:
    return Fn("Ref", name)


def sub(text: str) -> Fn:
    return Fn("Sub", text)


def get_att(resource: str, attribute: str) -> Fn:
    return Fn("GetAtt", f"{resource}.{attribute}")


def if_(condition: str, yes: Any, no: Any) -> Fn:
    return Fn("If", [condition, yes, no])


def not_(value: Any) -> Fn:
    return Fn("Not", [value])


def equals(left: Any, right: Any) -> Fn:
    return Fn("Equals", [left, right])


def contains(values: Any, value: Any) -> Fn:
    return Fn("Contains", [values, value])


def join(separator: str, values: Any) -> Fn:
    return Fn("Join", [separator, values])


def split(separator: str, value: Any) -> Fn:
    return Fn("Split", [separator, value])


def and_(*conditions: Any) -> Fn:
    return Fn("And", list(conditions))


def or_(*conditions: Any) -> Fn:
    return Fn("Or", list(conditions))


def condition(name: str) -> Fn:
    return Fn("Condition", name)


NO_VALUE = ref("AWS::NoValue")


class Key(str):
    """A mapping key with a comment (and optionally a blank line) written before it."""

    comment: str
    blank: bool

    def __new__(cls, name: str, comment: str = "", *, blank: bool = False) -> Key:
        key = super().__new__(cls, name)
        key.comment = comment
        key.blank = blank
        return key


def as_cfn(value: Any) -> Any:
    """``value`` as CloudFormation reads it: ``!Ref x`` is ``{"Ref": "x"}``, ``!GetAtt a.b``
    is ``{"Fn::GetAtt": ["a", "b"]}``, ``!If [...]`` is ``{"Fn::If": [...]}``."""
    if isinstance(value, Fn):
        inner = as_cfn(value.value)
        if value.tag in ("Ref", "Condition"):
            return {value.tag: inner}
        if value.tag == "GetAtt":
            return {"Fn::GetAtt": inner.split(".", 1)}
        return {f"Fn::{value.tag}": inner}
    if isinstance(value, Mapping):
        return {str(k): as_cfn(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cfn(v) for v in value]
    return value


def dump(document: Mapping[str, Any], header: str = "") -> str:
    """The YAML text of ``document``, after ``header`` as comment lines."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += _mapping(document, 0)
    return "\n".join(lines) + "\n"


def _mapping(mapping: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(key, Key):
            if key.blank:
                lines.append("")
            lines += [f"{pad}# {line}".rstrip() for line in key.comment.splitlines()]
        lines += _entry(f"{pad}{_scalar(str(key), flow=False)}:", value, indent)
    return lines


def _entry(prefix: str, value: Any, indent: int) -> list[str]:
    """``prefix`` (a key and its colon, or a dash) with ``value``, nested at ``indent + 2``."""
    inline = _inline(value, flow=False)
    if inline is not None and (len(prefix) + 1 + len(inline) <= WIDTH or not _breaks(value)):
        return [f"{prefix} {inline}"]
    inner = indent + 2
    if isinstance(value, Fn):
        head = f"{prefix} !{value.tag}"
        if isinstance(value.value, list):
            return [head, *_sequence(value.value, inner)]
        if isinstance(value.value, Mapping):
            return [head, *_mapping(value.value, inner)]
        return [f"{head} >-", *_fold(value.value, inner)]
    if isinstance(value, Mapping):
        return [prefix, *_mapping(value, inner)]
    if isinstance(value, list):
        return [prefix, *_sequence(value, inner)]
    return [f"{prefix} >-", *_fold(value, inner)]


def _sequence(items: list[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        inline = _inline(item, flow=False)
        nested: list[str] | None = None
        if inline is not None and len(pad) + 2 + len(inline) <= WIDTH:
            nested = None
        elif isinstance(item, Mapping) and item:
            if any(isinstance(k, Key) and (k.comment or k.blank) for k in item):
                raise ValueError("a mapping in a list cannot carry comments")
            nested = _mapping(item, indent + 2)
        elif isinstance(item, list) and item:
            nested = _sequence(item, indent + 2)
        if nested is None:
            lines += _entry(f"{pad}-", item, indent)
        else:  # compact form: "- key: value" / "- - item"
            lines += [f"{pad}- {nested[0][indent + 2 :]}", *nested[1:]]
    return lines


def _breaks(value: Any) -> bool:
    """Whether ``value`` can be written over several lines."""
    if isinstance(value, Fn):
        return not isinstance(value.value, str) or _foldable(value.value)
    if isinstance(value, str):
        return _foldable(value)
    return isinstance(value, (Mapping, list)) and bool(value)


def _inline(value: Any, *, flow: bool) -> str | None:
    """``value`` on one line, or ``None`` when it holds a mapping."""
    if isinstance(value, Fn):
        inner = _inline(value.value, flow=flow)
        return None if inner is None else f"!{value.tag} {inner}"
    if isinstance(value, Mapping):
        return None if value else "{}"
    if isinstance(value, list):
        parts = [_inline(item, flow=True) for item in value]
        if any(part is None for part in parts):
            return None
        return "[" + ", ".join(str(part) for part in parts) + "]"
    return _scalar(value, flow=flow)


def _scalar(value: Any, *, flow: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} {value!r} as YAML")
    return value if _plain(value, flow=flow) else json.dumps(value, ensure_ascii=False)


def _plain(text: str, *, flow: bool) -> bool:
    """Whether ``text`` reads back as the same string without quotes (conservatively)."""
    return (
        bool(text)
        and text == text.strip()
        and text[0] not in _NOT_FIRST
        and not _NEVER_PLAIN & set(text)
        and ": " not in text
        and not text.endswith(":")
        and text.lower() not in _RESERVED
        and not (flow and _FLOW_INDICATORS & set(text))
    )


def _foldable(text: str) -> bool:
    return (
        " " in text
        and text == text.strip()
        and "  " not in text
        and re.search(r"[\n\t\r]", text) is None
    )


def _fold(text: str, indent: int) -> list[str]:
    """Folded-block lines of ``text``: a single space wherever a line breaks."""
    pad, width = " " * indent, WIDTH - indent
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(pad + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(pad + current)
    return lines
