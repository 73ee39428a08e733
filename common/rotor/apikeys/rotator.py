"""API key rotation: two generations valid; the one before is revoked once the new one is current.

createSecret
    Issues a key named ``<prefix><ClientRequestToken>`` and stores it (with its id) as
    AWSPENDING. Idempotent on the token: a key of that name already at the provider was made
    by an earlier attempt whose PutSecretValue never happened (the base class runs ``create``
    only while AWSPENDING has no value). It is reused when the provider can show it again
    (Datadog), otherwise revoked - it was never stored, nobody can hold it - and replaced.
setSecret
    Nothing, unless the provider has an ``activate`` step.
testSecret
    The provider proves the pending key works.
finishSecret (after AWSCURRENT moved; repeated on a retried finish)
    Revokes the key the AWSPREVIOUS version replaced (``previous_key_id``): the generation
    before AWSPREVIOUS. Then sweeps up keys named with this secret's prefix that no version
    labelled AWSCURRENT, AWSPREVIOUS or AWSPENDING holds (left by abandoned rotations).
    Both steps converge when repeated: revoking a key already gone is not an error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from rotor.apikeys.http import HttpClient, check_base_url
from rotor.apikeys.provider import IssuedKey, Provider, ProviderContext
from rotor.apikeys.registry import provider_class
from rotor.apikeys.secret import ApiKeySecret
from rotor.errors import SecretFormatError, StateError
from rotor.observability import logger, metrics
from rotor.protocol import Rotation, Rotator
from rotor.secrets import CURRENT, PENDING, PREVIOUS, SecretDescription

_TOKEN = re.compile(r"^[A-Za-z0-9-]{32,64}$")
_LABELS = frozenset({CURRENT, PREVIOUS, PENDING})


class ApiKeyRotator(Rotator):
    name = "apikey"

    def __init__(self, store: Any = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(store)
        self._sleep = sleep

    # --- the contract -------------------------------------------------------------------
    def create(self, rotation: Rotation) -> dict[str, Any]:
        where = self._where(rotation, CURRENT)
        current = ApiKeySecret.parse(rotation.current(), where)
        provider = self.provider(rotation, current, where)
        prefix = current.prefix_for(rotation.secret_arn)
        issued = self._issue(provider, prefix + rotation.token, prefix)
        logger.info("Issued a new API key",
                    extra={"provider": current.provider, "key_id": issued.key_id,
                           "key_name": issued.name})
        return current.successor(issued)

    def apply(self, rotation: Rotation) -> None:
        where = self._where(rotation, PENDING)
        pending = ApiKeySecret.parse(rotation.pending(), where)
        cls = provider_class(pending.provider, where)
        if cls.activate is Provider.activate:
            logger.info("The provider needs no activation step")
            return
        provider = self.provider(rotation, pending, where)
        prefix = pending.prefix_for(rotation.secret_arn)
        provider.activate(IssuedKey(pending.api_key, pending.key_id or "", prefix + rotation.token))

    def verify(self, rotation: Rotation) -> None:
        where = self._where(rotation, PENDING)
        pending = ApiKeySecret.parse(rotation.pending(), where)
        self.provider(rotation, pending, where).verify_key(pending.api_key)
        logger.info("The new API key works", extra={"key_id": pending.key_id})

    def finished(self, rotation: Rotation) -> None:
        arn = rotation.secret_arn
        now = self.store.describe(arn)  # the labels after the move, also on a retried finish
        where = self._where(rotation, CURRENT)
        current = ApiKeySecret.parse(self.store.get(arn, CURRENT, now.version_with(CURRENT)),
                                     where)
        previous = self._previous(rotation, now)
        keep = {k for k in (current.key_id, previous and previous.key_id) if k}
        provider = self.provider(rotation, current, where)
        revoked = 0
        retire = previous.previous_key_id if previous is not None else None
        if retire and retire not in keep:
            existed = provider.revoke_key(retire)
            revoked += existed
            logger.info("Revoked the key two generations old",
                        extra={"key_id": retire, "already_gone": not existed})
        revoked += self._sweep(provider, current.prefix_for(arn), keep, arn)
        if revoked:
            metrics.add_metric("ApiKeysRevoked", unit="Count", value=revoked)

    # --- helpers --------------------------------------------------------------------------
    def provider(self, rotation: Rotation, secret: ApiKeySecret, where: str) -> Provider:
        """The provider named by ``secret``, bound to its base URL and the admin secret."""
        cls = provider_class(secret.provider, where)
        base_url = secret.base_url or cls.default_base_url
        if base_url is None:
            raise SecretFormatError(
                f"{where}: key 'base_url' is missing; provider '{secret.provider}' has no "
                "default endpoint."
            )
        base_url = check_base_url(base_url, where)
        admin_where = f"Admin secret {secret.adminarn}"
        admin = self._read_admin(rotation, secret.adminarn, admin_where)
        http = HttpClient(base_url, provider=secret.provider, wait_headers=cls.wait_headers,
                          sleep=self._sleep)
        provider = cls(ProviderContext(settings=secret.raw, admin=admin, http=http,
                                       where=where, admin_where=admin_where))
        provider.check_settings()
        return provider

    @staticmethod
    def _read_admin(rotation: Rotation, arn: str, where: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return rotation.read_secret(arn)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StateError(
                f"{where} (named by key 'adminarn') cannot be read ({code}); check the ARN "
                "and that this function may read it."
            ) from None

    @staticmethod
    def _where(rotation: Rotation, stage: str) -> str:
        return f"Secret {rotation.description.name} ({stage})"

    def _previous(self, rotation: Rotation, now: SecretDescription) -> ApiKeySecret | None:
        version = now.version_with(PREVIOUS)
        value = None if version is None else self.store.find(rotation.secret_arn, PREVIOUS,
                                                             version)
        if value is None:
            return None
        try:
            return ApiKeySecret.parse(value, self._where(rotation, PREVIOUS))
        except SecretFormatError as exc:  # written by hand: nothing of it is rotor's to revoke
            logger.warning("AWSPREVIOUS is not an API key secret; not revoking its predecessor",
                           extra={"error": str(exc)})
            return None

    @staticmethod
    def _issue(provider: Provider, name: str, prefix: str) -> IssuedKey:
        listed = provider.list_keys(prefix)
        if listed is None:
            logger.warning("This provider cannot list keys: a retried createSecret may leave "
                           "an extra key behind")
        for info in (k for k in listed or [] if k.name == name):
            value = provider.fetch_key(info.key_id)
            if value:
                logger.info("Reusing the key an earlier attempt of this rotation made",
                            extra={"key_id": info.key_id})
                return IssuedKey(value, info.key_id, name)
            existed = provider.revoke_key(info.key_id)
            logger.info("Revoked a key an earlier attempt made but never stored",
                        extra={"key_id": info.key_id, "already_gone": not existed})
        return provider.create_key(name)

    def _sweep(self, provider: Provider, prefix: str, keep: set[str], arn: str) -> int:
        listed = provider.list_keys(prefix)
        if listed is None:
            return 0
        # Described after listing: a rotation that started since has its version labelled
        # AWSPENDING already, so the key it may just have made is protected.
        labelled = {v for v, stages in self.store.describe(arn).versions.items()
                    if _LABELS.intersection(stages)}
        revoked = 0
        for info in listed:
            token = info.name[len(prefix):] if info.name.startswith(prefix) else ""
            if not _TOKEN.match(token) or info.key_id in keep or token in labelled:
                continue
            revoked += provider.revoke_key(info.key_id)
            logger.info("Revoked a key no labelled version holds",
                        extra={"key_id": info.key_id, "key_name": info.name})
        return revoked
