"""The alternating-users name rule: ``<username>`` and ``<username>_clone`` take turns."""

from __future__ import annotations

from rotor.errors import SecretFormatError

CLONE_SUFFIX = "_clone"


def original_of(username: str) -> str:
    return username.removesuffix(CLONE_SUFFIX) if username.endswith(CLONE_SUFFIX) else username


def clone_of(username: str) -> str:
    return original_of(username) + CLONE_SUFFIX


def alternate(username: str) -> str:
    """The user that takes over from ``username`` on the next rotation."""
    return original_of(username) if username.endswith(CLONE_SUFFIX) else clone_of(username)


def check_length(username: str, limit: int, engine: str) -> None:
    size = len(username.encode("utf-8"))
    if size > limit:
        raise SecretFormatError(
            f"User name '{username}' is {size} bytes; {engine} allows {limit}. The alternating "
            f"strategy needs room for the '{CLONE_SUFFIX}' suffix: use a user name of at most "
            f"{limit - len(CLONE_SUFFIX)} bytes."
        )
