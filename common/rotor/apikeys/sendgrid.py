"""Twilio SendGrid API keys (``/v3/api_keys``).

* Create: ``POST /v3/api_keys`` with ``{"name", "scopes"}`` answers 201 with ``api_key`` (the
  69-character key, shown this once only) and ``api_key_id``. Without ``scopes`` SendGrid
  issues a full-access key: set ``scopes`` in the secret to what the consumers need.
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

Admin secret: ``{"api_key": "SG...."}``.
"""

from __future__ import annotations

from typing import Any

from rotor.apikeys.http import path
from rotor.apikeys.provider import IssuedKey, KeyInfo, Provider, json_text
from rotor.errors import AuthenticationFailed, SecretFormatError
from rotor.observability import logger

LIST_LIMIT = 500  # SendGrid documents no offset or cursor: one bounded request


class SendGrid(Provider):
    default_base_url = "https://api.sendgrid.com"
    wait_headers = ("X-RateLimit-Reset",)  # a Unix time on SendGrid

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.context.admin_text('api_key')}"}

    def _scopes(self) -> list[str] | None:
        scopes = self.context.setting("scopes", list)
        if scopes is None:
            return None
        if not all(isinstance(s, str) and s for s in scopes):
            raise SecretFormatError(f"{self.context.where}: key 'scopes' must list strings.")
        return [str(s) for s in scopes]

    def check_settings(self) -> None:
        self._scopes()

    def create_key(self, name: str) -> IssuedKey:
        body: dict[str, Any] = {"name": name}
        scopes = self._scopes()
        if scopes is not None:
            body["scopes"] = scopes
        what = "Create a SendGrid API key"
        data = self.http.request_json("POST", "/v3/api_keys", what, headers=self._admin(),
                                      json_body=body, ok=(201,))
        return IssuedKey(key=json_text(data, "api_key", what),
                         key_id=json_text(data, "api_key_id", what), name=name)

    def list_keys(self, prefix: str) -> list[KeyInfo]:
        what = "List SendGrid API keys"
        data = self.http.request_json("GET", "/v3/api_keys", what, headers=self._admin(),
                                      params={"limit": str(LIST_LIMIT)}, ok=(200,))
        items = data.get("result") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) >= LIST_LIMIT:
            logger.warning("SendGrid listed as many keys as rotor asked for; the listing may be "
                           "incomplete (SendGrid offers no paging)", extra={"limit": LIST_LIMIT})
        return [
            KeyInfo(key_id=str(item["api_key_id"]), name=str(item.get("name", "")))
            for item in items or []
            if isinstance(item, dict) and item.get("api_key_id")
        ]

    def verify_key(self, key: str) -> None:
        what = "Verify the new SendGrid API key"
        response = self.http.request("GET", "/v3/scopes", what,
                                     headers={"Authorization": f"Bearer {key}"},
                                     ok=(200,), credential="new API key")
        assert response is not None
        scopes = response.json(what).get("scopes") if response.body else None
        if not isinstance(scopes, list):
            raise AuthenticationFailed(f"{what}: SendGrid did not list the key's scopes.")

    def revoke_key(self, key_id: str) -> bool:
        return self.http.delete(path("/v3/api_keys/{id}", id=key_id), "Revoke a SendGrid API key",
                                self._admin())
