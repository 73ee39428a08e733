"""Rotation outcomes a team can alarm on: EMF metrics by rotator and error class, a structured
log line, and an optional EventBridge event that can never fail a rotation."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.pg import pg_secret


def emf(text):
    """Every embedded-metric-format document printed."""
    docs = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    return docs


def metric(docs, name):
    found = []
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == name for m in directive["Metrics"]):
                found.append((sorted(directive["Dimensions"][0]), doc))
    return found


@pytest.fixture
def metrics_on(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def test_failed_and_succeeded_rotations_are_metrics_without_the_secret(
    pg, sm, harness, new_secret, make_role, capsys, metrics_on
):
    user, password = make_role(pg)
    good = new_secret(pg_secret(pg, user, password))
    bad = new_secret(pg_secret(pg, user, "wrong-password"))
    capsys.readouterr()
    assert harness("postgresql_single").rotate(good).succeeded
    assert not harness("postgresql_single", attempts=1).rotate(bad).succeeded
    docs = emf(capsys.readouterr().out)
    ((dimensions, doc),) = metric(docs, "RotationSucceeded")
    assert dimensions == ["rotator", "service"] and doc["rotator"] == "postgresql-single"
    failed = metric(docs, "RotationFailed")
    assert [d for d, _ in failed] == [["error", "rotator", "service"]]
    assert failed[0][1]["error"] == "AuthenticationFailed"
    assert not [d for d in docs if good in json.dumps(d) or bad in json.dumps(d)]


def test_a_failure_log_line_says_the_class_and_whether_retrying_helps(
    pg, sm, harness, new_secret, caplog
):
    caplog.set_level(logging.ERROR)
    arn = new_secret({"engine": "postgres", "host": pg.host, "username": "u"})  # no password
    assert not harness("postgresql_single").rotate(arn).succeeded
    (record,) = [r for r in caplog.records if r.getMessage() == "Rotation step failed"]
    assert record.error_class == "SecretFormatError" and record.permanent is True


class EventBridge(BaseHTTPRequestHandler):
    """PutEvents on 127.0.0.1: records what it is sent and answers as EventBridge does."""

    received: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        EventBridge.received.append((self.headers.get("X-Amz-Target"), body))
        answer = json.dumps({"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def event_bridge(monkeypatch):
    from rotor import events

    server = ThreadingHTTPServer(("127.0.0.1", 0), EventBridge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    EventBridge.received = []
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("ROTOR_EVENT_BUS", "rotations")
    monkeypatch.setattr(events, "_client", None)
    yield EventBridge.received
    server.shutdown()
    events._client = None


def test_outcomes_go_to_eventbridge(pg, sm, harness, new_secret, make_role, event_bridge):
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password))
    report = harness("postgresql_single").rotate(arn)
    assert report.succeeded
    ((target, body),) = event_bridge
    assert target == "AWSEvents.PutEvents"
    (entry,) = body["Entries"]
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "rotor",
        "Rotation Succeeded",
        "rotations",
    )
    assert detail["secret_arn"] == arn and detail["version_id"] == report.token
    assert password not in entry["Detail"]


def test_an_unreachable_eventbridge_never_fails_a_rotation(
    pg, sm, harness, new_secret, make_role, monkeypatch, caplog
):
    from rotor import events

    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("ROTOR_EVENT_BUS", "rotations")
    monkeypatch.setattr(events, "_client", None)
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password))
    caplog.set_level(logging.WARNING)
    assert harness("postgresql_single").rotate(arn).succeeded
    assert "Could not put the rotation event on EventBridge" in caplog.text
    events._client = None
