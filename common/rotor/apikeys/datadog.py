"""Datadog API keys (Key Management API v2).

* Create: ``POST /api/v2/api_keys`` with ``{"data": {"type": "api_keys", "attributes":
  {"name"}}}`` answers 201 with ``data.id`` and ``data.attributes.key``.
* List: ``GET /api/v2/api_keys`` (``filter``, ``page[size]`` up to 100, ``page[number]``)
  answers ``{"data": [{"id", "attributes": {"name", "last4", ...}}]}``.
* Fetch: ``GET /api/v2/api_keys/{id}`` shows the key again (``data.attributes.key``), so a
  retried createSecret reuses the key it made instead of making another.
* Verify: ``GET /api/v1/validate`` with ``DD-API-KEY: <key>`` answers ``{"valid": true}``, or
  403 for a key that does not exist (any more).
* Revoke: ``DELETE /api/v2/api_keys/{id}`` answers 204, or 404 when it is already gone.
* Auth: ``DD-API-KEY`` and ``DD-APPLICATION-KEY`` (permissions ``api_keys_read``,
  ``api_keys_write``, ``api_keys_delete``). A 429 carries ``X-RateLimit-Reset`` (seconds).
* Other sites: ``"base_url": "https://api.datadoghq.eu"`` (or us3, us5, ap1...).

Ownership: the admin can show any key of its account, and only of its account. A key is proven
when the admin shows that same value: under the id the secret claims (``key_id``), else under
one of the admin's listed keys whose ``last4`` matches (a claimed id that shows another value is
ignored). Comparisons are constant-time; no value is logged.

Admin secret: ``{"api_key": "...", "application_key": "..."}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rotor.apikeys.http import path
from rotor.apikeys.provider import IssuedKey, KeyInfo, Provider, json_path, json_text
from rotor.errors import AuthenticationFailed

PAGE_SIZE = 100
MAX_PAGES = 50


class Datadog(Provider):
    default_base_url = "https://api.datadoghq.com"
    wait_headers = ("X-RateLimit-Reset",)

    def _admin(self) -> dict[str, str]:
        return {
            "DD-API-KEY": self.context.admin_text("api_key"),
            "DD-APPLICATION-KEY": self.context.admin_text("application_key"),
        }

    def check_settings(self) -> None:
        self._admin()  # both admin credentials are there, before any call

    def create_key(self, name: str) -> IssuedKey:
        what = "Create a Datadog API key"
        body = {"data": {"type": "api_keys", "attributes": {"name": name}}}
        data = self.http.request_json(
            "POST", "/api/v2/api_keys", what, headers=self._admin(), json_body=body, ok=(201, 200)
        )
        return IssuedKey(
            key=json_text(data, "data.attributes.key", what),
            key_id=json_text(data, "data.id", what),
            name=name,
        )

    def _listing(self, prefix: str) -> Iterator[tuple[KeyInfo, dict[str, Any]]]:
        """Each listed key of the admin's account, with its attributes (never a value)."""
        what = "List Datadog API keys"
        for page in range(MAX_PAGES):
            params = {"page[size]": str(PAGE_SIZE), "page[number]": str(page)}
            if prefix:
                params["filter"] = prefix
            listing = self.http.request_json(
                "GET", "/api/v2/api_keys", what, headers=self._admin(), params=params, ok=(200,)
            )
            items = json_path(listing, "data", what)
            if not isinstance(items, list):
                return
            for item in items:
                if isinstance(item, dict) and item.get("id"):
                    attributes = item.get("attributes")
                    attributes = attributes if isinstance(attributes, dict) else {}
                    name = str(attributes.get("name", ""))
                    yield KeyInfo(key_id=str(item["id"]), name=name), attributes
            if len(items) < PAGE_SIZE:
                return

    def list_keys(self, prefix: str) -> list[KeyInfo]:
        return [info for info, _ in self._listing(prefix)]

    def proof_candidates(self, key: str) -> list[KeyInfo]:
        """The admin's keys that end like ``key`` (``last4``): the only ones worth reading."""
        return [
            info for info, attributes in self._listing("") if attributes.get("last4") == key[-4:]
        ]

    def fetch_key(self, key_id: str) -> str | None:
        what = "Read a Datadog API key"
        response = self.http.request(
            "GET",
            path("/api/v2/api_keys/{id}", id=key_id),
            what,
            headers=self._admin(),
            ok=(200,),
            missing_ok=True,
        )
        if response is None:
            return None
        return json_text(response.json(what), "data.attributes.key", what)

    def verify_key(self, key: str) -> None:
        what = "Verify the new Datadog API key"
        answer = self.http.request_json(
            "GET",
            "/api/v1/validate",
            what,
            headers={"DD-API-KEY": key},
            ok=(200,),
            credential="new API key",
        )
        if json_path(answer, "valid", what) is not True:
            raise AuthenticationFailed(f"{what}: Datadog did not report the key as valid.")

    def revoke_key(self, key_id: str) -> bool:
        target = path("/api/v2/api_keys/{id}", id=key_id)
        return self.http.delete(target, "Revoke a Datadog API key", self._admin())
