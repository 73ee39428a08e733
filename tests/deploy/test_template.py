"""template.yaml and samconfig.toml, read offline: linters, least privilege, Lambda permissions,
schedules, failure visibility, and drift against the code (env vars, metric names)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from deploy.sam_cli import sam_env
from tests.deploy import cfn

FUNCTION = "AWS::Serverless::Function"


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == FUNCTION}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# --- linters --------------------------------------------------------------------------------
TEMPLATES = pytest.mark.parametrize("path", [cfn.TEMPLATE, cfn.APP], ids=["template", "app"])


@TEMPLATES
def test_cfn_lint_has_no_findings(path: Path) -> None:
    proc = cfn.run([cfn.venv_tool("cfn-lint"), str(path)], timeout=300)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@TEMPLATES
@pytest.mark.parametrize("args", [["--lint"], []], ids=["lint", "translate"])
def test_sam_validate(sam: str, args: list[str], path: Path) -> None:
    proc = cfn.run(
        [sam, "validate", "--template-file", str(path), *args], env=sam_env(), timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


# --- least privilege ------------------------------------------------------------------------
def test_no_secrets_manager_write_on_any_resource(template: dict[str, Any]) -> None:
    assert cfn.check_iam(template) == []


def test_sam_translation_grants_no_more(template: dict[str, Any]) -> None:
    """What CloudFormation receives after SAM's transform (roles SAM might add included)."""
    translated = cfn.translate(template)
    assert cfn.check_iam(translated) == []
    assert cfn.check_permissions(translated, "AWS::Lambda::Function") == []
    assert not [
        k
        for k, v in translated["Resources"].items()
        if v["Type"] == "AWS::IAM::Role" and not k.endswith("Role")
    ]


def test_get_random_password_is_the_only_action_on_star(template: dict[str, Any]) -> None:
    on_star = [
        (s.where, a)
        for s in cfn.statements(template)
        for a in s.actions()
        if "*" in s.resources() and not a.startswith(("xray:", "ec2:"))
    ]
    assert on_star, "GetRandomPassword should be granted (on '*') for PASSWORD_SOURCE"
    assert {a for _, a in on_star} == {"secretsmanager:GetRandomPassword"}, on_star
    for st in cfn.statements(template):
        if "secretsmanager:GetRandomPassword" in st.actions():
            assert "UseSecretsManagerPasswords" in st.conditions, st.where


ACCOUNT_SECRETS = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"
}


def test_rotation_actions_are_scoped_to_the_secret_parameters(template: dict[str, Any]) -> None:
    """Each rotator writes only the secrets its ARN list names (when listed) or those tagged
    rotor:scope=<its SecretTag> (when set): two statements, each under its own condition."""
    write = {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
    seen: dict[str, set[str]] = {}
    for st in cfn.statements(template):
        if write & set(st.actions()):
            rotator = st.where.split("Role")[0]
            if st.body["Resource"] == {"Ref": f"{rotator}SecretArns"}:
                assert st.conditions == (f"{rotator}ByArn",), st.where
                assert "Condition" not in st.body
                seen.setdefault(rotator, set()).add("arn")
            else:
                assert st.body["Resource"] == ACCOUNT_SECRETS, st.where
                assert st.conditions == (f"{rotator}ByTag",), st.where
                assert st.body["Condition"] == {
                    "StringEquals": {
                        "secretsmanager:ResourceTag/rotor:scope": {"Ref": f"{rotator}SecretTag"}
                    },
                    # both tags on one secret (a tagging mistake, or a tagger's attack) never
                    # makes an admin secret writable
                    "Null": {"secretsmanager:ResourceTag/rotor:admin-scope": "true"},
                }
                seen.setdefault(rotator, set()).add("tag")
    rotators = {name.removesuffix("Function") for name in functions(template)}
    assert seen == {rotator: {"arn", "tag"} for rotator in rotators}
    conditions = template["Conditions"]
    for rotator in rotators:
        assert conditions[f"{rotator}ByTag"] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": f"{rotator}SecretTag"}, ""]}]
        }


def test_admin_secrets_are_read_only(template: dict[str, Any]) -> None:
    """By ARN or by their own tag (rotor:admin-scope, never the rotated secrets' rotor:scope)."""
    readers = [
        st
        for st in cfn.statements(template)
        if "AdminSecretArns" in str(st.body.get("Resource"))
        or "AdminSecretTag" in str(st.body.get("Condition"))
    ]
    assert {st.body["Sid"] for st in readers} == {"ReadAdminSecrets", "ReadTaggedAdminSecrets"}
    for st in readers:
        assert set(st.actions()) <= {
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
        }, st.where
        if st.body["Sid"] == "ReadTaggedAdminSecrets":
            assert st.conditions == ("HasAdminTag",)
            assert st.body["Condition"] == {
                "StringEquals": {
                    "secretsmanager:ResourceTag/rotor:admin-scope": {"Ref": "AdminSecretTag"}
                }
            }


POLICY_LIMIT = 10_240  # characters of a role's inline policies (IAM quota, whitespace aside)


def policy_size(template: dict[str, Any], secrets: int, by_tag: bool, kms: bool) -> int:
    """The deployed size of the alternating PostgreSQL role's policy for ``secrets`` secrets
    (and one admin secret per 20), scoped by ARN (one per secret) or by tag."""
    rotator = "PostgresqlAlternating"
    arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"
    params = {
        f"{rotator}SecretArns": []
        if by_tag
        else [f"{arn}app/t{i:04d}/db-??????" for i in range(secrets)],
        f"{rotator}AdminSecretArns": []
        if by_tag
        else [f"{arn}platform/c{i:03d}-admin-??????" for i in range(1 + secrets // 20)],
        f"{rotator}SecretTag": "pg-alt-prod" if by_tag else "",
        "AdminSecretTag": "prod" if by_tag else "",
        "KmsKeyArns": [
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ],
    }
    conditions = {
        f"{rotator}ByArn": not by_tag,
        f"{rotator}AdminsByArn": not by_tag,
        f"{rotator}ByTag": by_tag,
        f"{rotator}AnyTag": by_tag,
        "HasAdminTag": by_tag,
        "HasKmsKey": kms,
        "HasRdsManagedAdmins": False,
        "UseSecretsManagerPasswords": True,
        "HasEventBus": False,
        "HasVpc": False,
    }
    policy = template["Resources"][f"{rotator}Role"]["Properties"]["Policies"][0]
    document = cfn.resolve(policy["PolicyDocument"], params, conditions)
    statements = document["Statement"]
    rotate = [s for s in statements if "secretsmanager:PutSecretValue" in s["Action"]]
    assert len(rotate) == 1 and (("Condition" in rotate[0]) == by_tag)
    return len(json.dumps(document, separators=(",", ":")))


@pytest.mark.parametrize("kms", [False, True], ids=["aws-key", "customer-key"])
def test_tag_scope_fits_the_policy_limit_whatever_the_fleet(
    template: dict[str, Any], kms: bool
) -> None:
    """ARN lists outgrow a role's policy limit at about a hundred secrets (half that with a
    customer key: the ARNs repeat in the encryption context); a tag scope stays the same size."""
    assert policy_size(template, 200, by_tag=False, kms=kms) > POLICY_LIMIT
    assert policy_size(template, 5000, by_tag=True, kms=kms) < POLICY_LIMIT / 4


def test_tag_scope_reaches_customer_keys_only_through_secrets_manager(
    template: dict[str, Any],
) -> None:
    """A tag-scoped secret's ARN is unknown to the template: its key may decrypt any secret of
    the account, but only via Secrets Manager (whose calls the tag conditions restrict), and
    only when a tag scope is set; with ARNs only, the ARN lists as before."""
    for st in cfn.statements(template):
        if "kms:Decrypt" not in st.actions():
            continue
        encrypted = st.body["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]
        rotator = st.where.split("Role")[0]
        ((tagged, by_tag, by_arn),) = encrypted.values()
        assert tagged in (f"{rotator}AnyTag", f"{rotator}ByTag")
        assert by_tag == [ACCOUNT_SECRETS]
        assert f"{rotator}SecretArns" in str(by_arn) and "secret:*" not in str(by_arn)


def test_kms_only_for_a_customer_key_and_only_for_these_secrets(template: dict[str, Any]) -> None:
    kms = [st for st in cfn.statements(template) if any(a.startswith("kms:") for a in st.actions())]
    assert kms
    for st in kms:
        assert "HasKmsKey" in st.conditions, st.where
        assert st.body["Resource"] == {"Ref": "KmsKeyArns"}
        condition = st.body["Condition"]
        assert "kms:ViaService" in condition["StringEquals"], st.where
        if {"kms:Decrypt", "kms:GenerateDataKey"} & set(st.actions()):
            assert "kms:EncryptionContext:SecretARN" in condition["StringLike"], st.where


def test_vpc_access_only_with_subnets(template: dict[str, Any]) -> None:
    def vpc_grant(node: Any) -> bool:
        return isinstance(node, str) and ("VPCAccess" in node or node.startswith("ec2:"))

    found = list(cfn.find(template["Resources"], vpc_grant))
    assert found
    assert all("HasVpc" in f.conditions for f in found), found
    vpc = template["Globals"]["Function"]["VpcConfig"]
    assert [o.conditions for o in cfn.options(vpc)] == [("HasVpc",)]


def test_checker_catches_what_it_should() -> None:
    """The IAM and permission checks themselves, on a template that breaks every rule."""
    bad = cfn.yaml.load(
        """
Resources:
  Fn: {Type: AWS::Serverless::Function, Properties: {Policies: [SecretsManagerReadWrite]}}
  Other: {Type: AWS::Serverless::Function, Properties: {}}
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - !If
                - Cond
                - {Effect: Allow, Action: secretsmanager:PutSecretValue, Resource: "*"}
                - !Ref AWS::NoValue
              - Effect: Allow
                Action: [secretsmanager:GetSecretValue]
                Resource: !Sub "arn:${AWS::Partition}:secretsmanager:*:*:secret:*"
              - {Effect: Allow, Action: "secretsmanager:*", Resource: ["arn:x", "*"]}
              - {Effect: Allow, NotAction: "s3:*", Resource: "*"}
              - Effect: Allow
                Action: secretsmanager:PutSecretValue
                Resource: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:*"
                Condition: {StringLike: {"secretsmanager:ResourceTag/rotor:scope": "*"}}
              - Effect: Allow
                Action: secretsmanager:UpdateSecretVersionStage
                Resource: "*"
                Condition: {StringEquals: {"secretsmanager:ResourceTag/rotor:scope": "x"}}
              - Effect: Allow
                Action: secretsmanager:RotateSecret
                Resource: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:*"
                Condition: {StringEquals: {"secretsmanager:ResourceTag/rotor:scope": "x"}}
  Perm:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: secretsmanager.amazonaws.com
      SourceArn: arn:aws:secretsmanager:us-east-1:111122223333:secret:one
""",
        Loader=cfn.CfnLoader,
    )
    iam = "\n".join(cfn.check_iam(bad))
    assert "PutSecretValue on '*'" in iam
    assert "GetSecretValue" in iam and "secret:*" in iam
    assert "secretsmanager:*" in iam
    assert "NotAction" in iam
    assert "PutSecretValue on 'arn:aws:secretsmanager" in iam  # a wildcard tag scopes nothing
    assert "UpdateSecretVersionStage on '*'" in iam  # a tag never makes '*' acceptable
    assert "RotateSecret" not in iam  # every secret, but only those with this exact tag
    assert "SecretsManagerReadWrite" in iam
    perms = "\n".join(cfn.check_permissions(bad, FUNCTION))
    assert "without SourceAccount" in perms
    assert "SourceArn" in perms
    assert "Other: no Lambda permission" in perms


# --- Lambda permissions ---------------------------------------------------------------------
def test_every_function_may_be_invoked_by_secrets_manager_with_source_account(
    template: dict[str, Any],
) -> None:
    assert cfn.check_permissions(template, FUNCTION) == []
    perms = of_type(template, "AWS::Lambda::Permission")
    assert len(perms) == len(functions(template))


# --- shape of the deployment ----------------------------------------------------------------
def test_shared_code_is_one_layer_built_by_sam(
    template: dict[str, Any], runtime: str, architecture: str
) -> None:
    ((name, layer),) = of_type(template, "AWS::Serverless::LayerVersion").items()
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == architecture
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    makefile = (cfn.ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    target = f"build-{name}:"
    assert target in makefile, f"layer/Makefile has no {target} target"
    recipe = makefile.split(target, 1)[1]
    assert f"--python {runtime.removeprefix('python')}" in recipe, "layer built for another Python"
    assert f"--arch {architecture}" in recipe, "layer built for another architecture"
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": name}]
    assert runtime in ("python3.12", "python3.13")


def test_globals_carry_powertools_settings_and_tracing(template: dict[str, Any]) -> None:
    glob = template["Globals"]["Function"]
    assert glob["Tracing"] == "Active"
    variables = glob["Environment"]["Variables"]
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
        assert name in variables


def test_functions_deploy_only_when_their_secrets_are_given(template: dict[str, Any]) -> None:
    params, conditions = template["Parameters"], template["Conditions"]
    for name, function in functions(template).items():
        rotator = name.removesuffix("Function")
        assert function["Condition"] == f"Deploy{rotator}"
        assert params[f"{rotator}SecretArns"]["Type"] == "CommaDelimitedList"
        assert params[f"{rotator}SecretArns"]["Default"] == ""
        assert conditions[f"Deploy{rotator}"] == {
            "Fn::Or": [{"Condition": f"{rotator}ByArn"}, {"Condition": f"{rotator}ByTag"}]
        }
        assert f"{rotator}SecretArns" in str(conditions[f"{rotator}ByArn"])
        for resource in template["Resources"].values():  # no orphan left when not deployed
            if rotator in str(resource.get("Properties", {})) and resource is not function:
                assert resource.get("Condition", "").endswith(rotator), resource


def test_schedules_use_schedule_expression_and_window(template: dict[str, Any]) -> None:
    schedules = of_type(template, "AWS::SecretsManager::RotationSchedule")
    assert len(schedules) == len(functions(template))
    params = template["Parameters"]
    pattern = re.compile(params["RotationSchedule"]["AllowedPattern"])
    assert pattern.fullmatch(params["RotationSchedule"]["Default"])
    for expr in ("rate(4 hours)", "rate(30 days)", "cron(0 4 1 * ? *)"):
        assert pattern.fullmatch(expr), expr
    assert not pattern.fullmatch("rate(1 week)")
    for name, schedule in schedules.items():
        props = schedule["Properties"]
        rules = props["RotationRules"]
        assert set(rules) == {"ScheduleExpression", "Duration"}, name
        assert props["RotateImmediatelyOnUpdate"] == {"Ref": "RotateImmediatelyOnUpdate"}
        rotator = name.removesuffix("RotationSchedule")
        assert props["RotationLambdaARN"] == {"Fn::GetAtt": [f"{rotator}Function", "Arn"]}
        assert schedule["DependsOn"] == f"{rotator}InvokePermission"
        assert schedule["Condition"] == f"Schedule{rotator}"


def test_function_arns_are_exported_for_other_stacks(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in functions(template):
        output = outputs[f"{name}Arn"]
        assert output["Value"] == {"Fn::GetAtt": [name, "Arn"]}
        assert output["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{name}Arn"}


def test_failures_reach_an_alarm_and_the_optional_topic(template: dict[str, Any]) -> None:
    (rule,) = of_type(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.secretsmanager"]
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert pattern["detail"]["eventName"] == ["RotationFailed"]
    topic = template["Resources"]["NotificationTopic"]
    assert topic["Condition"] == "HasEmail"
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    for name in functions(template):
        alarm = alarms[f"{name.removesuffix('Function')}ErrorsAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
    for alarm in alarms.values():
        assert "NotificationTopic" in str(alarm["Properties"]["AlarmActions"])
    assert "NotificationTopic" in str(rule["Properties"]["Targets"])


def test_step_failed_alarm_matches_the_metric_rotor_emits(template: dict[str, Any]) -> None:
    query = template["Resources"]["StepFailedAlarm"]["Properties"]["Metrics"][0]["Expression"]
    query = query["Fn::Sub"]
    match = re.search(r"SUM\((\w+)\) FROM SCHEMA\(\"\$\{MetricsNamespace\}\", ([\w, ]+)\)", query)
    assert match, query
    metric, dimensions = match.group(1), {d.strip() for d in match.group(2).split(",")}
    protocol = (cfn.ROOT / "common" / "rotor" / "protocol.py").read_text()
    assert f'add_metric("{metric}"' in protocol
    code_dims = set(re.findall(r'add_dimension\("(\w+)"', protocol)) | {"service"}
    assert dimensions == code_dims
    params = template["Parameters"]
    assert params["MetricsNamespace"]["Default"] == "Rotor"


# --- samconfig.toml -------------------------------------------------------------------------
def test_samconfig_has_staging_before_a_confirmed_prod(template: dict[str, Any]) -> None:
    config = tomllib.loads((cfn.ROOT / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    for env in ("default", "staging", "prod"):
        assert env in config, env
    staging = config["staging"]["deploy"]["parameters"]
    prod = config["prod"]["deploy"]["parameters"]
    assert prod["confirm_changeset"] is True
    assert (
        config["staging"]["global"]["parameters"]["stack_name"]
        != config["prod"]["global"]["parameters"]["stack_name"]
    )
    for deploy in (staging, prod):
        assert "CAPABILITY_IAM" in deploy["capabilities"]
    for env in ("default", "staging", "prod"):
        assert config[env].get("build", {}).get("parameters", {}).get("cached") is not True, (
            "sam build --cached keys on layer/ only and would ship a stale rotor"
        )


@pytest.mark.parametrize("env", ["default", "staging", "prod"])
def test_samconfig_overrides_reach_the_template_as_written(
    template: dict[str, Any], env: str
) -> None:
    """Parsed by SAM CLI itself: an unquoted space ("rate(7 days)") would split a value."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    deploy = SamConfig(str(cfn.ROOT)).get_all(["deploy"], "parameters", env=env)
    raw = deploy.get("parameter_overrides")
    overrides = CfnParameterOverridesType().convert(raw, None, None) if raw else {}
    params = template["Parameters"]
    for name, value in overrides.items():
        assert name in params, name
        if "AllowedPattern" in params[name]:
            assert re.fullmatch(params[name]["AllowedPattern"], value), (name, value)
        if "AllowedValues" in params[name]:
            assert value in [str(v) for v in params[name]["AllowedValues"]], (name, value)


def test_docs_cover_deploying(template: dict[str, Any]) -> None:
    text = (cfn.ROOT / "docs" / "deploying.md").read_text()
    for must in (
        "sam build",
        "sam deploy --config-env staging",
        "RotationSchedule",
        "ImportValue",
        "SECRETS_MANAGER_ENDPOINT",
        "ROTOR_CA_BUNDLE",
        '"ssl": false',
        "without an AWS account",
    ):
        assert must in text, must
    for name in template["Parameters"]:
        assert name in text or name.startswith(
            tuple(f.removesuffix("Function") for f in functions(template))
        ), name


def test_rds_describe_only_for_the_named_databases(template: dict[str, Any]) -> None:
    """RDS-managed admin secrets need the RDS API to find their endpoint: only then, and only
    for the instances and clusters the parameter names."""
    rds = [st for st in cfn.statements(template) if any(a.startswith("rds:") for a in st.actions())]
    assert rds
    for st in rds:
        assert set(st.actions()) == {"rds:DescribeDBInstances", "rds:DescribeDBClusters"}
        assert st.body["Resource"] == {"Ref": "RdsManagedAdminDatabaseArns"}, st.where
        assert "HasRdsManagedAdmins" in st.conditions, st.where


def test_schedule_in_another_stack_example_lints_and_imports_an_export(
    template: dict[str, Any], tmp_path: Path
) -> None:
    """docs/deploying.md's RotationSchedule for teams that keep schedules in their own stacks:
    valid CloudFormation, importing an export this template makes."""
    text = (cfn.ROOT / "docs" / "deploying.md").read_text()
    section = text.split("### From other stacks", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "schedule.yaml"
    path.write_text('AWSTemplateFormatVersion: "2010-09-09"\n' + block)
    proc = cfn.run([cfn.venv_tool("cfn-lint"), str(path)], timeout=300)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    stack = cfn.yaml.load(block, Loader=cfn.CfnLoader)
    (schedule,) = [
        r
        for r in stack["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    ]
    imported = schedule["Properties"]["RotationLambdaARN"]["Fn::ImportValue"]
    assert imported.startswith("rotor-prod-"), imported  # samconfig.toml's prod stack
    output = imported.removeprefix("rotor-prod-")
    assert template["Outputs"][output]["Export"]["Name"] == {
        "Fn::Sub": f"${{AWS::StackName}}-{output}"
    }
