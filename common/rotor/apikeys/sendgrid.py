"""Twilio SendGrid API keys (``/v3/api_keys``).

* Create: ``POST /v3/api_keys`` with ``{"name", "scopes"}`` answers 201 with ``api_key`` (the
  69-character key, shown this once only) and ``api_key_id``. Without ``scopes`` SendGrid
  issues a full-access key, so rotor always sends them (see "Scopes" below).
* Read: ``GET /v3/api_keys/{api_key_id}`` (admin) answers the key's ``name``, ``api_key_id``
  and ``scopes``, or 404. ``GET /v3/scopes`` answers the scopes "assigned to the key you use
  to authenticate with it".
* List: ``GET /v3/api_keys`` answers ``{"result": [{"api_key_id", "name"}]}``. SendGrid
  documents one query parameter, ``limit`` (no offset, cursor or name filter), and at most
  100 keys per account (or subuser). Rotor asks for up to ``LIST_LIMIT`` (500) keys in one
  request and warns when the answer is that long: the listing may then be cut short, so a
  retried createSecret could miss its own key and the sweep some orphans (neither ever
  revokes a key it should not).
* Verify: ``GET /v3/scopes`` authenticated with the key itself answers 200 (its scopes) for a
  live key and 401 for a revoked or unknown one.
* Revoke: ``DELETE /v3/api_keys/{api_key_id}`` answers 204, or 404 when it is already gone.
* A 429 carries ``X-RateLimit-Reset`` (a Unix time); ``Retry-After`` is honoured first.
* Auth: ``Authorization: Bearer <key>``. The admin key needs the ``api_keys.*`` scopes.
* EU regional subusers: ``"base_url": "https://api.eu.sendgrid.com"``.

Ownership (:meth:`SendGrid.owned_key`): a SendGrid key is ``SG.<api_key_id>.<secret>``, so
the id comes from the key itself, never from the rotated secret. The key is proven the admin
account's when it authenticates (``GET /v3/scopes`` with the key: 200) and the admin sees that
id in its own account (``GET /v3/api_keys/{id}`` with the admin key: 200; another account's key
is 404). A working key of another SendGrid account, or a ``key_id`` naming another key of the
company, proves nothing.

Scopes: a rotation never widens a key. The new key gets the scopes of the PROVEN current key:
those ``GET /v3/scopes`` reports for it, intersected with the admin's record of its id.
``scopes`` in the rotated secret may narrow that set, never add to it; ``allowed_scopes`` in the
admin secret is an allow-list the new key must fit in. Under break glass (the current key is
not proven, see :mod:`rotor.breakglass`) the scopes come from ``allowed_scopes`` alone, which is
then required, narrowed by the secret's ``scopes``. Anything else fails createSecret before a
key is made; an empty set is refused (SendGrid would make a full-access key).

Admin secret: ``{"provider": "sendgrid", "api_key": "SG....", "allowed_scopes": [...]}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotor.apikeys.http import path, safe_id
from rotor.apikeys.provider import (
    IssuedKey,
    KeyInfo,
    NotOwned,
    OwnedKey,
    Provider,
    ProviderContext,
    json_text,
)
from rotor.errors import AuthenticationFailed, SecretFormatError, ServiceError
from rotor.observability import logger

LIST_LIMIT = 500  # SendGrid documents no offset or cursor: one bounded request
_KEY = re.compile(r"^SG\.([A-Za-z0-9_-]{1,100})\.[A-Za-z0-9_-]{1,200}$")


@dataclass(frozen=True)
class _Proof:
    """What proving a key established: its id and name in the admin's account, and scopes."""

    key_id: str
    name: str
    scopes: list[str]


class SendGrid(Provider):
    default_base_url = "https://api.sendgrid.com"
    wait_headers = ("X-RateLimit-Reset",)  # a Unix time on SendGrid

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self._proofs: dict[str, _Proof | None] = {}  # by key value, for this step only

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.context.admin_text('api_key')}"}

    def _requested(self) -> list[str] | None:
        """``scopes`` of the rotated secret: a narrowing of the current key's, never more."""
        return _scope_list(self.context.settings, "scopes", self.context.where)

    def _allowed(self) -> list[str] | None:
        """``allowed_scopes`` of the admin secret: the most any key rotor makes may hold."""
        return _scope_list(self.context.admin, "allowed_scopes", self.context.admin_where)

    def check_settings(self) -> None:
        self._admin()  # the admin credential is there, before any call
        requested, allowed = self._requested(), self._allowed()
        if requested is not None and allowed is not None:
            self._refuse_outside(
                requested,
                allowed,
                "key 'scopes'",
                f"'allowed_scopes' of {self.context.admin_where}",
            )

    def owned_key(self, key: str, claimed_id: str | None) -> OwnedKey | None:
        proof = self._proof(key)
        return None if proof is None else OwnedKey(proof.key_id, proof.name)

    def _proof(self, key: str) -> _Proof | None:
        if key not in self._proofs:
            self._proofs[key] = self._prove(key)
        return self._proofs[key]

    def _prove(self, key: str) -> _Proof | None:
        """The id from the key itself, proven by the key (it authenticates) and by the admin
        (that id is in its account); the scopes both report."""
        match = _KEY.match(key)
        if match is None or not safe_id(match.group(1)):
            logger.info("Not proven: the key is not shaped SG.<id>.<secret>")
            return None
        key_id = match.group(1)
        what = "Read the scopes of a SendGrid API key with the key itself"
        try:
            own = _scopes_of(
                self.http.request_json(
                    "GET",
                    "/v3/scopes",
                    what,
                    headers={"Authorization": f"Bearer {key}"},
                    ok=(200,),
                    credential="key being proven",
                ),
                what,
            )
        except AuthenticationFailed:
            logger.info(
                "Not proven: SendGrid does not accept the key (revoked, or not a key)",
                extra={"key_id": key_id},
            )
            return None
        what = "Read a SendGrid API key's record with the admin key"
        response = self.http.request(
            "GET",
            path("/v3/api_keys/{id}", id=key_id),
            what,
            headers=self._admin(),
            ok=(200,),
            missing_ok=True,
        )
        if response is None:
            logger.info(
                "Not proven: the admin's account has no key with this id (404): it is "
                "another account's",
                extra={"key_id": key_id},
            )
            return None
        record = response.json(what)
        recorded = _scopes_of(record, what, key_id)
        held = [s for s in own if s in recorded]
        if len(held) != len(own) or len(recorded) != len(own):
            logger.warning(
                "SendGrid reports other scopes for the key than its record holds; "
                "the new key gets only the scopes both hold",
                extra={"key_id": key_id},
            )
        name = record.get("name") if isinstance(record, Mapping) else None
        return _Proof(key_id, name if isinstance(name, str) else "", held)

    def scopes_for_new_key(self) -> list[str]:
        """The proven current key's scopes (under break glass, the admin's ``allowed_scopes``),
        narrowed by the rotated secret's ``scopes`` and refused unless they fit
        ``allowed_scopes``."""
        allowed = self._allowed()
        if self.context.break_glass:
            if allowed is None:
                raise SecretFormatError(
                    f"{self.context.admin_where}: key 'allowed_scopes' is missing; a break-glass "
                    "reset takes the new SendGrid key's scopes from it (the current key is not "
                    "proven, so its scopes are not trusted). Add the scopes this secret needs."
                )
            base, bound = allowed, f"'allowed_scopes' of {self.context.admin_where}"
        else:
            key = self.context.settings.get("api_key")
            proof = self._proof(key) if isinstance(key, str) and key else None
            if proof is None:
                raise NotOwned(
                    f"{self.context.where}: the current key is not proven to be the "
                    "admin account's; no key was made."
                )
            base, bound = proof.scopes, "the scopes SendGrid reports for the current key"
        requested = self._requested()
        if requested is not None:
            self._refuse_outside(requested, base, "key 'scopes'", bound)
        wanted = requested if requested is not None else base
        if allowed is not None:
            source = (
                "key 'scopes'"
                if requested is not None
                else ("the current key's scopes (narrow them with key 'scopes')")
            )
            self._refuse_outside(
                wanted, allowed, source, f"'allowed_scopes' of {self.context.admin_where}"
            )
        if not wanted:
            raise SecretFormatError(
                f"{self.context.where}: the new key would have no scopes; SendGrid would make it "
                "a full-access key, so rotor refuses."
            )
        return wanted

    def _refuse_outside(self, wanted: list[str], bound: list[str], what: str, limit: str) -> None:
        outside = [s for s in wanted if s not in bound]
        if outside:
            raise SecretFormatError(
                f"{self.context.where}: {what} asks for scopes beyond {limit}: "
                f"{', '.join(sorted(outside))}. A rotation never widens a key; no key was made."
            )

    def create_key(self, name: str) -> IssuedKey:
        body: dict[str, Any] = {"name": name, "scopes": self.scopes_for_new_key()}
        what = "Create a SendGrid API key"
        data = self.http.request_json(
            "POST", "/v3/api_keys", what, headers=self._admin(), json_body=body, ok=(201,)
        )
        return IssuedKey(
            key=json_text(data, "api_key", what),
            key_id=json_text(data, "api_key_id", what),
            name=name,
        )

    def list_keys(self, prefix: str) -> list[KeyInfo]:
        what = "List SendGrid API keys"
        data = self.http.request_json(
            "GET",
            "/v3/api_keys",
            what,
            headers=self._admin(),
            params={"limit": str(LIST_LIMIT)},
            ok=(200,),
        )
        items = data.get("result") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) >= LIST_LIMIT:
            logger.warning(
                "SendGrid listed as many keys as rotor asked for; the listing may be "
                "incomplete (SendGrid offers no paging)",
                extra={"limit": LIST_LIMIT},
            )
        return [
            KeyInfo(key_id=str(item["api_key_id"]), name=str(item.get("name", "")))
            for item in items or []
            if isinstance(item, dict) and item.get("api_key_id")
        ]

    def verify_key(self, key: str) -> None:
        what = "Verify the new SendGrid API key"
        response = self.http.request(
            "GET",
            "/v3/scopes",
            what,
            headers={"Authorization": f"Bearer {key}"},
            ok=(200,),
            credential="new API key",
        )
        assert response is not None
        scopes = response.json(what).get("scopes") if response.body else None
        if not isinstance(scopes, list):
            raise AuthenticationFailed(f"{what}: SendGrid did not list the key's scopes.")

    def revoke_key(self, key_id: str) -> bool:
        return self.http.delete(
            path("/v3/api_keys/{id}", id=key_id), "Revoke a SendGrid API key", self._admin()
        )


def _scope_list(source: Mapping[str, Any], key: str, where: str) -> list[str] | None:
    """An optional list of scope names, without repeats, in the order given."""
    value = source.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise SecretFormatError(f"{where}: key '{key}' must be a list of scope names.")
    return list(dict.fromkeys(value))


def _scopes_of(data: Any, what: str, key_id: str | None = None) -> list[str]:
    """``scopes`` of an answer: at the top level (as documented), or of the item of
    ``result`` with this ``api_key_id``."""
    if isinstance(data, Mapping) and key_id is not None and "scopes" not in data:
        items = data.get("result")
        data = (
            next(
                (i for i in items if isinstance(i, Mapping) and i.get("api_key_id") == key_id), None
            )
            if isinstance(items, list)
            else None
        )
    scopes = data.get("scopes") if isinstance(data, Mapping) else None
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ServiceError(f"{what}: SendGrid did not list the key's scopes.")
    return list(dict.fromkeys(scopes))
