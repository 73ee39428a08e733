"""A real HTTP proxy on 127.0.0.1 in front of moto that throttles as Secrets Manager does.

moto never throttles, so to prove that a client survives throttling, calls go through this
proxy, which answers some of them with the service's own throttling response (HTTP 400,
``{"__type": "ThrottlingException", "message": "Rate exceeded"}`` in awsJson1.1, as the SDKs
parse it) and forwards the rest unchanged. Which calls: ``EveryNth`` (deterministic, for tests)
or ``Quotas`` (token buckets per quota group, for benchmarks).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

THROTTLED = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
# Secrets Manager's quotas per Region (calls/s), by the operations that share each one.
WRITES = ("PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage")
QUOTAS: dict[tuple[str, ...], float] = {
    WRITES: 50.0,
    ("RotateSecret",): 50.0,
    ("DescribeSecret", "GetSecretValue"): 10_000.0,
}


class Policy(Protocol):
    def throttle(self, operation: str) -> bool:
        """Whether to answer this call with ThrottlingException."""


class EveryNth:
    """Throttle every ``n``-th call of ``operations`` (all operations when empty)."""

    def __init__(self, n: int, operations: Iterable[str] = ()) -> None:
        self.n, self.operations = n, frozenset(operations)
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def throttle(self, operation: str) -> bool:
        if self.operations and operation not in self.operations:
            return False
        with self._lock:
            self.seen[operation] += 1
            return self.seen[operation] % self.n == 0


class Quotas:
    """Token buckets per quota group (one second of burst), throttling calls over the rate.

    ``rotation_writes``: the writes a rotation function makes per RotateSecret (PutSecretValue
    and two UpdateSecretVersionStage), charged to the write quota when RotateSecret is called,
    since moto completes the rotation itself without calling them over the wire."""

    def __init__(
        self,
        quotas: Mapping[tuple[str, ...], float] | None = None,
        *,
        rotation_writes: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.groups = {op: group for group in (quotas or QUOTAS) for op in group}
        self.rates = dict(quotas or QUOTAS)
        self.tokens = dict(self.rates)
        self.stamp = {group: clock() for group in self.rates}
        self.rotation_writes = rotation_writes
        self._lock = threading.Lock()

    def throttle(self, operation: str) -> bool:
        costs = {self.groups[operation]: 1.0} if operation in self.groups else {}
        if operation == "RotateSecret" and WRITES in self.rates and self.rotation_writes:
            costs[WRITES] = costs.get(WRITES, 0.0) + self.rotation_writes
        with self._lock:
            now = self.clock()
            for group in costs:
                elapsed, self.stamp[group] = now - self.stamp[group], now
                self.tokens[group] = min(
                    self.rates[group], self.tokens[group] + elapsed * self.rates[group]
                )
            if any(self.tokens[g] < cost for g, cost in costs.items()):
                return True
            for group, cost in costs.items():
                self.tokens[group] -= cost
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (a cancelled run, a closed pool) is no error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class ThrottlingProxy:
    """``with ThrottlingProxy(moto_endpoint, policy) as proxy:`` then use ``proxy.endpoint``.
    ``calls`` and ``throttled`` count by operation."""

    def __init__(self, upstream: str, policy: Policy) -> None:
        self.upstream = urlsplit(upstream)
        self.policy = policy
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ThrottlingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, operation: str) -> bool:
        throttle = bool(operation) and self.policy.throttle(operation)
        with self._lock:
            self.calls[operation] += 1
            if throttle:
                self.throttled[operation] += 1
        return throttle

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                if proxy._decide(operation):
                    self._reply(
                        400,
                        [
                            ("Content-Type", "application/x-amz-json-1.1"),
                            ("x-amzn-RequestId", str(uuid.uuid4())),
                        ],
                        THROTTLED,
                    )
                else:
                    self._forward(body)

            def _forward(self, body: bytes) -> None:
                if self.upstream is None:
                    host, port = proxy.upstream.hostname or "", proxy.upstream.port or 80
                    self.upstream = http.client.HTTPConnection(host, port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                answer = self.upstream.getresponse()
                data = answer.read()
                kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
                self._reply(answer.status, kept, data)

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
