"""``rotor check --local``: the checks in this process, through the rotator's real handler
(from this checkout, or ``--handler``), against the servers reachable from here. Needs the
development kit and the rotator's extras (its database driver)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rotor.cli import devkit, lambda_env
from rotor.cli.aws import Aws
from rotor.cli.check_result import FAIL, line, lines_of
from rotor.cli.errors import one_line, refusal_line
from rotor.cli.rotator_choice import NoRotator, read_rotator
from rotor.cli.selection import Secret

CHECK = "local checks"
COMMAND = "check --local"


class LocalChecks:
    """Handlers loaded once each (as a warm container keeps its module), run in-process."""

    def __init__(self, aws: Aws, sm: Any, given: str | None, handler: str | None, verbose: bool):
        self.harness = devkit.load(COMMAND, "rotor.local.harness")
        self.aws, self.sm, self.given, self.handler_spec = aws, sm, given, handler
        self.verbose = verbose
        self.loaded: dict[str, Callable[..., Any]] = {}
        self.specs: dict[str, str] = {}  # rotator name -> its handler

    @contextlib.contextmanager
    def environment(self) -> Iterator[LocalChecks]:
        """The handlers' environment and logs, set once for the whole batch (one warm
        Secrets Manager client, as in a warm container)."""
        with (
            lambda_env.environment(self.aws.handler_environment()),
            lambda_env.handler_logs(self.verbose),
        ):
            yield self

    def run(self, secret: Secret) -> tuple[str | None, dict[str, Any], list[dict[str, str]]]:
        """(the rotator's name, the handler's report, its check lines); inside
        :meth:`environment`."""
        try:
            name, handler = self._handler(secret)
        except LookupError as exc:
            return None, {}, [line("rotator", FAIL, str(exc))]
        try:
            report = lambda_env.printing_to_stderr(handler)(
                {"RotorCheck": {"SecretId": secret.arn}}, None
            )
        except Exception as exc:  # refused, or a broken handler: scrubbed by the kit
            return name, {}, [line(CHECK, FAIL, one_line(f"{type(exc).__name__}: {exc}"))]
        lines = lines_of(report)
        if lines is None:
            return name, {}, [line(CHECK, FAIL, f"handler {name} returned no check result")]
        return name, report, lines

    def _handler(self, secret: Secret) -> tuple[str, Callable[..., Any]]:
        if self.handler_spec:
            return self.handler_spec, self._load(self.handler_spec)
        try:
            name = read_rotator(self.sm, secret.arn, secret.tags, self.given)
        except NoRotator as exc:
            raise LookupError(str(exc)) from None
        except Exception as exc:  # AWS refused the read: this secret's line (lost AWS: raise)
            if getattr(exc, "response", None) is None:
                raise
            raise LookupError(f"AWSCURRENT unreadable: {refusal_line(exc)}") from None
        if name not in self.specs:  # the catalog parses every app.py: once per name
            found = devkit.load(COMMAND, "rotor.local.rotators").find(name)
            if found is None:
                raise LookupError(f"no rotator {name!r} in this checkout: pass --handler")
            self.specs[name] = f"{found.path}:lambda_handler"
        return name, self._load(self.specs[name])

    def _load(self, spec: str) -> Callable[..., Any]:
        if spec not in self.loaded:
            try:
                self.loaded[spec] = self.harness.load_handler(spec)
            except self.harness.HarnessError as exc:
                raise LookupError(str(exc)) from None
        return self.loaded[spec]
