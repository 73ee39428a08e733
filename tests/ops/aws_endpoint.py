"""A real AWS endpoint on 127.0.0.1 for what moto cannot show: it speaks the JSON protocol
(``X-Amz-Target``), answers the operations a test scripts (CloudTrail's LookupEvents, which
moto lacks; an AWS error such as RotateSecret's "will be reattempted") and passes every other
request to moto unchanged, recording each operation and its parameters."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

JSON_11 = "application/x-amz-json-1.1"


@dataclass
class Endpoint:
    moto: str
    url: str = ""
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, operation: str, body: dict[str, Any], status: int = 200) -> None:
        self.answers[operation] = (status, body)

    def fail(self, operation: str, code: str, message: str, status: int = 400) -> None:
        self.answer(operation, {"__type": code, "message": message}, status)

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            endpoint.calls.append((operation, json.loads(body or b"{}")))
            if operation in endpoint.answers:
                status, answer = endpoint.answers[operation]
                self._send(status, {"Content-Type": JSON_11}, json.dumps(answer).encode())
            else:
                self._forward(body)

        def _forward(self, body: bytes) -> None:
            target = urlsplit(endpoint.moto)
            connection = http.client.HTTPConnection(str(target.hostname), target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            connection.request("POST", self.path, body, headers)
            response = connection.getresponse()
            content = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in {"content-length", "transfer-encoding", "connection"}
            }
            self._send(response.status, kept, content)
            connection.close()

        def _send(self, status: int, headers: dict[str, str], content: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(moto: str) -> Iterator[Endpoint]:
    endpoint = Endpoint(moto)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def rotation_failed(arn: str, when: float, event_id: str = "e1") -> dict[str, Any]:
    """A LookupEvents entry for a RotationFailed of ``arn``, shaped as AWS documents it."""
    detail = {
        "eventVersion": "1.05",
        "userIdentity": {
            "accountId": arn.split(":")[4],
            "invokedBy": "secretsmanager.amazonaws.com",
        },
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "RotationFailed",
        "awsRegion": arn.split(":")[3],
        "sourceIPAddress": "secretsmanager.amazonaws.com",
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": {"SecretId": arn},
        "eventType": "AwsServiceEvent",
    }
    return {
        "EventId": event_id,
        "EventName": "RotationFailed",
        "ReadOnly": "false",
        "EventTime": when,
        "EventSource": "secretsmanager.amazonaws.com",
        "Resources": [],
        "CloudTrailEvent": json.dumps(detail),
    }
