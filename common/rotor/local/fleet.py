"""A fleet of secrets in moto with rotation configured, for ``rotor rotate-all``'s tests and
benchmark.

moto cannot run a Lambda function here (no Docker), but given a function ARN it does not know,
RotateSecret still records it and enables rotation before failing; removing the AWSPENDING it
left gives a secret as ``RotateSecret --rotation-lambda-arn`` leaves one in AWS. A later
RotateSecret without an ARN then completes at once in moto (it moves AWSCURRENT itself), which
is what the service path of ``rotate-all`` polls for.
"""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rotor-fleet"


def configure_rotation(sm: Any, secret_id: str, function: str = FUNCTION) -> None:
    token = str(uuid.uuid4())  # the version moto's RotateSecret leaves AWSPENDING on
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(
            SecretId=secret_id,
            ClientRequestToken=token,
            RotationLambdaARN=function,
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    sm.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )


def configure_all(sm: Any, names: list[str], threads: int = 8) -> None:
    """Rotation configured again on each (moto forgets the function once it rotated)."""
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda name: configure_rotation(sm, name), names))


def make_fleet(
    sm: Any, prefix: str, count: int, *, configured: bool = True, threads: int = 8
) -> list[str]:
    """``count`` secrets named ``prefix0000``... (rotation configured unless told); their names."""
    names = [f"{prefix}{i:04d}" for i in range(count)]

    def make(name: str) -> None:
        sm.create_secret(Name=name, SecretString='{"token": "not-a-secret"}')
        if configured:
            configure_rotation(sm, name)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(make, names))
    return names
