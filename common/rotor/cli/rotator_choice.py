"""Which of rotor's rotators rotates a secret, for the fleet commands (``schedule``, ``check``,
``rotate-all --local``).

In order: ``--rotator`` given to the command; the secret's tag ``rotor:rotator`` (the way to
say it once per secret, and the only way for choices the value cannot show, such as dual
passwords); then the secret's value: its ``engine``, and ``masterarn`` present or not (as
hosted rotation chooses single or multi user), or ``provider`` for an API key. Names use the
CLI's spelling (``mysql-alternating``); underscores are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rotor.models import MYSQL_ENGINES, POSTGRES_ENGINES, REDIS_ENGINES

ROTATOR_TAG = "rotor:rotator"
NAMES = (
    "postgresql-single",
    "postgresql-alternating",
    "mysql-single",
    "mysql-alternating",
    "mysql-dual",
    "redis",
    "apikey",
)


def rotator_option(parser: Any, *, local_only: bool) -> None:
    """``--rotator``, worded alike by every fleet command (``parser``: a parser or a group)."""
    when = "with --local: " if local_only else ""
    parser.add_argument(
        "--rotator",
        metavar="NAME",
        help=f"{when}the rotator of every selected secret, as `rotor rotators` names it "
        f"(default: the secret's {ROTATOR_TAG} tag, else its engine and masterarn)",
    )


class NoRotator(ValueError):
    """The secret does not say which rotator it needs; the message says how to tell rotor."""


def spelling(name: str) -> str:
    """The CLI's spelling of a rotator name (hyphens, lower case)."""
    return name.strip().lower().replace("_", "-")


def rotator_for(
    value: Mapping[str, Any] | None, tags: Mapping[str, str], given: str | None = None
) -> str:
    """The rotator's name (one of NAMES, or the tag's / option's own name for a custom one).
    ``value``: the secret's AWSCURRENT JSON, None when it was not read."""
    if given:
        return spelling(given)
    if tags.get(ROTATOR_TAG):
        return spelling(tags[ROTATOR_TAG])
    if value is None:
        raise NoRotator(f"no {ROTATOR_TAG} tag and the value was not read: pass --rotator")
    hint = f"tag the secret {ROTATOR_TAG}=<name> or pass --rotator"
    if "provider" in value and "engine" not in value:
        return "apikey"
    engine = str(value.get("engine", "")).strip().lower()
    if not engine:
        raise NoRotator(f"the secret has no 'engine' (nor 'provider'): {hint}")
    multi = bool(value.get("masterarn"))
    if engine in POSTGRES_ENGINES:
        return "postgresql-alternating" if multi else "postgresql-single"
    if engine in MYSQL_ENGINES:
        return "mysql-alternating" if multi else "mysql-single"
    if engine in REDIS_ENGINES:
        return "redis"
    raise NoRotator(f"rotor ships no rotator for engine {engine!r}: {hint}")


def read_rotator(sm: Any, arn: str, tags: Mapping[str, str], given: str | None = None) -> str:
    """``rotator_for`` a secret in Secrets Manager, reading AWSCURRENT's value (by its stage,
    never shown) only when neither ``given`` nor the tag says."""
    if given or tags.get(ROTATOR_TAG):
        return rotator_for(None, tags, given)
    text = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT").get("SecretString")
    try:
        value = json.loads(text or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise NoRotator(
            f"AWSCURRENT is not a JSON object: tag the secret {ROTATOR_TAG}=NAME or pass --rotator"
        )
    return rotator_for(value, tags, given)
