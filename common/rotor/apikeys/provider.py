"""The provider interface: what every key-issuing service can do, in a few small methods.

A provider is constructed for one step from a :class:`ProviderContext` (the rotated secret's
settings, the admin secret and an :class:`~rotor.apikeys.http.HttpClient` bound to the
provider's base URL) and implements:

``owned_key(key, claimed_id)``
    Proof that ``key`` is a live key of the ADMIN's account: :class:`OwnedKey` (its id there,
    its name if at hand) or ``None``. An endpoint serves many accounts and the rotated secret
    is written by the key's users, so neither a working key nor a claimed id proves anything:
    the admin acts for a secret only after this proof, and rotor revokes only ids it recorded
    after it. ``claimed_id`` (the secret's ``key_id``) is a hint to check, never the answer;
    ``OwnedKey(None)``: the account is proven, the id is not (rotor never revokes that key).
    Default: the admin shows the claimed key's value, else each of
    :meth:`Provider.proof_candidates`, and it is compared (needs ``fetch_key``); a service that
    shows a key only once must override this.
``create_key(name)``
    Issue a new key labelled ``name`` and return it with its id (:class:`IssuedKey`).
``verify_key(key)``
    Raise :class:`~rotor.errors.AuthenticationFailed` unless the service accepts ``key``.
``revoke_key(key_id)``
    Revoke the key; return ``False`` when it was already gone (not an error).
``list_keys(prefix)`` (optional)
    The keys that exist (id and name, never values); ``prefix`` is a hint for services that
    filter by name (the rotator filters again). With it the rotator is idempotent on
    the rotation token and sweeps up keys an interrupted rotation left behind; without it
    (return ``None``) neither is possible, so implement it whenever the service can list.
``fetch_key(key_id)`` (optional)
    The value of an existing key, for services that show a key more than once (Datadog);
    ``None`` where a key is shown only when created (SendGrid).
``activate(key)`` (optional)
    Anything the service needs between issuing and using a key (the setSecret step).

Ids a provider puts in URL paths go through :func:`rotor.apikeys.http.path`, which refuses
anything but one plain path segment.
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rotor.apikeys.http import HttpClient, safe_id
from rotor.errors import ConfigurationError, RotationError, SecretFormatError, ServiceError
from rotor.observability import logger, redactor

#: At most this many keys' values are read to find a key by value (no claimed id, no hint).
MAX_PROOF_FETCHES = 100


class NotOwned(RotationError):
    """A key is not proven to be a live key of the admin's account: the admin will not act."""


@dataclass(frozen=True, repr=False)
class IssuedKey:
    """A key as a provider hands it out. ``metadata`` is stored in the secret beside it."""

    key: str
    key_id: str
    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        redactor.register(self.key)

    def __repr__(self) -> str:
        return f"IssuedKey(key_id={self.key_id!r}, name={self.name!r})"


@dataclass(frozen=True)
class KeyInfo:
    """A key as a listing shows it: never its value."""

    key_id: str
    name: str


@dataclass(frozen=True)
class OwnedKey:
    """A key proven to be a live key of the admin's account (see :meth:`Provider.owned_key`)."""

    key_id: str | None  # its id there; None: the service proved the account, not the id
    name: str | None = None  # its name per the admin's record, when the proof read it


@dataclass(frozen=True)
class ProviderContext:
    """What a provider is built from for one rotation step."""

    settings: Mapping[str, Any]  # the rotated secret's JSON: provider-specific keys live here
    admin: Mapping[str, Any]  # the admin secret's JSON (named by 'adminarn')
    http: HttpClient
    where: str  # "Secret <name> (AWSCURRENT)": how errors name the rotated secret
    admin_where: str  # "Admin secret <arn>"
    # createSecret under a break-glass entry of the admin secret: the current key is not
    # proven, so nothing about the new key may be derived from it (see rotor.breakglass).
    break_glass: bool = False

    def admin_text(self, key: str) -> str:
        """A required string of the admin secret; the error names the key, never a value."""
        value = self.admin.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SecretFormatError(
                f"{self.admin_where}: key '{key}' must be a non-empty string "
                f"(the {self.http.provider} admin credential)."
            )
        return value

    def setting(self, key: str, kind: type, default: Any = None) -> Any:
        """An optional provider setting of the rotated secret, type-checked."""
        value = self.settings.get(key, default)
        if value is not None and not isinstance(value, kind):
            raise SecretFormatError(f"{self.where}: key '{key}' must be a {kind.__name__}.")
        return value


class Provider(ABC):
    """Base class of API key providers. Register a subclass with
    :func:`rotor.apikeys.register_provider` to make it selectable by the secret's ``provider``.
    """

    #: The base URL used when the secret has no ``base_url`` (``None``: the secret must say).
    default_base_url: ClassVar[str | None] = None
    #: Headers besides ``Retry-After`` whose value is a wait in seconds on a 429.
    wait_headers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.http = context.http

    @abstractmethod
    def create_key(self, name: str) -> IssuedKey:
        """Issue a new key named ``name``."""

    @abstractmethod
    def verify_key(self, key: str) -> None:
        """Raise :class:`~rotor.errors.AuthenticationFailed` unless ``key`` works."""

    @abstractmethod
    def revoke_key(self, key_id: str) -> bool:
        """Revoke the key with this id. ``False`` when it did not exist (already revoked)."""

    def check_settings(self) -> None:  # noqa: B027 - optional hook
        """Validate provider-specific settings before any call (errors name the key)."""

    def list_keys(self, prefix: str) -> list[KeyInfo] | None:
        """The keys (at least those named ``prefix...``), or ``None`` if the service cannot list."""
        return None

    def fetch_key(self, key_id: str) -> str | None:
        """The value of an existing key, or ``None`` if the service shows it only once."""
        return None

    def activate(self, key: IssuedKey) -> None:  # noqa: B027 - optional hook
        """Make an issued key usable, when the service needs a step for that."""

    def owned_key(self, key: str, claimed_id: str | None) -> OwnedKey | None:
        """Proof that ``key`` is a live key of the admin's account, or ``None``.

        By default, by showing (services with ``fetch_key``); fails closed for a provider that
        has neither this method nor ``fetch_key``."""
        if type(self).fetch_key is Provider.fetch_key:
            raise ConfigurationError(
                f"Provider '{self.http.provider}' cannot prove that a key belongs to the admin's "
                "account: implement owned_key (or fetch_key) before rotating with it."
            )
        return self.owned_by_showing(key, claimed_id)

    def owned_by_showing(self, key: str, claimed_id: str | None) -> OwnedKey | None:
        """The admin reads the value of the claimed key, else of each candidate, and compares.

        A claimed id that does not show ``key`` is ignored (the rotator warns about it)."""
        if claimed_id is not None and safe_id(claimed_id) and self._shows(claimed_id, key):
            return OwnedKey(claimed_id)
        candidates = self.proof_candidates(key) or []
        checked = [c for c in candidates if c.key_id != claimed_id and safe_id(c.key_id)]
        if len(checked) > MAX_PROOF_FETCHES:
            logger.warning(
                "Too many keys to find the current one by value; give its id as key_id",
                extra={"keys": len(checked), "read": MAX_PROOF_FETCHES},
            )
        for info in checked[:MAX_PROOF_FETCHES]:
            if self._shows(info.key_id, key):
                return OwnedKey(info.key_id, info.name or None)
        return None

    def proof_candidates(self, key: str) -> list[KeyInfo] | None:
        """The admin account's keys that may be ``key`` (all it lists, by default)."""
        return self.list_keys("")

    def _shows(self, key_id: str, key: str) -> bool:
        value = self.fetch_key(key_id)
        return value is not None and hmac.compare_digest(value.encode(), key.encode())


def json_path(data: Any, path: str, what: str) -> Any:
    """``data`` at a dotted path (``data.attributes.key``; list items by index: ``items.0``).

    A missing step raises :class:`ServiceError` naming the path, never the response body
    (which may hold a new key).
    """
    current = data
    for step in path.split(".") if path else []:
        if isinstance(current, Mapping) and step in current:
            current = current[step]
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            raise ServiceError(f"{what}: the response has nothing at '{path}'.")
    return current


def json_text(data: Any, path: str, what: str) -> str:
    """The non-empty string (or number, as text) at ``path`` of a provider's JSON response."""
    value = json_path(data, path, what)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ServiceError(f"{what}: the response has no non-empty string at '{path}'.")
    return value
