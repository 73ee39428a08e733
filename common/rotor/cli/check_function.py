"""``rotor check`` through the deployed function: Lambda Invoke (RequestResponse) of the
secret's RotationLambdaARN with the check event, so the checks run inside the function's
network with its role (a database in a VPC is reachable only from there)."""

from __future__ import annotations

import json
from typing import Any

from rotor.cli.check_result import FAIL, line, lines_of
from rotor.cli.errors import CliError, Exit

CHECK = "function checks"
OLD_ROTOR = "Event 'Step' must be one of"  # what a function without check mode answers


def invoke(lam: Any, function: str, secret_arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(the function's report, its check lines); a failure is one failed line."""
    from botocore import exceptions as bx

    payload = json.dumps({"RotorCheck": {"SecretId": secret_arn}}).encode()
    try:
        answer = lam.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=payload
        )
    except bx.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        why = {
            "AccessDeniedException": "you may not invoke it: grant lambda:InvokeFunction on it, "
            "or run `rotor check --local` where the servers are reachable",
            "ResourceNotFoundException": "no such function: check the secret's rotation "
            "configuration",
        }.get(code, exc.response.get("Error", {}).get("Message", ""))
        return {}, [line(CHECK, FAIL, f"invoking {function} failed ({code}): {why}")]
    except (bx.ConnectionError, bx.HTTPClientError) as exc:
        raise CliError(
            Exit.AWS, f"cannot reach Lambda at {lam.meta.endpoint_url} ({exc})"
        ) from None
    body = answer["Payload"].read()
    try:
        report = json.loads(body or b"null")
    except ValueError:
        report = None
    if answer.get("FunctionError"):
        return {}, [line(CHECK, FAIL, _function_error(function, report))]
    lines = lines_of(report)
    if lines is None:
        return {}, [
            line(CHECK, FAIL, f"{function} answered no check result: is it a rotor function?")
        ]
    return report, lines


def _function_error(function: str, report: Any) -> str:
    error = report if isinstance(report, dict) else {}
    message = str(error.get("errorMessage", "no message"))
    kind = str(error.get("errorType", "error"))
    hint = ": its rotor predates check mode; update its layer" if OLD_ROTOR in message else ""
    return f"{function} failed the check ({kind}: {message}){hint}"
