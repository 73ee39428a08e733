"""A rotation function's execution role, whichever template deploys it.

template.yaml scopes a rotator's role by its parameters (ARN lists, or tags at fleet scale);
the per-secret application (apps/rotation) by one secret's ARN. Both describe that scope as a
:class:`Scope` and get the same statements from :func:`role`, so a least-privilege rule is
written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rotor import settings

from deploy.cfn_yaml import NO_VALUE, get_att, if_, ref, sub
from deploy.rotators import Rotator

ROTATE = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]
READ = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
# Every secret of the stack's account and Region: only ever granted under a tag condition.
ACCOUNT_SECRETS = sub(
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"
)


@dataclass(frozen=True)
class Scope:
    """What one rotator's role may touch."""

    rotated: list[Any]  # statements (or Fn::If of them) with the rotation actions
    admins: list[Any]  # statements (or Fn::If of them) reading admin secrets, read-only
    keys: Any  # the customer managed KMS keys (a Resource)
    has_key: str  # the condition under which the KMS statements exist
    encrypted: Any  # kms:EncryptionContext:SecretARN patterns: the secrets those keys decrypt


def grant(
    sid: str,
    actions: list[str],
    resource: Any,
    tag: tuple[str, Any] | None = None,
    *,
    untagged: str | None = None,
) -> Any:
    """An Allow statement; with ``tag`` (key, value) only on secrets carrying that tag, and
    with ``untagged`` (a key) only on secrets not carrying that one."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resource,
    }
    if tag is not None:
        key, value = tag
        statement["Condition"] = {"StringEquals": {f"secretsmanager:ResourceTag/{key}": value}}
    if untagged is not None:
        statement.setdefault("Condition", {})["Null"] = {
            f"secretsmanager:ResourceTag/{untagged}": "true"
        }
    return statement


def _kms_via_secrets_manager() -> dict[str, Any]:
    return {"kms:ViaService": sub("secretsmanager.${AWS::Region}.amazonaws.com")}


def statements(r: Rotator, scope: Scope) -> list[Any]:
    found: list[Any] = [*scope.rotated, *(scope.admins if r.admin else [])]
    if r.rds_managed_admins:  # admin secrets without host (rds!db-…): find the endpoint
        found.append(
            if_(
                "HasRdsManagedAdmins",
                grant(
                    "FindRdsManagedAdminDatabase",
                    ["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
                    ref("RdsManagedAdminDatabaseArns"),
                ),
                NO_VALUE,
            )
        )
    found += [
        if_(
            "UseSecretsManagerPasswords",
            {
                "Sid": "GeneratePasswords",
                "Effect": "Allow",
                "Action": "secretsmanager:GetRandomPassword",
                "Resource": "*",
            },
            NO_VALUE,
        ),
        if_(
            scope.has_key,
            {
                "Sid": "UseCustomerKeyForTheseSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": scope.keys,
                "Condition": {
                    "StringEquals": _kms_via_secrets_manager(),
                    "StringLike": {"kms:EncryptionContext:SecretARN": scope.encrypted},
                },
            },
            NO_VALUE,
        ),
        if_(
            scope.has_key,
            {
                "Sid": "DescribeCustomerKey",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": scope.keys,
                "Condition": {"StringEquals": _kms_via_secrets_manager()},
            },
            NO_VALUE,
        ),
        if_(
            "HasEventBus",
            {
                "Sid": "PutRotationEvents",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": sub(
                    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                    f"event-bus/${{{settings.Settings.event_bus.parameter}}}"
                ),
            },
            NO_VALUE,
        ),
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": get_att(f"{r.name}LogGroup", "Arn"),
        },
    ]
    return found


def role(r: Rotator, scope: Scope) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Condition": f"Deploy{r.name}",
        "Properties": {
            "Description": sub(f"rotor {r.directory} rotation function (${{AWS::StackName}})"),
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "ManagedPolicyArns": [
                sub("arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"),
                if_(
                    "HasVpc",
                    sub(
                        "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                        "AWSLambdaVPCAccessExecutionRole"
                    ),
                    NO_VALUE,
                ),
            ],
            "Policies": [
                {
                    "PolicyName": "rotate-secrets",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements(r, scope)},
                }
            ],
        },
    }
