"""AWS's configuration test, reproduced in a local moto for ``rotor schedule --local``.

With ``RotateImmediately=false`` Secrets Manager stores the rotation settings, then runs only
testSecret on a transient AWSPENDING version holding a copy of AWSCURRENT, and removes it.
moto cannot invoke a Lambda here, so the harness runs that testSecret through the rotator's
real handler from this checkout (``Harness.test_configuration``), and the settings are stored
with RotateSecret as the service stores them. moto, not knowing the function, answers
ResourceNotFound after storing them and leaves its transient AWSPENDING version behind: that
label is removed, as the service removes it.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from rotor.cli import devkit, lambda_env, local_handlers, pending
from rotor.cli.aws import Aws

COMMAND = "schedule --local"


class ConfigurationTest:
    def __init__(self, sm: Any, aws: Aws, verbose: bool) -> None:
        self.harness = devkit.load(COMMAND, "rotor.local.harness")
        self.sm, self.aws, self.verbose = sm, aws, verbose

    def run(self, arn: str, rotator: str) -> str | None:
        """testSecret through ``rotator``'s handler on a transient AWSPENDING copy; the step's
        error (one scrubbed line) or None when it passed."""
        handler = local_handlers.load(COMMAND, local_handlers.handler_spec(COMMAND, rotator))
        with (
            lambda_env.environment(self.aws.handler_environment()),
            lambda_env.handler_logs(self.verbose),
        ):
            harness = self.harness.Harness(self.sm, lambda_env.printing_to_stderr(handler))
            report = harness.test_configuration(arn)
        if report.succeeded:
            return None
        step = report.steps[-1] if report.steps else None
        return (step.error if step else None) or "the transient AWSPENDING version was left"

    def store(self, arn: str, function: str, rules: dict[str, Any]) -> None:
        """RotateSecret with RotateImmediately=false, then the transient label moto leaves."""
        token = str(uuid.uuid4())
        with contextlib.suppress(self.sm.exceptions.ResourceNotFoundException):
            self.sm.rotate_secret(
                SecretId=arn,
                ClientRequestToken=token,
                RotationLambdaARN=function,
                RotationRules=rules,
                RotateImmediately=False,
            )
        stages = self.sm.describe_secret(SecretId=arn).get("VersionIdsToStages") or {}
        if pending.PENDING in stages.get(token, []):
            self.sm.update_secret_version_stage(
                SecretId=arn, VersionStage=pending.PENDING, RemoveFromVersionId=token
            )
