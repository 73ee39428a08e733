"""Secrets Manager's rotation orchestration, reproduced in process.

The harness does what the service does and nothing more: it starts a rotation (a new version
labelled AWSPENDING with no value), invokes the rotator's real Lambda handler for the four
steps with the same token, retries the whole sequence when a step fails, and then checks the
end state. It never moves a label itself, so a broken finishSecret cannot pass unnoticed (moto's
own RotateSecret moves AWSCURRENT after the finish step, which would hide one).

It runs against moto, in process or as a server (``--endpoint-url``). moto's RotateSecret,
given a Lambda ARN it does not know, creates exactly the valueless AWSPENDING version and
enables rotation before failing to find the function: the harness uses that and verifies the
resulting state, so a backend that behaves otherwise is reported, not trusted.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from rotor.cli import pending as pending_rotation  # "stuck" as the CLI defines it
from rotor.observability import describe_exception
from rotor.secrets import CURRENT, PENDING

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")  # the only endpoints the harness will call
UNKNOWN_FUNCTION = "arn:aws:lambda:{region}:{account}:function:rotor-local-harness"
Handler = Callable[[dict[str, Any], Any], Any]


class HarnessError(Exception):
    """The rotation could not be started or did not reach a valid end state."""


@dataclass
class StepResult:
    attempt: int
    step: str
    seconds: float
    error: str | None = None
    permanent: bool = False  # the error cannot go away by retrying (RotationError.permanent)


@dataclass
class RotationReport:
    secret_id: str
    token: str
    before: dict[str, list[str]]
    after: dict[str, list[str]] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    succeeded: bool = False

    @property
    def attempts(self) -> int:
        return max((s.attempt for s in self.steps), default=0)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)


@dataclass
class LambdaContext:
    """Enough of a Lambda context object for handlers and Powertools."""

    function_name: str = "rotor-local"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rotor-local"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/rotor-local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + 900)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


class RotationInProgress(HarnessError):
    """Another rotation is in progress: finish it with its token, or cancel it."""


class HandlerNotFound(HarnessError):
    """The handler's file, module or function does not exist."""


def load_handler(spec: str) -> Handler:
    """A handler named as rotor or as Lambda does, to the callable.

    ``path/to/app.py:lambda_handler`` or ``path/to/app.py`` (function ``lambda_handler``);
    ``module:attr`` for an importable module; Lambda's own ``rotators/x/app.lambda_handler`` or
    ``pkg.module.func``, a file relative to the working directory (Lambda's code root) if there
    is one, else an importable module.
    """
    if ":" in spec:
        target, _, attr = spec.rpartition(":")
    elif spec.endswith(".py"):
        target, attr = spec, "lambda_handler"
    else:
        module, _, attr = spec.rpartition(".")
        if not module or not attr:
            raise HandlerNotFound(
                f"handler {spec!r} names no function: write path/to/app.py:function, "
                "path/to/app.function (as Lambda does) or module:function"
            )
        if "/" in module:  # a path, as Lambda writes subfolders: only a file can match
            target = module + ".py"
        else:
            as_file = Path(module.replace(".", "/") + ".py")
            target = str(as_file) if as_file.is_file() else module
    module_obj = _load_module(target, spec)
    handler = getattr(module_obj, attr, None)
    if not callable(handler):
        names = [n for n, v in vars(module_obj).items() if callable(v) and not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise HandlerNotFound(f"{target} has no function {attr!r}{hint}")
    return handler  # type: ignore[no-any-return]


def _load_module(target: str, spec: str) -> ModuleType:
    """Import the handler's module (by file path or module name), as Lambda's init does."""
    try:
        if target.endswith(".py"):
            path = Path(target).resolve()
            if not path.is_file():
                raise HandlerNotFound(f"no handler file {target}")
            digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
            name = f"rotor_handler_{path.parent.name}_{digest}"  # one per file
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise HarnessError(f"Cannot load a handler from {path}.")
            module = importlib.util.module_from_spec(module_spec)
            if str(path.parent) not in sys.path:  # as Lambda: the modules beside it import
                sys.path.append(str(path.parent))
            sys.modules[name] = module  # as an import does: dataclasses and pickle look here
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
        return importlib.import_module(target)
    except HarnessError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise HandlerNotFound(
                f"no handler module {target} (no file {target.replace('.', '/')}.py "
                "under the working directory, and no importable module)"
            ) from None
        raise HarnessError(f"cannot load the handler {spec}: {describe_exception(exc)}") from exc
    except Exception as exc:  # the module's own code failed, as a Lambda init error would
        raise HarnessError(f"cannot load the handler {spec}: {describe_exception(exc)}") from exc


class Harness:
    """Drives rotations of secrets in a moto Secrets Manager through a real handler."""

    def __init__(
        self,
        sm: Any,
        handler: Handler,
        *,
        attempts: int = 3,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        self.sm = sm
        self.handler = handler
        self.attempts = attempts
        self.on_step = on_step

    def _describe(self, secret_id: str) -> tuple[str, dict[str, list[str]]]:
        meta = self.sm.describe_secret(SecretId=secret_id)
        stages = {k: sorted(v) for k, v in meta.get("VersionIdsToStages", {}).items()}
        return str(meta["ARN"]), stages

    def stages(self, secret_id: str) -> dict[str, list[str]]:
        return self._describe(secret_id)[1]

    @staticmethod
    def _current_and_pending(stages: dict[str, list[str]]) -> tuple[str | None, str | None]:
        current = next((v for v, s in stages.items() if CURRENT in s), None)
        pending = next((v for v, s in stages.items() if PENDING in s), None)
        return current, pending

    def in_progress(self, secret_id: str) -> str | None:
        """The token of a rotation left in progress: AWSPENDING on a version other than
        AWSCURRENT (on AWSCURRENT it is the harmless leftover of a finished one)."""
        return pending_rotation.in_progress(self.stages(secret_id))

    def cancel(self, secret_id: str) -> str | None:
        """Give up a rotation left in progress: remove its AWSPENDING label (the version and
        any value it holds stay, reachable by id) and return the version it was on. Nothing
        else changes: AWSCURRENT, rotation settings and the database are left as they are."""
        self._refuse_remote_endpoints()
        return pending_rotation.cancel(self.sm, secret_id, self.stages(secret_id)).removed

    def start(self, secret_id: str, token: str | None = None) -> str:
        """Begin a rotation as RotateSecret does: a valueless AWSPENDING version under a token."""
        return self._begin(secret_id, token)[1].token

    def _begin(
        self, secret_id: str, token: str | None, immediately: bool = True
    ) -> tuple[str, RotationReport]:
        """Start a rotation; its ARN and a report holding the stages before it."""
        self._refuse_remote_endpoints()
        token = token or str(uuid.uuid4())
        arn, stages = self._describe(secret_id)
        current, pending = self._current_and_pending(stages)
        if pending is not None and pending != current:
            raise RotationInProgress(
                f"A previous rotation is still in progress (AWSPENDING on version {pending}); "
                "finish it with the same token or remove the AWSPENDING label."
            )
        if pending is not None:  # AWSPENDING left on AWSCURRENT: allowed, and cleared by AWS
            self.sm.update_secret_version_stage(
                SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=pending
            )
        region, account = self.sm.meta.region_name, arn.split(":")[4]
        # moto then fails to find the function: the placeholder is in place.
        with contextlib.suppress(self.sm.exceptions.ResourceNotFoundException):
            self.sm.rotate_secret(
                SecretId=secret_id,
                ClientRequestToken=token,
                RotationLambdaARN=UNKNOWN_FUNCTION.format(region=region, account=account),
                RotationRules={"AutomaticallyAfterDays": 30},
                RotateImmediately=immediately,
            )
        self._check_placeholder(secret_id, token, current, copy=not immediately)
        return arn, RotationReport(secret_id, token, before=stages)

    def _refuse_remote_endpoints(self) -> None:
        """The harness relabels versions and calls RotateSecret: only ever on a local moto."""
        host = urlsplit(str(self.sm.meta.endpoint_url)).hostname or ""
        if host not in LOCAL_HOSTS:
            raise HarnessError(
                f"The harness only runs against moto on this machine, not {host}; start one "
                "with `rotor moto-server` and pass its endpoint."
            )

    def _check_placeholder(
        self, secret_id: str, token: str, current: str | None, copy: bool = False
    ) -> None:
        """AWSPENDING on ``token`` with no value (a rotation), or with AWSCURRENT's value
        (``copy``: a configuration test), and AWSCURRENT where it was."""
        stages = self.stages(secret_id)
        placeholder_ok = PENDING in stages.get(token, []) and (
            current is None or CURRENT in stages.get(current, [])
        )
        if placeholder_ok:
            try:
                value = self.sm.get_secret_value(
                    SecretId=secret_id, VersionId=token, VersionStage=PENDING
                )["SecretString"]
                placeholder_ok = (
                    copy
                    and current is not None
                    and value
                    == self.sm.get_secret_value(
                        SecretId=secret_id, VersionId=current, VersionStage=CURRENT
                    )["SecretString"]
                )
            except self.sm.exceptions.ResourceNotFoundException:
                placeholder_ok = not copy
        if not placeholder_ok:
            raise HarnessError(
                "This Secrets Manager endpoint did not create a valueless AWSPENDING version; "
                "the harness needs moto (in process, or `moto_server` / `rotor moto-server`)."
            )

    def invoke(self, secret_arn: str, token: str, step: str, attempt: int = 1) -> StepResult:
        event = {"Step": step, "SecretId": secret_arn, "ClientRequestToken": token}
        started = time.perf_counter()
        error, permanent = None, False
        try:
            self.handler(json.loads(json.dumps(event)), LambdaContext())
        except Exception as exc:  # the service records any failure and retries
            error, permanent = describe_exception(exc), bool(getattr(exc, "permanent", False))
        result = StepResult(attempt, step, time.perf_counter() - started, error, permanent)
        if self.on_step is not None:
            self.on_step(result)
        return result

    def resume(self, secret_id: str, token: str) -> RotationReport:
        """Run the four steps of a started rotation, as the service retries it."""
        self._refuse_remote_endpoints()
        arn, stages = self._describe(secret_id)
        return self._run(arn, RotationReport(secret_id, token, before=stages))

    def rotate(self, secret_id: str, token: str | None = None) -> RotationReport:
        return self._run(*self._begin(secret_id, token))

    def test_configuration(self, secret_id: str, token: str | None = None) -> RotationReport:
        """What RotateSecret with ``RotateImmediately=false`` does: a transient AWSPENDING
        version holding a copy of AWSCURRENT's value, testSecret only, then the label removed.
        A rotator passes when testSecret accepts the current credential and changes nothing."""
        arn, report = self._begin(secret_id, token, immediately=False)
        result = self.invoke(arn, report.token, "testSecret")
        report.steps.append(result)
        self.sm.update_secret_version_stage(
            SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=report.token
        )
        report.after = self.stages(report.secret_id)
        current = next((v for v, s in report.before.items() if CURRENT in s), None)
        report.succeeded = (
            result.error is None
            and current is not None
            and (CURRENT in report.after.get(current, []))
            and all(PENDING not in stages for stages in report.after.values())
        )
        return report

    def _run(self, arn: str, report: RotationReport) -> RotationReport:
        """The four steps, the whole sequence retried on failure (not on a permanent error,
        which only a change by someone can fix); then the end state."""
        for attempt in range(1, self.attempts + 1):
            results = []
            for step in STEPS:
                result = self.invoke(arn, report.token, step, attempt)
                results.append(result)
                if result.error is not None:
                    break
            report.steps.extend(results)
            if results[-1].error is None or results[-1].permanent:
                break
        report.after = self.stages(report.secret_id)
        report.succeeded = report.steps[-1].error is None and self.end_state_ok(report)
        return report

    @staticmethod
    def end_state_ok(report: RotationReport) -> bool:
        """AWSCURRENT on the token's version and AWSPENDING on no version. (The service
        tolerates AWSPENDING left on AWSCURRENT, but a rotator's finishSecret removes it, even
        when retried: leaving it is a bug this catches.)"""
        after = report.after
        if CURRENT not in after.get(report.token, []):
            return False
        return all(PENDING not in stages for stages in after.values())
