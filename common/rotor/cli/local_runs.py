"""What the service would run, run in a local moto through a rotator's real handler from this
checkout, for the ``--local`` of ``rotor schedule`` (AWS's configuration test) and ``rotor
resume`` (the reattempt of a rotation left in progress). moto cannot invoke a Lambda here.

With ``RotateImmediately=false`` Secrets Manager stores the rotation settings, then runs only
testSecret on a transient AWSPENDING version holding a copy of AWSCURRENT, and removes it: the
harness runs that testSecret (``Harness.test_configuration``) and the settings are stored with
RotateSecret as the service stores them. moto, not knowing the function, answers
ResourceNotFound after storing them and leaves its transient AWSPENDING version behind: that
label is removed, as the service removes it.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from rotor.cli import devkit, lambda_env, local_handlers, pending
from rotor.cli.aws import Aws


class LocalRuns:
    def __init__(self, command: str, sm: Any, aws: Aws, verbose: bool) -> None:
        self.harness = devkit.load(command, "rotor.local.harness")
        self.command, self.sm, self.aws, self.verbose = command, sm, aws, verbose

    def _run(self, rotator: str, run: Any) -> Any:
        spec = local_handlers.handler_spec(self.command, rotator)
        handler = local_handlers.load(self.command, spec)
        with (
            lambda_env.environment(self.aws.handler_environment()),
            lambda_env.handler_logs(self.verbose),
        ):
            return run(self.harness.Harness(self.sm, lambda_env.printing_to_stderr(handler)))

    def test_configuration(self, arn: str, rotator: str) -> str | None:
        """testSecret through ``rotator``'s handler on a transient AWSPENDING copy; the step's
        error (one scrubbed line) or None when it passed."""
        report = self._run(rotator, lambda harness: harness.test_configuration(arn))
        return None if report.succeeded else _failure(report)

    def resume(self, arn: str, token: str, rotator: str) -> str | None:
        """The four steps again with the stuck rotation's token, as the service reattempts it;
        the error or None when the rotation completed."""
        report = self._run(rotator, lambda harness: harness.resume(arn, token))
        return None if report.succeeded else _failure(report)

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


def _failure(report: Any) -> str:
    step = report.steps[-1] if report.steps else None
    if step is not None and step.error is not None:
        return f"{step.step}: {step.error}"
    return "every step passed but the end state is wrong (AWSPENDING left, or AWSCURRENT moved)"
