"""What the walkthrough's RabbitMQ rotator promises beyond the kit: the management API gets
the new password only as its salted hash (every request recorded by a real HTTP proxy between
the rotator and RabbitMQ); the user keeps its tags, vhost permissions and limits; a connection
opened before the rotation stays open. TLS is the default: a plaintext broker is an error that
says what to check, and changes nothing; so is an admin secret for a user without the
administrator tag."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.kit.test_rabbitmq_users import APP, rabbitmq_user  # noqa: F401 - the fixture


class RecordingProxy(ThreadingHTTPServer):
    """Forwards every request to ``upstream`` and keeps (method, path, body) of each."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.seen = upstream, []
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Forward(BaseHTTPRequestHandler):
    server: RecordingProxy

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, body.decode()))
        headers = {
            k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")
        }
        answer = requests.request(
            self.command, self.server.upstream + self.path, data=body, headers=headers, timeout=10
        )
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_PUT = _forward

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy(rotor_rabbitmq) -> Iterator[RecordingProxy]:
    server = RecordingProxy(rotor_rabbitmq.management_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_rotation_sends_a_hash_and_keeps_the_rest_of_the_user(
    rotor_rabbitmq,
    rotor_secret,
    rotor_sm,
    rotor_harness,
    rabbitmq_user,  # noqa: F811
    proxy,
):
    value = rabbitmq_user()
    user = value["username"]
    limit = {"value": 20}
    rotor_rabbitmq.api("PUT", f"/api/user-limits/{user}/max-connections", json=limit)
    permissions_before = rotor_rabbitmq.api("GET", f"/api/permissions/%2F/{user}").json()
    opened_before = rotor_rabbitmq.connect(user, value["password"])
    admin = rotor_secret(rotor_rabbitmq.admin_secret(management_port=proxy.port))
    arn = rotor_secret({**value, "management_port": proxy.port, "adminarn": admin})

    report = rotor_harness(APP).rotate(arn)

    assert report.succeeded, report.steps
    new = json.loads(
        rotor_sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    assert rotor_rabbitmq.logs_in(user, new["password"])
    assert not rotor_rabbitmq.logs_in(user, value["password"])
    puts = [json.loads(body) for method, _, body in proxy.seen if method == "PUT"]
    assert puts == [
        {
            "password_hash": puts[0]["password_hash"],
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ["monitoring"],
        }
    ]
    for password in (value["password"], new["password"]):
        assert not [seen for seen in proxy.seen if password in seen[1] + seen[2]]
    stored = rotor_rabbitmq.api("GET", f"/api/users/{user}").json()
    assert stored["tags"] == ["monitoring"]
    salted = base64.b64decode(stored["password_hash"])  # RabbitMQ keeps the hash it was sent
    assert salted[4:] == hashlib.sha256(salted[:4] + new["password"].encode()).digest()
    assert rotor_rabbitmq.api("GET", f"/api/permissions/%2F/{user}").json() == permissions_before
    assert stored["limits"] == {"max-connections": 20}
    assert opened_before.channel().is_open  # a round trip: the broker still serves it
    opened_before.close()


def test_tls_is_the_default_and_a_plaintext_broker_is_refused(
    rotor_rabbitmq,
    rotor_secret,
    rotor_harness,
    rabbitmq_user,  # noqa: F811
):
    value = rabbitmq_user()
    del value["ssl"]  # the private broker speaks plaintext only

    report = rotor_harness(APP, attempts=1).rotate(rotor_secret(value))

    assert not report.succeeded
    error = report.steps[-1].error
    assert error.startswith(f"ServiceError: RabbitMQ at {rotor_rabbitmq.host}:")
    assert error.endswith("check keys 'host', 'port' and 'ssl'.")
    assert value["password"] not in error
    assert rotor_rabbitmq.logs_in(value["username"], value["password"])


def test_an_admin_without_the_administrator_tag_changes_nothing(
    rotor_rabbitmq,
    rotor_secret,
    rotor_harness,
    rabbitmq_user,  # noqa: F811
):
    weak = rabbitmq_user()  # a user with the monitoring tag only, named as the admin
    value = {**rabbitmq_user(), "adminarn": rotor_secret(weak)}

    report = rotor_harness(APP, attempts=1).rotate(rotor_secret(value))

    assert not report.succeeded
    error = report.steps[-1].error
    assert error.endswith(
        f"refused '{weak['username']}': it needs its password and the administrator tag."
    )
    assert value["password"] not in error and weak["password"] not in error
    assert rotor_rabbitmq.logs_in(value["username"], value["password"])
