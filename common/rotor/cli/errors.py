"""Exit codes, and what any failure means for the shell: one code and one line.

The codes are a contract (docs/cli.md): scripts branch on them, so each means one kind of
outcome, and a new command reuses them rather than inventing its own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rotor.cli.aws import Aws


class Exit(IntEnum):
    OK = 0
    ROTATION_FAILED = 1  # a rotation ran (or its handler was loaded) and did not succeed
    USAGE = 2  # the command line is wrong: fix it and run again
    PARTIAL = 3  # a batch command: some items succeeded, some failed
    NOT_FOUND = 4  # a secret, handler file or function, rotator that does not exist
    CONFLICT = 5  # the secret's state forbids it now (rotation in progress, deleted...)
    AWS = 6  # AWS or the endpoint cannot be reached, refuses the credentials or fails
    MISSING = 7  # the command needs an extra that is not installed here
    UNEXPECTED = 70  # anything else (sysexits' EX_SOFTWARE): rerun with --debug
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
    PIPE = 141  # the reader of stdout went away (128 + SIGPIPE, as shells report it)


class CliError(Exception):
    """End the command with ``code`` and one line on stderr (the message, no traceback)."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def scrub(text: str) -> str:
    """Mask every secret value the rotation code has read (it registers them as it parses)."""
    observability = sys.modules.get("rotor.observability")
    if observability is None:  # loaded only by commands that ran a handler: nothing was read
        return text
    return str(observability.redactor.scrub(text))


def one_line(text: str) -> str:
    return " ".join(scrub(text).split())


def refusal_line(exc: Exception) -> str:
    """One secret's failure in a batch, on one scrubbed line: an AWS refusal as
    ``Operation: Code: message`` (botocore's own text repeats itself and its retry count)."""
    response = getattr(exc, "response", None)
    operation = getattr(exc, "operation_name", None)
    if isinstance(response, dict) and operation:
        error = response.get("Error", {})
        return one_line(f"{operation}: {error.get('Code')}: {error.get('Message', '')}")
    return one_line(str(exc) or type(exc).__name__)


# AWS error codes by what they mean for the user.
_NOT_FOUND = {"ResourceNotFoundException"}
_CONFLICT = {"InvalidRequestException", "ResourceExistsException", "PreconditionNotMetException"}
_USAGE = {
    "InvalidParameterException",
    "ValidationException",
    "InvalidParameterValue",
    "MalformedPolicyDocumentException",
}


@dataclass(frozen=True)
class Subject:
    """What the command was acting on, to name it in a message."""

    secret_id: str | None = None
    aws: Aws | None = None

    @property
    def target(self) -> str:
        return self.aws.target if self.aws is not None else "AWS"

    @property
    def local(self) -> bool:
        return self.aws is not None and self.aws.local


def from_exception(exc: BaseException, subject: Subject) -> CliError:
    """The code and line for an exception a command did not handle itself."""
    if isinstance(exc, CliError):
        return exc
    if type(exc).__module__.startswith("botocore"):
        return _from_botocore(exc, subject)
    return CliError(
        Exit.UNEXPECTED,
        f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
    )


def _from_botocore(exc: BaseException, subject: Subject) -> CliError:
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        operation = exc.operation_name
        if code in _NOT_FOUND:
            what = f"secret {subject.secret_id!r}" if subject.secret_id else "the resource"
            return CliError(Exit.NOT_FOUND, f"{what} not found in {subject.target}")
        if code in _CONFLICT:
            return CliError(Exit.CONFLICT, f"{operation} refused ({code}): {message}")
        if code in _USAGE:
            return CliError(Exit.USAGE, f"{operation}: {message}")
        return CliError(Exit.AWS, f"{operation} failed in {subject.target}: {code}: {message}")
    if isinstance(exc, bx.ParamValidationError):
        return CliError(Exit.USAGE, f"invalid request: {exc}")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        hint = (
            "; moto accepts any, e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
            if subject.local
            else ""
        )
        return CliError(
            Exit.AWS,
            "no AWS credentials found: configure them (aws configure, "
            f"AWS_PROFILE, AWS_ACCESS_KEY_ID...) or pass --profile{hint}",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return CliError(
            Exit.AWS,
            f"no AWS profile {exc.kwargs.get('profile')!r} in your AWS "
            "config (~/.aws/config): check --profile or AWS_PROFILE",
        )
    if isinstance(exc, bx.NoRegionError):
        return CliError(
            Exit.AWS,
            "no AWS region: pass --region, set AWS_REGION, or set a region in your profile",
        )
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        hint = ": is a moto server running there (`rotor moto-server`)?" if subject.local else ""
        return CliError(Exit.AWS, f"cannot reach {subject.target}{hint} ({exc})")
    return CliError(Exit.AWS, f"{type(exc).__name__}: {exc}")
