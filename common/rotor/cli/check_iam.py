"""``rotor check``'s IAM lines: whether the rotation function's role may make the calls a
rotation makes, by ``iam:SimulatePrincipalPolicy`` on that role.

AWS says so only where the caller may simulate (and an endpoint implements it: moto does
not); anywhere else each line says ``unchecked`` and why, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rotor.cli.check_result import FAIL, PASS, UNCHECKED, line
from rotor.cli.selection import Secret

ROTATION = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
KMS = ("kms:Decrypt", "kms:GenerateDataKey")


def kms_arn(key: str, secret_arn: str) -> str:
    """A KmsKeyId (id, alias or ARN) as an ARN in the secret's partition, Region and account."""
    if key.startswith("arn:"):
        return key
    _, partition, _, region, account = secret_arn.split(":")[:5]
    name = key if key.startswith("alias/") else f"key/{key}"
    return f"arn:{partition}:kms:{region}:{account}:{name}"


def asks(secret: Secret, admin_arn: str | None, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(action, resource) pairs a rotation of ``secret`` needs."""
    needed = [(action, secret.arn) for action in ROTATION]
    if admin_arn:
        needed.append(("secretsmanager:GetSecretValue", admin_arn))
    if secret.kms_key_id:
        needed += [(action, kms_arn(secret.kms_key_id, secret.arn)) for action in KMS]
    if env.get("PASSWORD_SOURCE", "").strip().lower() == "secretsmanager":
        needed.append(("secretsmanager:GetRandomPassword", "*"))
    return needed


def _name(action: str) -> str:
    return f"iam {action}"


def check(lam: Any, iam: Any, secret: Secret, admin_arn: str | None) -> list[dict[str, str]]:
    """One line per action and resource, or one ``unchecked`` line saying why not."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    function = secret.rotation_lambda
    if function is None:
        return [line("iam", UNCHECKED, "no rotation function configured: no role to simulate")]
    try:
        config = lam.get_function_configuration(FunctionName=function)
    except bx.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return [line("iam", UNCHECKED, f"cannot read the role of {function} ({code})")]
    except (bx.ConnectionError, bx.HTTPClientError) as exc:
        return [line("iam", UNCHECKED, f"Lambda unreachable ({exc})")]
    role = str(config.get("Role", ""))
    env = (config.get("Environment") or {}).get("Variables") or {}
    needed = asks(secret, admin_arn, env)
    lines = []
    for resource in dict.fromkeys(r for _, r in needed):
        actions = [a for a, r in needed if r == resource]
        context = [
            {
                "ContextKeyName": "kms:EncryptionContext:SecretARN",
                "ContextKeyValues": [secret.arn],
                "ContextKeyType": "string",
            }
        ]
        try:
            answer = iam.simulate_principal_policy(
                PolicySourceArn=role,
                ActionNames=actions,
                ResourceArns=[resource],
                ContextEntries=context,
            )
        except bx.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            why = (
                "you may not simulate its policies (grant iam:SimulatePrincipalPolicy)"
                if code in ("AccessDenied", "AccessDeniedException")
                else f"the IAM endpoint cannot simulate policies ({code})"
            )
            return [line("iam", UNCHECKED, f"role {role}: {why}")]
        except (bx.ConnectionError, bx.HTTPClientError) as exc:
            return [line("iam", UNCHECKED, f"IAM unreachable ({exc})")]
        except (bx.BotoCoreError, ResponseParserError) as exc:  # moto: an HTML error page
            why = f"the IAM endpoint cannot simulate policies ({type(exc).__name__})"
            return [line("iam", UNCHECKED, f"role {role}: {why}")]
        for result in answer.get("EvaluationResults", []):
            decision = str(result.get("EvalDecision", ""))
            action = str(result.get("EvalActionName", ""))
            if decision == "allowed":
                lines.append(line(_name(action), PASS, f"allowed on {resource}"))
            else:
                lines.append(
                    line(
                        _name(action),
                        FAIL,
                        f"{decision} on {resource} for role {role}: add it to the function's "
                        "policy",
                    )
                )
    return lines
