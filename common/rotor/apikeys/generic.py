"""A provider configured by data, for services with a plain REST key API.

The API is described in the ADMIN secret (the one ``adminarn`` names), under ``"http"``,
beside the credential and the endpoint; the rotated secret says ``"provider": "http"``::

    {
      "api_key": "...",                       the admin credential
      "base_url": "https://api.example.com",
      "http": {
        "admin_headers": {"Authorization": "Bearer {admin.api_key}"},
        "create": {"method": "POST", "path": "/v1/keys", "body": {"name": "{name}"},
                   "value_path": "key", "id_path": "id"},
        "verify": {"method": "GET", "path": "/v1/me",
                   "headers": {"Authorization": "Bearer {key}"}},
        "revoke": {"method": "DELETE", "path": "/v1/keys/{key_id}"},
        "list":   {"method": "GET", "path": "/v1/keys", "items_path": "data",
                   "id_path": "id", "name_path": "name"},
        "fetch":  {"method": "GET", "path": "/v1/keys/{key_id}", "value_path": "key",
                   "name_path": "name"},
        "owner":  {"method": "GET", "path": "/v1/me",
                   "headers": {"Authorization": "Bearer {key}"},
                   "account_path": "account.id", "id_path": "key.id"}
      }
    }

The description decides what is sent where with the admin credential, so it is trusted only
from the admin secret or from code (a registered preset), never from the rotated secret, which
the key's users may write: a rotated secret that carries an ``"http"`` different from the
trusted one is refused.

Before the admin credential acts for a secret, rotor proves the secret's current key is a live
key of the admin's account (see :meth:`rotor.apikeys.provider.Provider.owned_key`), with
``fetch`` or ``owner``; a description with neither is refused:

* ``fetch`` (the admin reads a key's value): the value under the secret's ``key_id``, else under
  each key ``list`` shows, must equal the key. ``name_path`` (optional) is the key's name.
* ``owner`` (a "who am I" call): made once with the key under test (``{key}`` in its headers;
  no admin header is sent) and once with the admin headers; both answers must carry the same
  non-empty account id at ``account_path``. ``id_path`` (optional) is where the first answer
  names the calling key's id; without it the id is proven with ``fetch`` if described, else
  it stays unknown and rotor never revokes that key (it says so; revoke it by hand).

``list`` is optional (without it a retried createSecret cannot find the key it made, and
orphans are not swept). Placeholders: ``{name}`` (the new key's name), ``{key}`` (the key being
verified or proven), ``{key_id}``, ``{prefix}`` (in ``list``), and ``{admin.FIELD}`` (a field of the
admin secret) in ``admin_headers`` only: an admin field is never put in a path, a query, a
body or a key's name. In paths placeholders are percent-encoded. ``*_path`` values are dotted
JSON paths (``data.attributes.key``, ``items.0.id``). ``ok`` (a list of statuses) overrides
the accepted statuses of a call. (The field names avoid "key", "token" and "secret": rotor
masks the values of such fields everywhere as credentials.)

The same description can be fixed in code and registered under a name of its own::

    register_provider("acme", HttpProvider.preset({...}, base_url="https://api.acme.com"))
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rotor.apikeys.http import path as url_path
from rotor.apikeys.http import safe_id
from rotor.apikeys.provider import (
    IssuedKey,
    KeyInfo,
    OwnedKey,
    Provider,
    json_path,
    json_text,
)
from rotor.errors import AuthenticationFailed, SecretFormatError
from rotor.observability import logger

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
ADMIN = "admin."
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_REQUIRED = {
    "create": ("path", "value_path", "id_path"),
    "verify": ("path",),
    "revoke": ("path",),
    "list": ("path", "items_path", "id_path", "name_path"),
    "fetch": ("path", "value_path"),
    "owner": ("path", "account_path"),
}
_OPTIONAL = ("list", "fetch", "owner")
_DEFAULT_METHOD = {
    "create": "POST",
    "verify": "GET",
    "revoke": "DELETE",
    "list": "GET",
    "fetch": "GET",
    "owner": "GET",
}


@dataclass(frozen=True)
class Endpoint:
    """One call of a provider's API described as data: the request and where its answer is."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    ok: tuple[int, ...] = (200, 201, 204)
    value_path: str = ""
    id_path: str = ""
    items_path: str = ""
    name_path: str = ""
    account_path: str = ""


@dataclass(frozen=True)
class HttpApiSpec:
    """A provider's API described as data (the secret's ``http``): the calls rotor makes."""

    admin_headers: Mapping[str, str]
    create: Endpoint
    verify: Endpoint
    revoke: Endpoint
    list: Endpoint | None = None
    fetch: Endpoint | None = None
    owner: Endpoint | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> HttpApiSpec:
        if not isinstance(raw, Mapping):
            raise SecretFormatError(f"{where}: key 'http' must be an object describing the API.")
        endpoints: dict[str, Endpoint | None] = {}
        for name, required in _REQUIRED.items():
            item = raw.get(name)
            if item is None and name in _OPTIONAL:
                endpoints[name] = None
                continue
            endpoints[name] = _endpoint(item, name, required, f"{where}: key 'http.{name}'")
        if endpoints["fetch"] is None and endpoints["owner"] is None:
            raise SecretFormatError(
                f"{where}: key 'http' describes neither 'fetch' nor 'owner'; rotor must prove the "
                "current key belongs to the admin's account before the admin acts for it, so "
                "describe 'fetch' (the admin reads a key's value) or 'owner' (who a key is)."
            )
        owner = endpoints["owner"]
        if owner is not None and not any("{key}" in v for v in owner.headers.values()):
            raise SecretFormatError(
                f"{where}: key 'http.owner'.headers must send the key under test ('{{key}}' in "
                "a header value), as the service expects it."
            )
        return cls(
            admin_headers=_strings(
                raw.get("admin_headers", {}), f"{where}: key 'http.admin_headers'"
            ),
            create=_required(endpoints["create"]),
            verify=_required(endpoints["verify"]),
            revoke=_required(endpoints["revoke"]),
            list=endpoints["list"],
            fetch=endpoints["fetch"],
            owner=owner,
        )


def _required(endpoint: Endpoint | None) -> Endpoint:
    assert endpoint is not None
    return endpoint


def _strings(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise SecretFormatError(f"{where} must map names to strings.")
    return dict(raw)


def _endpoint(raw: Any, name: str, required: tuple[str, ...], where: str) -> Endpoint:
    if not isinstance(raw, Mapping):
        raise SecretFormatError(f"{where} must be an object (method, path...).")
    for key in required:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise SecretFormatError(f"{where}.{key} must be a non-empty string.")
    method = str(raw.get("method", _DEFAULT_METHOD[name])).upper()
    if method not in _METHODS:
        raise SecretFormatError(f"{where}.method must be one of {', '.join(sorted(_METHODS))}.")
    if not raw["path"].startswith("/"):
        raise SecretFormatError(f"{where}.path must start with '/'.")
    for part in ("path", "headers", "params", "body"):
        _no_admin_fields(raw.get(part), f"{where}.{part}")
    ok = raw.get("ok", [200, 201, 204])
    if not isinstance(ok, list) or not ok or not all(isinstance(s, int) for s in ok):
        raise SecretFormatError(f"{where}.ok must be a list of HTTP statuses.")
    return Endpoint(
        method=method,
        path=raw["path"],
        headers=_strings(raw.get("headers", {}), f"{where}.headers"),
        params=_strings(raw.get("params", {}), f"{where}.params"),
        body=raw.get("body"),
        ok=tuple(ok),
        **{
            k: str(raw.get(k, ""))
            for k in ("value_path", "id_path", "items_path", "name_path", "account_path")
        },
    )


def _no_admin_fields(value: Any, where: str) -> None:
    """Refuse ``{admin.FIELD}`` outside ``admin_headers``: an admin credential in a path, a
    query, a body or a key's name would be logged, listed or shown to the key's users."""
    if isinstance(value, str):
        for name in _PLACEHOLDER.findall(value):
            if name.startswith(ADMIN):
                raise SecretFormatError(
                    f"{where}: placeholder '{{{name}}}' is allowed only in 'http.admin_headers'."
                )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _no_admin_fields(key, where)
            _no_admin_fields(item, where)
    elif isinstance(value, list):
        for item in value:
            _no_admin_fields(item, where)


class HttpProvider(Provider):
    """Drives any plain REST key API from an :class:`HttpApiSpec`."""

    spec_data: ClassVar[Mapping[str, Any] | None] = None

    @classmethod
    def preset(cls, spec: Mapping[str, Any], base_url: str | None = None) -> type[HttpProvider]:
        """A subclass with the API description fixed in code (checked now, not at rotation)."""
        HttpApiSpec.parse(spec, "HttpProvider.preset")
        return type(
            "PresetHttpProvider", (cls,), {"spec_data": dict(spec), "default_base_url": base_url}
        )

    @property
    def _described_in(self) -> str:
        return "HttpProvider.preset" if self.spec_data is not None else self.context.admin_where

    @property
    def _spec_data(self) -> Any:
        """The trusted description: the preset's, else the admin secret's ``http``."""
        if self.spec_data is not None:
            return self.spec_data
        raw = self.context.admin.get("http")
        if raw is None:
            raise SecretFormatError(
                f"{self.context.admin_where}: key 'http' is missing; the generic provider reads "
                "the API description from the admin secret (or a registered preset)."
            )
        return raw

    @property
    def spec(self) -> HttpApiSpec:
        return HttpApiSpec.parse(self._spec_data, self._described_in)

    def check_settings(self) -> None:
        self._fill(self.spec.admin_headers, {}, admin=True)  # admin fields exist, before a call
        given = self.context.settings.get("http")
        if given is not None and given != self._spec_data:
            raise SecretFormatError(
                f"{self.context.where}: key 'http' differs from the API description in "
                f"{self._described_in}. The description decides where the admin credential is "
                "sent, so it is read only from there; remove 'http' from this secret."
            )

    def _fill(self, value: Any, values: Mapping[str, str], admin: bool = False) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._value(m.group(1), values, admin), value)
        if isinstance(value, list):
            return [self._fill(v, values, admin) for v in value]
        if isinstance(value, Mapping):
            return {k: self._fill(v, values, admin) for k, v in value.items()}
        return value

    def _value(self, name: str, values: Mapping[str, str], admin: bool = False) -> str:
        if name.startswith(ADMIN) and admin:
            return self.context.admin_text(name.removeprefix(ADMIN))
        if name not in values:
            raise SecretFormatError(
                f"{self._described_in}: placeholder '{{{name}}}' of key 'http' is not "
                f"available here (use {', '.join('{' + v + '}' for v in values)}; "
                "{admin.FIELD} only in 'admin_headers')."
            )
        return values[name]

    def _call(
        self,
        endpoint: Endpoint,
        what: str,
        values: Mapping[str, str],
        *,
        admin: bool = True,
        missing_ok: bool = False,
        credential: str = "admin credential",
    ) -> Any:
        headers = dict(self._fill(self.spec.admin_headers, values, admin=True)) if admin else {}
        headers.update(self._fill(dict(endpoint.headers), values))
        target = endpoint.path
        for name in _PLACEHOLDER.findall(target):
            target = url_path(target, **{name: self._value(name, values)})
        response = self.http.request(
            endpoint.method,
            target,
            what,
            headers=headers,
            json_body=self._fill(endpoint.body, values),
            params=self._fill(dict(endpoint.params), values) or None,
            ok=endpoint.ok,
            missing_ok=missing_ok,
            credential=credential,
        )
        if response is None:
            return None
        return response.json(what) if response.body else {}

    def create_key(self, name: str) -> IssuedKey:
        spec, what = self.spec.create, f"Create a key at {self.http.provider}"
        data = self._call(spec, what, {"name": name})
        return IssuedKey(
            key=json_text(data, spec.value_path, what),
            key_id=json_text(data, spec.id_path, what),
            name=name,
        )

    def verify_key(self, key: str) -> None:
        self._call(
            self.spec.verify,
            f"Verify the new key at {self.http.provider}",
            {"key": key},
            admin=False,
            credential="new API key",
        )

    def revoke_key(self, key_id: str) -> bool:
        result = self._call(
            self.spec.revoke,
            f"Revoke a key at {self.http.provider}",
            {"key_id": key_id},
            missing_ok=True,
        )
        return result is not None

    def list_keys(self, prefix: str) -> list[KeyInfo] | None:
        spec = self.spec.list
        if spec is None:
            return None
        what = f"List keys at {self.http.provider}"
        items = json_path(self._call(spec, what, {"prefix": prefix}), spec.items_path, what)
        if not isinstance(items, list):
            return []
        return [
            KeyInfo(
                key_id=json_text(item, spec.id_path, what),
                name=str(json_path(item, spec.name_path, what)),
            )
            for item in items
        ]

    def fetch_key(self, key_id: str) -> str | None:
        spec = self.spec.fetch
        if spec is None:
            return None
        what = f"Read a key at {self.http.provider}"
        data = self._call(spec, what, {"key_id": key_id}, missing_ok=True)
        return None if data is None else json_text(data, spec.value_path, what)

    def owned_key(self, key: str, claimed_id: str | None) -> OwnedKey | None:
        """By ``owner`` when described (the id from its ``id_path``, else from ``fetch``), else
        by ``fetch`` (see the module's docstring)."""
        spec = self.spec
        if spec.owner is None:
            return self._owned_by_fetch(key, claimed_id)
        owned = self._owned_by_owner(spec.owner, key)
        if owned is None or owned.key_id is not None or spec.fetch is None:
            return owned
        return self._owned_by_fetch(key, claimed_id) or owned

    def _owned_by_fetch(self, key: str, claimed_id: str | None) -> OwnedKey | None:
        owned = self.owned_by_showing(key, claimed_id)
        spec = self.spec.fetch
        if owned is None or owned.name is not None or spec is None or not spec.name_path:
            return owned
        assert owned.key_id is not None
        what = f"Read a key at {self.http.provider}"
        data = self._call(spec, what, {"key_id": owned.key_id}, missing_ok=True)
        name = None if data is None else json_path(data, spec.name_path, what)
        return dataclasses.replace(owned, name=name if isinstance(name, str) else None)

    def _owned_by_owner(self, owner: Endpoint, key: str) -> OwnedKey | None:
        """The key and the admin must name the same account; the key's id if the answer says."""
        what = f"Ask {self.http.provider} whose key the key being proven is"
        try:
            mine = self._call(owner, what, {"key": key}, admin=False, credential="key being proven")
        except AuthenticationFailed:
            logger.info("Not proven: the service does not accept the key (revoked, or not a key)")
            return None
        account = json_text(mine, owner.account_path, what)
        # The admin's call: its own headers, and only the endpoint's headers without placeholders.
        plain = {k: v for k, v in owner.headers.items() if not _PLACEHOLDER.search(v)}
        admin_what = f"Ask {self.http.provider} whose account the admin credential is"
        theirs = self._call(dataclasses.replace(owner, headers=plain), admin_what, {})
        if not hmac.compare_digest(
            account.encode(), json_text(theirs, owner.account_path, admin_what).encode()
        ):
            logger.info("Not proven: the key belongs to another account than the admin")
            return None
        if not owner.id_path:
            return OwnedKey(None)
        key_id = json_text(mine, owner.id_path, what)
        if not safe_id(key_id):
            logger.warning(
                "The service named the key's id in a form rotor cannot use in a URL; "
                "treating the id as unknown"
            )
            return OwnedKey(None)
        return OwnedKey(key_id)
