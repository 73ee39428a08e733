"""Real HTTP servers on 127.0.0.1 speaking what moto lacks for `rotor check`: Lambda's Invoke
and GetFunctionConfiguration REST API (running real handlers in this process, as a deployed
function would), and IAM's Query API for SimulatePrincipalPolicy (decisions set by the test)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

ACCOUNT, REGION = "123456789012", "us-east-1"
PREFIX = "/2015-03-31/functions/"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


@dataclass
class Function:
    handler: Callable[..., Any]
    role: str = f"arn:aws:iam::{ACCOUNT}:role/rotor-rotation"
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "rotor"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], state: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, kind: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class LambdaApi(_Quiet):
    """POST …/functions/{name}/invocations and GET …/functions/{name}/configuration."""

    def function(self, suffix: str) -> tuple[str, Function | None]:
        name = unquote(self.path[len(PREFIX) :].split("?")[0].removesuffix(suffix))
        name = name.split(":function:")[-1].split(":")[0]  # an ARN, possibly qualified
        return name, self.server.state.get(name)  # type: ignore[attr-defined]

    def missing(self, name: str) -> None:
        error = {"Type": "User", "message": f"Function not found: {function_arn(name)}"}
        self.reply(
            404,
            json.dumps(error).encode(),
            "application/json",
            **{"x-amzn-ErrorType": "ResourceNotFoundException"},
        )

    def do_GET(self) -> None:
        name, function = self.function("/configuration")
        if function is None:
            return self.missing(name)
        config = {
            "FunctionName": name,
            "FunctionArn": function_arn(name),
            "Role": function.role,
            "Environment": {"Variables": function.environment},
        }
        self.reply(200, json.dumps(config).encode(), "application/json")

    def do_POST(self) -> None:
        name, function = self.function("/invocations")
        event = json.loads(self.body() or b"{}")
        if function is None:
            return self.missing(name)
        try:
            result = function.handler(event, Context(function_arn(name)))
        except Exception as exc:  # as Lambda reports an unhandled error
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            self.reply(
                200,
                json.dumps(error).encode(),
                "application/json",
                **{"X-Amz-Function-Error": "Unhandled"},
            )
            return
        self.reply(200, json.dumps(result).encode(), "application/json")


@dataclass
class Iam:
    """Decisions by (action, resource); anything not listed is implicitDeny. ``denied``:
    the caller may not simulate at all."""

    allowed: set[tuple[str, str]] = field(default_factory=set)
    denied: bool = False
    asked: list[dict[str, list[str]]] = field(default_factory=list)


class IamApi(_Quiet):
    def do_POST(self) -> None:
        form = parse_qs(self.body().decode())
        state: Iam = self.server.state  # type: ignore[attr-defined]
        if form.get("Action") != ["SimulatePrincipalPolicy"]:
            return self.error(400, "InvalidAction", "only SimulatePrincipalPolicy here")
        if state.denied:
            return self.error(403, "AccessDenied", "not authorized to simulate")
        actions = [v[0] for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
        resources = [v[0] for k, v in form.items() if k.startswith("ResourceArns.member.")]
        state.asked.append({"actions": actions, "resources": resources})
        members = "".join(
            "<member>"
            f"<EvalActionName>{escape(action)}</EvalActionName>"
            f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
            "<EvalDecision>"
            + ("allowed" if (action, resource) in state.allowed else "implicitDeny")
            + "</EvalDecision><MatchedStatements/><MissingContextValues/></member>"
            for action in actions
            for resource in resources
        )
        body = (
            '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
            f"<EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult>"
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
            "</SimulatePrincipalPolicyResponse>"
        )
        self.reply(200, body.encode(), "text/xml")

    def error(self, status: int, code: str, message: str) -> None:
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>1</RequestId></ErrorResponse>"
        )
        self.reply(status, body.encode(), "text/xml")
