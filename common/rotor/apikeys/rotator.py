"""API key rotation: two generations valid; the one before is revoked once the new one is current.

createSecret
    Proves the current key is a live key of the admin's account (``Provider.owned_key``) before
    the admin credential acts for this secret: a working key of another account, a garbage key
    or a claimed ``key_id`` proves nothing. Then issues a key named ``<prefix><ClientRequestToken>``
    and stores it (with its id) as AWSPENDING, with ``previous_key_id`` = the PROVEN id of the
    current key (never copied from the secret). Under a break-glass entry of the admin secret
    (:mod:`rotor.breakglass`) the proof is skipped and no ``previous_key_id`` is written.
    Idempotent on the token: a key of that name already at the provider was made by an earlier
    attempt whose PutSecretValue never happened (the base class runs ``create`` only while
    AWSPENDING has no value). It is reused when the provider can show it again (Datadog),
    otherwise revoked - it was never stored, nobody can hold it - and replaced.
setSecret
    Nothing, unless the provider has an ``activate`` step; that runs only for the key rotor
    made for this token (a pending value written by hand is refused: the admin would act on
    ids its writer chose).
testSecret
    The provider proves the pending key works.
finishSecret (after AWSCURRENT moved; repeated on a retried finish)
    Revokes only what rotor can prove is this secret's to revoke:

    * the key named by ``previous_key_id`` of the AWSPREVIOUS version, only if rotor made that
      version: its ``api_key`` is proven a live key of the admin's account whose id is its
      ``key_id`` and whose name (per the admin's record) is ``<prefix><that version's id>``,
      and its ``previous_key_check`` binds ``previous_key_id`` to that ``key_id``. Rotor names
      a key so only for the version it stores it in, and writes ``previous_key_id`` there only
      after the ownership proof. A version written by hand (even one naming a key rotor made)
      fails this, and so does a version written by an earlier release (it copied
      ``previous_key_id`` from the secret): nothing is revoked, a warning says what to revoke
      by hand.
    * keys named exactly ``<this secret's prefix><UUID>`` that no version labelled AWSCURRENT,
      AWSPREVIOUS or AWSPENDING holds (left by abandoned rotations). The prefix always carries
      a digest of this secret's ARN, so no other secret's key matches.

    A key whose id (or, where the provider shows keys again, value) a labelled version holds
    is never revoked. Both converge when repeated: revoking a key already gone is no error.

Trust: the rotated secret is writable by the teams that use the key; the admin secret is
not. So everything that decides where the admin credential goes, and what a new key may do,
comes from the admin secret, from code, or from the provider's record of the proven current
key: the endpoint (the admin secret's ``base_url``, else the provider's default; a rotated
secret may repeat it but not change it), the provider (the admin secret's ``provider``,
required when it has no ``base_url``; a rotated secret must name the same one), the generic
provider's request description (see :mod:`rotor.apikeys.generic`), and a new key's privileges
(never more than the current key's; see :mod:`rotor.apikeys.sendgrid`). Every string of the
admin secret but its settings (``_ADMIN_SETTINGS``) is registered with the redactor.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rotor.apikeys.http import HttpClient, check_base_url, safe_id
from rotor.apikeys.provider import IssuedKey, KeyInfo, NotOwned, Provider, ProviderContext
from rotor.apikeys.registry import provider_class
from rotor.apikeys.secret import ApiKeySecret
from rotor.errors import ConfigurationError, SecretFormatError, ServiceError
from rotor.models import text_field
from rotor.observability import logger, metrics, redactor
from rotor.protocol import Rotation, Rotator
from rotor.secrets import CURRENT, PENDING, PREVIOUS, SecretDescription

if TYPE_CHECKING:
    from rotor.preflight import Check, Report

# The rotation token in a key name: a UUID (what Secrets Manager generates) or 32-64 hex
# digits. Strict on purpose: whatever follows another secret's prefix in its key names holds
# that secret's digest and a '-', so it can never look like this.
_HEX = "[0-9A-Fa-f]"
_TOKEN = re.compile(rf"^(?:{_HEX}{{8}}(?:-{_HEX}{{4}}){{3}}-{_HEX}{{12}}|{_HEX}{{32,64}})$")
_LABELS = (CURRENT, PREVIOUS, PENDING)
# Settings of the admin secret that are configuration, not credentials (not redacted).
_ADMIN_SETTINGS = frozenset(
    {"base_url", "http", "provider", "allowed_scopes", "break_glass", "allowed_secrets"}
)


@dataclass(frozen=True)
class _Held:
    """What the versions labelled AWSCURRENT, AWSPREVIOUS or AWSPENDING hold."""

    versions: frozenset[str]
    key_ids: frozenset[str]
    keys: frozenset[str]


class ApiKeyRotator(Rotator):
    """Rotates a third-party API key through the provider its secret names
    (``lambda_handler = ApiKeyRotator().handler``; docs/apikeys.md)."""

    name = "apikey"
    keeps = "new_and_previous"  # finishSecret revokes the key two generations old

    def __init__(self, store: Any = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(store)
        self._sleep = sleep

    # --- the contract -------------------------------------------------------------------
    def create(self, rotation: Rotation) -> dict[str, Any]:
        where = rotation.where(CURRENT)
        current = ApiKeySecret.parse(rotation.current(), where)
        provider = self.provider(rotation, current, where)
        try:
            proven_id = self.prove_current(provider, current)
        except NotOwned:  # break glass is for exactly this, and only for this
            if not rotation.break_glass(provider.context.admin, provider.context.admin_where):
                raise
            provider = self.provider(rotation, current, where, break_glass=True)
            proven_id = self.prove_current(provider, current)
        prefix = current.prefix_for(rotation.secret_arn)
        issued = self._issue(provider, prefix + rotation.token, prefix)
        if not safe_id(issued.key_id):
            raise ServiceError(
                f"Create a key at {current.provider}: the provider answered an id rotor cannot "
                "use in a URL path (it could never revoke the key); revoke the key named "
                f"{issued.name} by hand and report the provider's answer."
            )
        logger.info(
            "Issued a new API key",
            extra={"provider": current.provider, "key_id": issued.key_id, "key_name": issued.name},
        )
        return current.successor(issued, previous_key_id=proven_id)

    def apply(self, rotation: Rotation) -> None:
        where = rotation.where(PENDING)
        pending = ApiKeySecret.parse(rotation.pending(), where)
        cls = provider_class(pending.provider, where)
        if cls.activate is Provider.activate:
            logger.info("The provider needs no activation step")
            return
        provider = self.provider(rotation, pending, where)
        if not self._made_by_rotor(provider, pending, rotation.token, rotation.secret_arn):
            raise NotOwned(
                f"{where}: the pending key is not the key rotor made for this rotation (a value "
                "written by hand?), so the admin credential does not activate it. Remove the "
                "AWSPENDING label from this version and rotate again."
            )
        prefix = pending.prefix_for(rotation.secret_arn)
        assert pending.key_id is not None  # proven by _made_by_rotor
        provider.activate(IssuedKey(pending.api_key, pending.key_id, prefix + rotation.token))

    def verify(self, rotation: Rotation) -> None:
        where = rotation.where(PENDING)
        pending = ApiKeySecret.parse(rotation.pending(), where)
        self.provider(rotation, pending, where).verify_key(pending.api_key)
        logger.info("The new API key works", extra={"key_id": pending.key_id})

    def finished(self, rotation: Rotation) -> None:
        arn = rotation.secret_arn
        where = rotation.where(CURRENT)
        current = ApiKeySecret.parse(rotation.current(), where)
        provider = self.provider(rotation, current, where)
        revoked = self._retire(provider, rotation)
        revoked += self._sweep(provider, current.prefix_for(arn), arn)
        if revoked:
            metrics.add_metric("ApiKeysRevoked", unit="Count", value=revoked)

    def checks(self, rotation: Rotation, report: Report) -> list[Check]:
        from rotor.apikeys.checks import ApiKeyChecks  # only a check event needs it

        return ApiKeyChecks(self, rotation, report).build()

    # --- ownership ------------------------------------------------------------------------
    @staticmethod
    def prove_current(provider: Provider, current: ApiKeySecret) -> str | None:
        """The proven id of the current key in the admin's account (``None``: not known, so
        never revoked later); raises :class:`NotOwned` when the key is not proven at all."""
        context = provider.context
        if _is_admin_credential(current.api_key, context.admin):
            raise NotOwned(
                f"{context.where}: key 'api_key' holds a credential of {context.admin_where}; "
                "rotor would revoke it two rotations later. Give this secret a key of its own."
            )
        if context.break_glass:
            logger.warning(
                "BREAK GLASS: the current key is not proven; the new version names no "
                "previous_key_id, so rotor never revokes the current key: revoke it "
                "by hand",
                extra={"claimed_key_id": current.key_id},
            )
            return None
        owned = provider.owned_key(current.api_key, current.key_id)
        if owned is None:
            raise NotOwned(
                f"{context.where}: key 'api_key' is not proven to be a live key of the "
                f"{context.http.provider} account of {context.admin_where}, so its admin "
                "credential does not act for this secret and no key was made. Put a working key "
                "of that account in 'api_key' (AWSCURRENT); if it was revoked after a leak, the "
                "platform team can authorise a reset with 'break_glass' in the admin secret."
            )
        if owned.key_id is None or not safe_id(owned.key_id):
            logger.warning(
                "The current key belongs to the admin's account, but the provider "
                "does not prove its id: rotor will not revoke it; revoke it by hand "
                "once unused",
                extra={"claimed_key_id": current.key_id},
            )
            return None
        if current.key_id is not None and current.key_id != owned.key_id:
            logger.warning(
                "The secret's key_id is not the id of the key it holds; using the proven id",
                extra={"claimed_key_id": current.key_id, "key_id": owned.key_id},
            )
        logger.info(
            "The current key is proven to be a key of the admin's account",
            extra={"key_id": owned.key_id},
        )
        return owned.key_id

    def _retire(self, provider: Provider, rotation: Rotation) -> int:
        """Revoke ``previous_key_id`` of AWSPREVIOUS, only if rotor made that version."""
        version = rotation.description.version_with(PREVIOUS)
        previous = self._previous(rotation)
        retire = previous.previous_key_id if previous is not None else None
        if version is None or previous is None or retire is None:
            return 0
        if retire in self._held(rotation.secret_arn, rotation.description).key_ids:
            logger.info(
                "The key two generations old is still held by a labelled version",
                extra={"key_id": retire},
            )
            return 0
        if not (
            safe_id(retire)
            and previous.previous_key_bound()
            and self._made_by_rotor(provider, previous, version, rotation.secret_arn)
        ):
            logger.warning(
                "AWSPREVIOUS was not made by rotor (or its key is no longer proven), so the key "
                "it names as previous_key_id is not revoked. If that key is this secret's and "
                "no longer used, revoke it by hand",
                extra={"version": version, "previous_key_id": retire},
            )
            return 0
        existed = provider.revoke_key(retire)
        logger.info(
            "Revoked the key two generations old",
            extra={"key_id": retire, "already_gone": not existed},
        )
        return int(existed)

    def _made_by_rotor(
        self, provider: Provider, secret: ApiKeySecret, version: str, arn: str
    ) -> bool:
        """Whether ``version`` holds the key rotor made for it: its ``api_key`` is proven a key
        of the admin's account, with the id ``key_id`` says, named ``<prefix><version>``. A
        provider that cannot prove ownership at all proves nothing here (createSecret says why)."""
        try:
            owned = provider.owned_key(secret.api_key, secret.key_id)
        except ConfigurationError as exc:
            logger.warning("Cannot tell whether rotor made this version", extra={"error": str(exc)})
            return False
        if owned is None or owned.key_id is None or owned.key_id != secret.key_id:
            return False
        prefix = secret.prefix_for(arn)
        name = owned.name
        if name is None:
            name = next(
                (k.name for k in self._listed(provider, prefix) or [] if k.key_id == owned.key_id),
                None,
            )
        return name == prefix + version

    # --- helpers --------------------------------------------------------------------------
    def provider(
        self, rotation: Rotation, secret: ApiKeySecret, where: str, *, break_glass: bool = False
    ) -> Provider:
        """The provider named by ``secret``, bound to the endpoint the admin secret allows.
        ``break_glass``: the admin secret authorised this createSecret without the proof."""
        cls = provider_class(secret.provider, where)
        asked = None if secret.base_url is None else check_base_url(secret.base_url, where)
        admin_where = f"Admin secret {secret.adminarn}"
        admin = self._read_admin(rotation, secret.adminarn, admin_where)
        self._check_provider(secret.provider, admin, admin_where, where)
        base_url, source = self._endpoint(cls, secret.provider, admin, admin_where)
        if asked is not None and _comparable(asked) != _comparable(base_url):
            raise SecretFormatError(
                f"{where}: key 'base_url' differs from the endpoint {admin_where} allows "
                f"({source}). The admin credential is sent only there, so the endpoint is set "
                "in the admin secret; remove 'base_url' here or give it the same value."
            )
        http = HttpClient(
            base_url, provider=secret.provider, wait_headers=cls.wait_headers, sleep=self._sleep
        )
        provider = cls(
            ProviderContext(
                settings=secret.raw,
                admin=admin,
                http=http,
                where=where,
                admin_where=admin_where,
                break_glass=break_glass,
            )
        )
        provider.check_settings()
        return provider

    @staticmethod
    def _check_provider(name: str, admin: Mapping[str, Any], admin_where: str, where: str) -> None:
        """The rotated secret's ``provider`` must be the one the admin secret is for.

        The provider decides the request format and, without ``base_url`` in the admin secret,
        the host the admin credential goes to (its default endpoint, or a preset's). So an
        admin secret without ``base_url`` must name its ``provider``; one with ``base_url`` may
        (and should: the credential's format is then pinned too)."""
        pinned = text_field(dict(admin), "provider", admin_where, required=False)
        if pinned is None:
            if admin.get("base_url") is None:
                raise SecretFormatError(
                    f"{admin_where}: key 'provider' is missing. Without 'base_url' the provider "
                    "decides where the admin credential is sent, so the admin secret must name "
                    "it (or give 'base_url')."
                )
            return
        if pinned.strip().lower() != name:
            raise SecretFormatError(
                f"{where}: key 'provider' differs from key 'provider' of {admin_where}. The "
                "admin credential is used only with the provider its secret names; remove "
                "'provider' here or give it the same value."
            )

    @staticmethod
    def _endpoint(
        provider_cls: type[Provider], name: str, admin: Mapping[str, Any], admin_where: str
    ) -> tuple[str, str]:
        """The base URL the admin credential may be sent to, and where it was set."""
        configured = text_field(dict(admin), "base_url", admin_where, required=False)
        if configured is not None:
            return check_base_url(configured, admin_where), "its key 'base_url'"
        if provider_cls.default_base_url is None:
            raise SecretFormatError(
                f"{admin_where}: key 'base_url' is missing; provider '{name}' has no default "
                "endpoint."
            )
        default = check_base_url(provider_cls.default_base_url, f"Provider '{name}'")
        return default, f"the default of provider '{name}', {default}"

    @staticmethod
    def _read_admin(rotation: Rotation, arn: str, where: str) -> dict[str, Any]:
        admin = rotation.read_admin(arn, "adminarn")
        _register_admin(admin)
        return admin

    @staticmethod
    def _previous(rotation: Rotation) -> ApiKeySecret | None:
        value = rotation.previous()
        if value is None:
            return None
        try:
            return ApiKeySecret.parse(value, rotation.where(PREVIOUS))
        except SecretFormatError as exc:  # written by hand: nothing of it is rotor's to revoke
            logger.warning(
                "AWSPREVIOUS is not an API key secret; not revoking its predecessor",
                extra={"error": str(exc)},
            )
            return None

    @staticmethod
    def _listed(provider: Provider, prefix: str) -> list[KeyInfo] | None:
        """The provider's listing without ids rotor could not put in a URL path safely."""
        listed = provider.list_keys(prefix)
        if listed is None:
            return None
        usable = [k for k in listed if safe_id(k.key_id)]
        if len(usable) != len(listed):
            logger.warning(
                "The provider listed keys with ids rotor cannot use in a URL path; "
                "they are left alone",
                extra={"ignored": len(listed) - len(usable)},
            )
        return usable

    def _issue(self, provider: Provider, name: str, prefix: str) -> IssuedKey:
        listed = self._listed(provider, prefix)
        if listed is None:
            logger.warning(
                "This provider cannot list keys: a retried createSecret may leave "
                "an extra key behind"
            )
        for info in (k for k in listed or [] if k.name == name):
            value = provider.fetch_key(info.key_id)
            if value:
                logger.info(
                    "Reusing the key an earlier attempt of this rotation made",
                    extra={"key_id": info.key_id},
                )
                return IssuedKey(value, info.key_id, name)
            existed = provider.revoke_key(info.key_id)
            logger.info(
                "Revoked a key an earlier attempt made but never stored",
                extra={"key_id": info.key_id, "already_gone": not existed},
            )
        return provider.create_key(name)

    def _held(self, arn: str, description: SecretDescription) -> _Held:
        versions: set[str] = set()
        key_ids: set[str] = set()
        keys: set[str] = set()
        for version, stages in description.versions.items():
            stage = next((s for s in _LABELS if s in stages), None)
            if stage is None:
                continue
            versions.add(version)
            value = self.store.find(arn, stage, version) or {}
            for name, into in (("key_id", key_ids), ("api_key", keys)):
                if isinstance(value.get(name), str) and value[name]:
                    into.add(value[name])
        return _Held(frozenset(versions), frozenset(key_ids), frozenset(keys))

    def _sweep(self, provider: Provider, prefix: str, arn: str) -> int:
        listed = self._listed(provider, prefix)
        if listed is None:
            return 0
        candidates = [k for k in listed if _made_for(k, prefix)]
        if not candidates:
            return 0
        # Described after listing: a rotation that started since has its version labelled
        # AWSPENDING already, so the key it may just have made is protected.
        held = self._held(arn, self.store.describe(arn))
        revoked = 0
        for info in candidates:
            if info.name[len(prefix) :] in held.versions or info.key_id in held.key_ids:
                continue
            value = provider.fetch_key(info.key_id)  # only services that show a key again
            if value is not None and value in held.keys:
                continue
            revoked += provider.revoke_key(info.key_id)
            logger.info(
                "Revoked a key no labelled version holds",
                extra={"key_id": info.key_id, "key_name": info.name},
            )
        return revoked


def _made_for(info: KeyInfo, prefix: str) -> bool:
    """Whether ``info`` is named exactly ``<prefix><rotation token>``: a key rotor made for
    the secret whose prefix this is (no other secret's names can match, see ``_TOKEN``)."""
    return info.name.startswith(prefix) and bool(_TOKEN.match(info.name[len(prefix) :]))


def _comparable(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _admin_credentials(admin: Mapping[str, Any]) -> Iterator[str]:
    """Every string of the admin secret that may be a credential (see ``_register_admin``)."""
    http = admin.get("http")
    settings = http.get("admin_headers") if isinstance(http, Mapping) else None
    yield from _texts({k: v for k, v in admin.items() if k not in _ADMIN_SETTINGS})
    yield from _texts(settings)


def _is_admin_credential(key: str, admin: Mapping[str, Any]) -> bool:
    return any(
        hmac.compare_digest(key.encode(), text.encode()) for text in _admin_credentials(admin)
    )


def _register_admin(admin: Mapping[str, Any]) -> None:
    """Mask every string of the admin secret, whatever its key's name: the whole secret is a
    credential. Only the endpoint and the request description are configuration; of the
    latter, the admin headers are masked too (they may hold a credential written in place)."""
    for text in _admin_credentials(admin):
        redactor.register(text)
