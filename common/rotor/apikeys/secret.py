"""The rotated secret's JSON shape for API keys, and its validation.

::

    {
      "provider": "sendgrid",            which provider (see rotor.apikeys.registry)
      "api_key": "SG.xxxx",               the key consumers use
      "key_id": "abc123",                 the provider's id of that key: a hint only, rotor
                                         uses the id it proves (see rotor.apikeys.provider)
      "adminarn": "arn:aws:secretsmanager:...:secret:sendgrid-admin",
      "base_url": "https://api.eu.sendgrid.com",   optional; must equal the endpoint the
                                         admin secret allows (see rotor.apikeys.rotator)
      "name_prefix": "payments-",        optional: the start of the names of rotor's keys
                                         (rotor appends a digest of the secret's ARN)
      "previous_key_id": "...",          written by rotor: the proven id of the key this one
                                         replaced (acted on only in versions rotor made)
      "previous_key_check": "...",       written by rotor: binds previous_key_id to key_id
      "scopes": ["mail.send"]            ...and any provider-specific settings
    }

Every other key is kept as it is. Errors name the secret, the stage and the key; never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from rotor.apikeys.provider import IssuedKey
from rotor.errors import SecretFormatError
from rotor.models import text_field

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,47}$")
_SEPARATORS = "-_.:"
DIGEST_LENGTH = 10  # hex digits of sha256(secret ARN) in every key name rotor makes
CHECK = "previous_key_check"


def previous_key_check(key_id: str, previous_key_id: str) -> str:
    """What rotor writes beside ``previous_key_id``: a digest binding it to ``key_id``.

    ``key_id`` is the id the provider gave the new key, unknown before rotor made it. So a
    value copied into a version from the secret (as releases before the ownership proof did,
    or from a field planted by the secret's writers) cannot carry a matching check: only a
    ``previous_key_id`` written by this release after the proof can.
    """
    return hashlib.sha256(f"rotor-previous-key:{key_id}\n{previous_key_id}".encode()).hexdigest()


@dataclass(frozen=True, repr=False)
class ApiKeySecret:
    """The rotated secret's fields, validated; ``raw`` keeps every other key as it was."""

    provider: str
    api_key: str
    key_id: str | None
    adminarn: str
    base_url: str | None
    name_prefix: str | None
    previous_key_id: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: dict[str, Any], where: str) -> ApiKeySecret:
        provider = str(text_field(value, "provider", where))
        prefix = text_field(value, "name_prefix", where, required=False)
        if prefix is not None and not _PREFIX.match(prefix):
            raise SecretFormatError(
                f"{where}: key 'name_prefix' must be 1-48 letters, digits, '-', '_', '.' or ':'."
            )
        adminarn = text_field(value, "adminarn", where, required=False)
        if adminarn is None:
            raise SecretFormatError(
                f"{where}: key 'adminarn' is missing; API key rotation needs the ARN of the "
                "secret holding the admin credential that may create and revoke keys."
            )
        return cls(
            provider=provider.strip().lower(),
            api_key=str(text_field(value, "api_key", where)),
            key_id=text_field(value, "key_id", where, required=False),
            adminarn=adminarn,
            base_url=text_field(value, "base_url", where, required=False),
            name_prefix=prefix,
            previous_key_id=text_field(value, "previous_key_id", where, required=False),
            raw=dict(value),
        )

    def prefix_for(self, secret_arn: str) -> str:
        """How keys made for this secret are named: ``<prefix><rotation token>``.

        Always ends with a digest of the secret's ARN, so no two secrets share a prefix even
        when they are given the same ``name_prefix`` (or one's is the start of another's):
        ``rotor-<digest>-`` by default, ``<name_prefix><digest>-`` otherwise (with a ``-``
        between them unless ``name_prefix`` ends with ``-``, ``_``, ``.`` or ``:``).
        """
        digest = hashlib.sha256(secret_arn.encode()).hexdigest()[:DIGEST_LENGTH]
        custom = self.name_prefix
        if custom is None:
            return f"rotor-{digest}-"
        separator = "" if custom[-1] in _SEPARATORS else "-"
        return f"{custom}{separator}{digest}-"

    def successor(self, issued: IssuedKey, previous_key_id: str | None) -> dict[str, Any]:
        """The next version's JSON: the new key, every other key kept as it was.

        ``previous_key_id`` is the PROVEN id of the key replaced (``None``: not proven, so not
        written); never this secret's ``key_id`` or ``previous_key_id``, which its writers
        choose."""
        value = {**self.raw, "api_key": issued.key, "key_id": issued.key_id}
        for written_by_rotor in ("previous_key_id", CHECK, "key_metadata"):
            value.pop(written_by_rotor, None)
        if previous_key_id is not None:
            value["previous_key_id"] = previous_key_id
            value[CHECK] = previous_key_check(issued.key_id, previous_key_id)
        if issued.metadata:
            value["key_metadata"] = dict(issued.metadata)
        return value

    def previous_key_bound(self) -> bool:
        """Whether ``previous_key_id`` carries rotor's check for this version's ``key_id``."""
        check = self.raw.get(CHECK)
        if self.previous_key_id is None or self.key_id is None or not isinstance(check, str):
            return False
        expected = previous_key_check(self.key_id, self.previous_key_id)
        return hmac.compare_digest(check.encode(), expected.encode())

    def __repr__(self) -> str:
        return (
            f"ApiKeySecret(provider={self.provider!r}, key_id={self.key_id!r}, "
            f"adminarn={self.adminarn!r}, base_url={self.base_url!r})"
        )
