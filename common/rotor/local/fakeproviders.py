"""Fakes of key-issuing APIs, served over real HTTP on 127.0.0.1 (for tests and `rotor demo`).

Each fake follows its provider's documented requests, responses, auth and error codes closely
enough that the real provider code runs against it unchanged: a revoked key gets 401 (SendGrid)
or 403 (Datadog), deleting a missing key 404, and a 429 carries the provider's rate-limit
headers.

One endpoint serves many customer accounts, as the real services do: every key belongs to an
account (``DEFAULT_ACCOUNT`` unless ``add_key(..., account=...)`` says otherwise), and listing,
reading, creating and deleting keys act within the calling admin key's account only (a key of
another account is invisible to it: 404). ``GET /whoami`` (not part of either real API) answers
the calling key's account and id, for the generic provider's ``owner`` description.

Faults are injected per operation (``create``, ``list``, ``get``, ``verify``, ``revoke``,
``whoami``)::

    with FakeSendGrid() as api:
        admin = api.add_key("admin", scopes=SENDGRID_ADMIN_SCOPES)
        api.fail("create", times=2, status=500)
        api.fail("verify", status=429, retry_after=1)

Every request is recorded with its arrival time (``time.monotonic()``) and answer.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from rotor.local.background import BackgroundServer

SENDGRID_ADMIN_SCOPES = ("api_keys.create", "api_keys.read", "api_keys.update", "api_keys.delete")
SENDGRID_FULL_ACCESS = (*SENDGRID_ADMIN_SCOPES, "mail.send", "stats.read", "templates.read")

DEFAULT_ACCOUNT = "acct-company"
Reply = tuple[int, dict[str, str], Any]
_FAULT_MESSAGES = {
    401: "authorization required",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}


@dataclass
class FakeKey:
    key_id: str
    name: str
    secret: str = field(repr=False)
    scopes: list[str] = field(default_factory=list)
    account: str = DEFAULT_ACCOUNT
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    remaining: int


@dataclass(frozen=True)
class Recorded:
    op: str
    method: str
    path: str
    status: int
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


class FakeKeyApi(BackgroundServer, ABC):
    """A provider's key API: state, fault injection, and a threaded HTTP server."""

    name = "fake"

    def __init__(self) -> None:
        self.keys: dict[str, FakeKey] = {}
        self.revoked: set[str] = set()
        self.requests: list[Recorded] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.RLock()

    # --- state ---------------------------------------------------------------------------
    @abstractmethod
    def add_key(
        self,
        name: str,
        scopes: tuple[str, ...] | list[str] | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> FakeKey:
        """Create a key directly in ``account`` (the console's "Create key" button)."""

    def live_keys(self, prefix: str = "", account: str | None = None) -> list[FakeKey]:
        """Live keys named ``prefix...``, of every account unless ``account`` is given."""
        with self._lock:
            return [
                k
                for k in self.keys.values()
                if k.name.startswith(prefix) and account in (None, k.account)
            ]

    def key_by_secret(self, secret: str) -> FakeKey | None:
        with self._lock:
            return next((k for k in self.keys.values() if secret and k.secret == secret), None)

    def in_account(self, key_id: str, account: str) -> FakeKey | None:
        """The key with this id if it belongs to ``account``: other accounts' keys are 404."""
        with self._lock:
            key = self.keys.get(key_id)
            return key if key is not None and key.account == account else None

    def remove(self, key_id: str, account: str) -> FakeKey | None:
        """Delete a key of ``account`` (``None``: no such key there)."""
        with self._lock:
            key = self.in_account(key_id, account)
            if key is not None:
                del self.keys[key_id]
                self.revoked.add(key.secret)
            return key

    def _whoami(self, secret: str) -> Reply:
        key = self.key_by_secret(secret)
        if key is None:
            return 401, {}, self.error(401, "authorization required")
        return 200, {}, {"account": {"id": key.account}, "key": {"id": key.key_id}}

    def works(self, secret: str) -> bool:
        with self._lock:
            return any(k.secret == secret for k in self.keys.values())

    def fail(
        self,
        op: str,
        times: int = 1,
        status: int = 500,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``op`` with ``status`` (and rate-limit headers)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra.update(self.rate_limit_headers(retry_after))
        with self._lock:
            self._faults.setdefault(op, []).append(Fault(status, extra, times))

    def calls(self, op: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.op == op]

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {"Retry-After": f"{retry_after:g}"}

    # --- HTTP ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests carry keys in headers; keep them out of test output

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.serve(server, f"fake-{self.name}")
        return self

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        request = Request(
            method=handler.command,
            path=unquote(parts.path),
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        op, action = self.route(request)
        status, headers, payload = self._answer(op, action, request)
        with self._lock:
            self.requests.append(Recorded(op, request.method, request.path, status, arrived))
        data = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if data:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, op: str, action: Callable[[Request], Reply], request: Request) -> Reply:
        with self._lock:
            queue = self._faults.get(op, [])
            fault = queue[0] if queue else None
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
        if fault is not None:
            message = _FAULT_MESSAGES.get(fault.status, "injected fault")
            return fault.status, fault.headers, self.error(fault.status, message)
        if request.body is ValueError:
            return 400, {}, self.error(400, "request body is not valid JSON")
        with self._lock:
            return action(request)

    @abstractmethod
    def route(self, request: Request) -> tuple[str, Callable[[Request], Reply]]:
        """The operation name and the function answering ``request``."""

    @abstractmethod
    def error(self, status: int, message: str, field_name: str | None = None) -> Any:
        """An error body in the provider's documented shape."""

    def not_found(self, request: Request) -> Reply:
        return 404, {}, self.error(404, "not found")


class FakeSendGrid(FakeKeyApi):
    """SendGrid's ``/v3/api_keys`` and ``/v3/scopes`` with Bearer authentication.

    ``GET /v3/api_keys/{id}`` (op ``get``) answers the key's ``name``, ``api_key_id`` and
    ``scopes``; ``GET /v3/scopes`` (op ``verify``) the scopes of the calling key, whether
    createSecret reads the current key's or testSecret checks the new one. A key created
    without ``scopes`` gets full access, as on SendGrid."""

    name = "sendgrid"
    max_keys = 100  # SendGrid's documented limit per account; a test may raise it

    def add_key(
        self,
        name: str,
        scopes: tuple[str, ...] | list[str] | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> FakeKey:
        key_id = secrets.token_urlsafe(16)[:22]
        key = FakeKey(
            key_id,
            name,
            f"SG.{key_id}.{secrets.token_urlsafe(32)[:43]}",
            list(scopes if scopes is not None else SENDGRID_FULL_ACCESS),
            account,
        )
        with self._lock:
            self.keys[key_id] = key
        return key

    def error(self, status: int, message: str, field_name: str | None = None) -> Any:
        return {"errors": [{"field": field_name, "message": message}]}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        reset = int(time.time() + retry_after)
        return {
            "Retry-After": f"{retry_after:g}",
            "X-RateLimit-Limit": "150",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }

    def route(self, request: Request) -> tuple[str, Callable[[Request], Reply]]:
        segments = request.path.strip("/").split("/")
        if segments == ["v3", "scopes"] and request.method == "GET":
            return "verify", self._scopes
        if segments == ["whoami"] and request.method == "GET":
            return "whoami", lambda r: self._whoami(_bearer(r))
        if segments == ["v3", "api_keys"]:
            if request.method == "POST":
                return "create", self._create
            if request.method == "GET":
                return "list", self._list
        if len(segments) == 3 and segments[:2] == ["v3", "api_keys"]:
            if request.method == "DELETE":
                return "revoke", self._delete
            if request.method == "GET":
                return "get", self._get
        return "unknown", self.not_found

    def _caller(self, request: Request, scope: str | None) -> FakeKey | Reply:
        caller = self.key_by_secret(_bearer(request))
        if caller is None:
            return 401, {}, self.error(401, "authorization required")
        if scope is not None and scope not in caller.scopes:
            return 403, {}, self.error(403, "access forbidden")
        return caller

    def _scopes(self, request: Request) -> Reply:
        caller = self._caller(request, None)
        if not isinstance(caller, FakeKey):
            return caller
        return 200, {}, {"scopes": list(caller.scopes)}

    def _create(self, request: Request) -> Reply:
        caller = self._caller(request, "api_keys.create")
        if not isinstance(caller, FakeKey):
            return caller
        body = request.body if isinstance(request.body, dict) else {}
        name, scopes = body.get("name"), body.get("scopes")
        if not isinstance(name, str) or not name:
            return 400, {}, self.error(400, "missing required argument", "name")
        if scopes is not None and (
            not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
        ):
            return 400, {}, self.error(400, "scopes must be a list of strings", "scopes")
        if len(self.live_keys(account=caller.account)) >= self.max_keys:
            return 403, {}, self.error(403, "You have reached the maximum number of API keys")
        key = self.add_key(name, scopes, caller.account)
        return (
            201,
            {},
            {
                "api_key": key.secret,
                "api_key_id": key.key_id,
                "name": key.name,
                "scopes": key.scopes,
            },
        )

    def _list(self, request: Request) -> Reply:
        caller = self._caller(request, "api_keys.read")
        if not isinstance(caller, FakeKey):
            return caller
        # The one documented parameter: ``limit`` (no offset or cursor); without it, all keys.
        raw = request.query.get("limit")
        if raw is not None and not (raw.isdigit() and int(raw) > 0):
            return 400, {}, self.error(400, "limit must be a positive integer", "limit")
        keys = self.live_keys(account=caller.account)[: int(raw) if raw else None]
        return 200, {}, {"result": [{"name": k.name, "api_key_id": k.key_id} for k in keys]}

    def _get(self, request: Request) -> Reply:
        caller = self._caller(request, "api_keys.read")
        if not isinstance(caller, FakeKey):
            return caller
        key = self.in_account(request.path.rsplit("/", 1)[-1], caller.account)
        if key is None:
            return 404, {}, self.error(404, "unable to find API key")
        return 200, {}, {"api_key_id": key.key_id, "name": key.name, "scopes": key.scopes}

    def _delete(self, request: Request) -> Reply:
        caller = self._caller(request, "api_keys.delete")
        if not isinstance(caller, FakeKey):
            return caller
        if self.remove(request.path.rsplit("/", 1)[-1], caller.account) is None:
            return 404, {}, self.error(404, "unable to find API key")
        return 204, {}, None


class FakeDatadog(FakeKeyApi):
    """Datadog's Key Management v2 API keys and ``/api/v1/validate``."""

    name = "datadog"

    def __init__(self) -> None:
        super().__init__()
        self.application_keys: dict[str, str] = {}  # value -> account

    def add_key(
        self,
        name: str,
        scopes: tuple[str, ...] | list[str] | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> FakeKey:
        key = FakeKey(str(uuid.uuid4()), name, secrets.token_hex(16), account=account)
        with self._lock:
            self.keys[key.key_id] = key
        return key

    def add_application_key(self, account: str = DEFAULT_ACCOUNT) -> str:
        value = secrets.token_hex(20)
        with self._lock:
            self.application_keys[value] = account
        return value

    def error(self, status: int, message: str, field_name: str | None = None) -> Any:
        return {"errors": [message if status != 403 else "Forbidden"]}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Period": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{retry_after:g}",
            "X-RateLimit-Name": "api_keys",
        }

    def route(self, request: Request) -> tuple[str, Callable[[Request], Reply]]:
        segments = request.path.strip("/").split("/")
        if segments == ["api", "v1", "validate"] and request.method == "GET":
            return "verify", self._validate
        if segments == ["whoami"] and request.method == "GET":
            return "whoami", lambda r: self._whoami(r.headers.get("dd-api-key", ""))
        if segments == ["api", "v2", "api_keys"]:
            if request.method == "POST":
                return "create", self._create
            if request.method == "GET":
                return "list", self._list
        if len(segments) == 4 and segments[:3] == ["api", "v2", "api_keys"]:
            if request.method == "DELETE":
                return "revoke", self._delete
            if request.method == "GET":
                return "get", self._get
        return "unknown", self.not_found

    def _account(self, request: Request) -> str | None:
        """The account both admin headers belong to (``None``: not authorised)."""
        api_key = self.key_by_secret(request.headers.get("dd-api-key", ""))
        app_account = self.application_keys.get(request.headers.get("dd-application-key", ""))
        return api_key.account if api_key is not None and api_key.account == app_account else None

    @staticmethod
    def _resource(key: FakeKey, full: bool) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "name": key.name,
            "last4": key.secret[-4:],
            "created_at": key.created_at,
            "modified_at": key.created_at,
            "category": "default",
            "remote_config_read_enabled": False,
        }
        if full:
            attributes["key"] = key.secret
        return {"type": "api_keys", "id": key.key_id, "attributes": attributes}

    def _validate(self, request: Request) -> Reply:
        if not self.works(request.headers.get("dd-api-key", "")):
            return 403, {}, self.error(403, "Forbidden")
        return 200, {}, {"valid": True}

    def _create(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return 403, {}, self.error(403, "Forbidden")
        data = request.body.get("data") if isinstance(request.body, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("type") != "api_keys":
            return 400, {}, self.error(400, "data.type must be 'api_keys'")
        name = attributes.get("name") if isinstance(attributes, dict) else None
        if not isinstance(name, str) or not name:
            return 400, {}, self.error(400, "data.attributes.name is required")
        return 201, {}, {"data": self._resource(self.add_key(name, account=account), full=True)}

    def _list(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return 403, {}, self.error(403, "Forbidden")
        try:
            size = int(request.query.get("page[size]", "10"))
            number = int(request.query.get("page[number]", "0"))
        except ValueError:
            return 400, {}, self.error(400, "page parameters must be integers")
        if not 1 <= size <= 100 or number < 0:
            return 400, {}, self.error(400, "page[size] must be 1 to 100")
        wanted = request.query.get("filter", "")
        keys = [k for k in self.live_keys(account=account) if wanted in k.name]
        page = keys[number * size : (number + 1) * size]
        return (
            200,
            {},
            {
                "data": [self._resource(k, full=False) for k in page],
                "meta": {"page": {"total_filtered_count": len(keys)}},
            },
        )

    def _get(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return 403, {}, self.error(403, "Forbidden")
        key = self.in_account(request.path.rsplit("/", 1)[-1], account)
        if key is None:
            return 404, {}, self.error(404, "API key not found")
        return 200, {}, {"data": self._resource(key, full=True)}

    def _delete(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return 403, {}, self.error(403, "Forbidden")
        if self.remove(request.path.rsplit("/", 1)[-1], account) is None:
            return 404, {}, self.error(404, "API key not found")
        return 204, {}, None


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""


FAKES: dict[str, type[FakeKeyApi]] = {"sendgrid": FakeSendGrid, "datadog": FakeDatadog}


def start_fake(provider: str) -> FakeKeyApi:
    """A started fake of ``provider`` ("sendgrid" or "datadog"); call ``stop()`` when done."""
    return FAKES[provider]().start()
