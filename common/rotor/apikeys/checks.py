"""Preflight checks of the API key rotator (:mod:`rotor.preflight`).

The same code createSecret runs, minus the key it would issue: the secret parsed, the admin
secret read and held to its endpoint and provider (:meth:`ApiKeyRotator.provider`), the
current key tried at the provider, and the proof that it is a live key of the admin's account
(which the admin credential makes: a refused admin credential fails it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rotor.apikeys.provider import Provider
from rotor.apikeys.secret import ApiKeySecret
from rotor.preflight import Check, Report
from rotor.protocol import Rotation
from rotor.secrets import CURRENT

if TYPE_CHECKING:
    from rotor.apikeys.rotator import ApiKeyRotator

PARSES, ADMIN, WORKS, OWNED = "secret parses", "admin secret", "current key works", "key owned"


class ApiKeyChecks:
    def __init__(self, rotator: ApiKeyRotator, rotation: Rotation, report: Report) -> None:
        self.rotator, self.rotation, self.report = rotator, rotation, report
        self.where = rotation.where(CURRENT)
        self.provider: Provider | None = None

    def build(self) -> list[Check]:
        return [
            Check(PARSES, self.parses),
            Check(ADMIN, self.admin_secret, (PARSES,)),
            Check(WORKS, self.key_works, (ADMIN,)),
            Check(OWNED, self.key_owned, (ADMIN,)),
        ]

    def secret(self) -> ApiKeySecret:
        return ApiKeySecret.parse(self.rotation.current(), self.where)

    def parses(self) -> str:
        secret = self.secret()
        self.report.admin_arn = secret.adminarn
        return f"provider '{secret.provider}', key id {secret.key_id or '(not given)'}"

    def admin_secret(self) -> str:
        secret = self.secret()
        self.provider = self.rotator.provider(self.rotation, secret, self.where)
        return (
            f"{secret.adminarn} is readable and sends its credential to "
            f"{self.provider.context.http.base_url}"
        )

    def _provider(self) -> Provider:
        assert self.provider is not None  # needs ADMIN
        return self.provider

    def key_works(self) -> str:
        self._provider().verify_key(self.secret().api_key)
        return f"the provider accepts the {CURRENT} key"

    def key_owned(self) -> str:
        key_id = self.rotator.prove_current(self._provider(), self.secret())
        shown = key_id if key_id is not None else "(not proven: never revoked by rotor)"
        return f"a live key of the admin's account, id {shown}"
