"""apps/rotation/template.yaml, the per-secret application in hosted rotation's words: built from
the rotator table as generated, least privilege for its one secret, every HostedRotationLambda
property accounted for in docs/migrating.md, the doc's example stacks lint clean against the
real application, and `sam build` builds it nested in the doc's stack. (cfn-lint and `sam
validate` of the application itself: test_template.py, over both templates.)"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deploy import app as generator
from deploy import cfn_yaml
from deploy.rotators import HOSTED_ELSEWHERE, ROTATORS
from tests.deploy import cfn
from tests.deploy.conftest import sam_build
from tests.deploy.test_template import ACCOUNT_SECRETS, FUNCTION, functions
from tests.runtime_code import runtime_files

MIGRATING = cfn.ROOT / "docs" / "migrating.md"
# AWS::SecretsManager::RotationSchedule HostedRotationLambda, from the CloudFormation reference.
HOSTED_PROPERTIES = (
    "ExcludeCharacters",
    "KmsKeyArn",
    "MasterSecretArn",
    "MasterSecretKmsKeyArn",
    "RotationLambdaName",
    "RotationType",
    "Runtime",
    "SuperuserSecretArn",
    "SuperuserSecretKmsKeyArn",
    "VpcSecurityGroupIds",
    "VpcSubnetIds",
)
ROTOR_TYPES = {
    "PostgreSQLSingleUser": "PostgresqlSingle",
    "PostgreSQLMultiUser": "PostgresqlAlternating",
    "MySQLSingleUser": "MysqlSingle",
    "MySQLMultiUser": "MysqlAlternating",
    "MariaDBSingleUser": "MysqlSingle",
    "MariaDBMultiUser": "MysqlAlternating",
}
DOC_BLOCK = re.compile(r"^<!-- cfn-lint: (\S+) -->\n```yaml\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MAPPING_ROW = re.compile(r"^\| `(\w+)` \| (?:`(\w+)`|none) \| (.+) \|$", re.MULTILINE)


@pytest.fixture(scope="module")
def app() -> dict[str, Any]:
    return cfn.load(cfn.APP)


def doc_blocks() -> dict[str, str]:
    return dict(DOC_BLOCK.findall(MIGRATING.read_text()))


def mapping() -> dict[str, tuple[str, str]]:
    """docs/migrating.md's property table: property -> (parameter or "", what rotor does)."""
    section = MIGRATING.read_text().split("## HostedRotationLambda's properties", 1)[1]
    section = section.split("\n## ", 1)[0]
    return {prop: (param, text) for prop, param, text in MAPPING_ROW.findall(section)}


def test_app_reads_back_as_built(app: dict[str, Any]) -> None:
    assert app == cfn_yaml.as_cfn(generator.build())


def test_every_hosted_property_has_a_parameter_or_a_documented_reason(
    app: dict[str, Any],
) -> None:
    table = mapping()
    assert set(table) == set(HOSTED_PROPERTIES)
    for prop, (param, text) in table.items():
        if param:
            assert param == prop, f"{prop}: keep hosted rotation's spelling ({param})"
            assert param in app["Parameters"], prop
        else:
            assert text.startswith("not applicable: "), (prop, text)
    hosted_named = [p for p in app["Parameters"] if p in HOSTED_PROPERTIES]
    assert app["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"][0][
        "Parameters"
    ] == ["RotationType", "SecretArn", *[p for p in hosted_named if p != "RotationType"]]


def test_rotation_types_are_hosted_rotations_and_each_deploys_one_function(
    app: dict[str, Any],
) -> None:
    params, conditions = app["Parameters"], app["Conditions"]
    assert sorted(params["RotationType"]["AllowedValues"]) == sorted(ROTOR_TYPES)
    assert "Default" not in params["RotationType"] and "Default" not in params["SecretArn"]
    assert not set(ROTOR_TYPES) & set(HOSTED_ELSEWHERE)
    for kind, rotator in ROTOR_TYPES.items():
        chosen = [
            name.removeprefix("Deploy")
            for name, cond in conditions.items()
            if name.startswith("Deploy")
            and {"Fn::Equals": [{"Ref": "RotationType"}, kind]} in cond.get("Fn::Or", [cond])
        ]
        assert chosen == [rotator], kind
    rows = sorted((r.name for r in ROTATORS if r.hosted), key=len, reverse=True)
    for name, resource in app["Resources"].items():
        if name == "RotorLayer":
            assert resource["Condition"] == "BuildLayer"
            continue
        rotator = next(row for row in rows if name.startswith(row))
        assert resource["Condition"] == f"Deploy{rotator}", name
        assert resource["Type"] != "AWS::SecretsManager::RotationSchedule", name
    multi = app["Rules"]["MultiUserNeedsMasterSecret"]
    assert sorted(multi["RuleCondition"]["Fn::Contains"][0]) == sorted(
        k for k, v in ROTOR_TYPES.items() if v.endswith("Alternating")
    )


def test_the_role_touches_only_the_given_secret_and_reads_its_master(
    app: dict[str, Any],
) -> None:
    assert cfn.check_iam(app) == []
    for st in cfn.statements(app):
        secretsmanager = [a for a in st.actions() if a.startswith("secretsmanager:")]
        if not secretsmanager or secretsmanager == ["secretsmanager:GetRandomPassword"]:
            continue
        rotator = st.where.split("Role")[0]
        assert "Condition" not in st.body, st.where  # no tag scope here
        assert st.body["Resource"] != ACCOUNT_SECRETS, st.where
        if st.body["Sid"] == "RotateTheSecret":
            assert st.body["Resource"] == {"Ref": "SecretArn"}
            assert st.conditions == ()
        else:
            assert st.body["Sid"] == "ReadMasterSecret", st.where
            assert rotator.endswith("Alternating"), st.where
            assert st.body["Resource"] == {"Ref": "MasterSecretArn"}
            assert st.conditions == ("HasMasterSecret",)
            assert set(secretsmanager) == {
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
            }
    sids = {st.body.get("Sid") for st in cfn.statements(app)}
    assert {"RotateTheSecret", "ReadMasterSecret"} <= sids
    assert not {"RotateTheSecrets", "RotateTaggedSecrets", "ReadTaggedAdminSecrets"} & sids


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:*",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/*",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-??????",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders",  # a partial ARN
    ],
)
def test_one_secret_means_one_full_arn_never_a_pattern(app: dict[str, Any], arn: str) -> None:
    """The role is scoped by these parameters, and IAM reads ``*`` and ``?`` in a Resource as
    wildcards: a pattern given as "the one secret" would let the function write (or read, as
    its master) every secret it matches."""
    full = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/orders-db-AbCd12"
    for name in ("SecretArn", "MasterSecretArn"):
        pattern = app["Parameters"][name]["AllowedPattern"]
        assert re.fullmatch(pattern, full), name
        assert not re.fullmatch(pattern, arn), (name, arn)


def test_customer_keys_only_through_secrets_manager_for_these_secrets(
    app: dict[str, Any],
) -> None:
    kms = [st for st in cfn.statements(app) if any(a.startswith("kms:") for a in st.actions())]
    assert kms
    for st in kms:
        assert st.conditions == ("HasAnyKmsKey",), st.where
        assert st.body["Resource"] == [
            {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, cfn.NO_VALUE]},
            {"Fn::If": ["HasMasterSecretKmsKey", {"Ref": "MasterSecretKmsKeyArn"}, cfn.NO_VALUE]},
        ]
        condition = st.body["Condition"]
        assert "kms:ViaService" in condition["StringEquals"]
        if "kms:Decrypt" in st.actions():
            encrypted = condition["StringLike"]["kms:EncryptionContext:SecretARN"]
            single = {"Ref": "SecretArn"}
            assert encrypted in (single, [single, {"Ref": "MasterSecretArn"}]), st.where
            assert (encrypted == single) == ("Single" in st.where), st.where


def test_sam_translation_grants_no_more_and_secrets_manager_may_invoke(
    app: dict[str, Any],
) -> None:
    translated = cfn.translate(app)
    assert cfn.check_iam(translated) == []
    assert cfn.check_permissions(translated, "AWS::Lambda::Function") == []
    assert cfn.check_permissions(app, FUNCTION) == []


def test_the_layer_is_built_with_the_app_unless_one_is_given(app: dict[str, Any]) -> None:
    layer = app["Resources"]["RotorLayer"]
    assert layer["Properties"]["ContentUri"] == "../../layer/"
    assert (cfn.APP.parent / layer["Properties"]["ContentUri"] / "Makefile").is_file()
    assert app["Conditions"]["BuildLayer"] == {"Fn::Equals": [{"Ref": "LayerArn"}, ""]}
    assert app["Globals"]["Function"]["Layers"] == [
        {"Fn::If": ["BuildLayer", {"Ref": "RotorLayer"}, {"Ref": "LayerArn"}]}
    ]
    for name, function in functions(app).items():
        code = cfn.APP.parent / function["Properties"]["CodeUri"]
        assert (code / "app.py").is_file(), name
        assert function["Properties"]["FunctionName"] == {
            "Fn::If": ["HasFunctionName", {"Ref": "RotationLambdaName"}, cfn.NO_VALUE]
        }


def test_the_output_is_the_deployed_function(app: dict[str, Any]) -> None:
    value = app["Outputs"]["RotationLambdaARN"]["Value"]
    for found in cfn.options(value):
        (function, attribute) = found.value["Fn::GetAtt"]
        assert attribute == "Arn"
        rotator = function.removesuffix("Function")
        chosen = [c for c in found.conditions if not c.startswith("!")]
        assert chosen in ([f"Deploy{rotator}"], []), found
    assert len(list(cfn.options(value))) == len(functions(app))


def test_doc_examples_lint_clean_against_the_real_app(tmp_path: Path) -> None:
    """The stacks of docs/migrating.md, with rotor beside them as in the doc (a submodule):
    cfn-lint reads the nested application and checks the parameters passed to it."""
    blocks = doc_blocks()
    assert set(blocks) == {"hosted-before", "hosted-after", "sample-before", "sample-after"}
    (tmp_path / "rotor").symlink_to(cfn.ROOT)
    for name, text in blocks.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        proc = cfn.run([cfn.venv_tool("cfn-lint"), str(path)], timeout=300)
        assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), (
            name,
            proc.stdout + proc.stderr,
        )


def test_doc_examples_swap_hosted_rotation_for_the_app_in_the_same_schedule() -> None:
    blocks = {
        name: cfn.yaml.load(text, Loader=cfn.CfnLoader) for name, text in doc_blocks().items()
    }
    hosted = blocks["hosted-before"]["Resources"]["OrdersDbRotation"]["Properties"]
    for before, after in (("hosted-before", "hosted-after"), ("sample-before", "sample-after")):
        resources = blocks[after]["Resources"]
        apps = [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Application"]
        (app_name,) = apps
        assert resources[app_name]["Properties"]["Location"] == "rotor/apps/rotation/template.yaml"
        old = blocks[before]["Resources"]["OrdersDbRotation"]["Properties"]
        new = resources["OrdersDbRotation"]["Properties"]  # the same logical id: no second one
        assert new["RotationLambdaARN"] == {
            "Fn::GetAtt": [app_name, "Outputs.RotationLambdaARN"]
        } or new["RotationLambdaARN"] == {"Fn::GetAtt": f"{app_name}.Outputs.RotationLambdaARN"}
        assert "HostedRotationLambda" not in new
        assert (new["SecretId"], new["RotationRules"]) == (old["SecretId"], old["RotationRules"])
        schedules = [r for r in resources.values() if r["Type"].endswith("RotationSchedule")]
        assert len(schedules) == 1
    passed = blocks["hosted-after"]["Resources"]["OrdersDbRotator"]["Properties"]["Parameters"]
    for prop, value in hosted["HostedRotationLambda"].items():
        if prop != "RotationLambdaName":  # a new name: both functions exist for a moment
            assert passed[prop] == value, prop
    assert "AWS::SecretsManager" not in str(blocks["hosted-after"]["Transform"])


def test_sam_build_builds_the_app_nested_in_the_docs_user_stack(
    sam: str, runtime: str, runtime_python: Path, tmp_path: Path, app: dict[str, Any]
) -> None:
    """One build, as a user runs it: docs/migrating.md's stack, with rotor beside it, builds
    the nested application; every function is its rotator's code as in the repository and the
    layer holds rotor's runtime modules as in the repository."""
    (tmp_path / "rotor").symlink_to(cfn.ROOT)
    stack = tmp_path / "template.yaml"
    stack.write_text(doc_blocks()["hosted-after"])
    built = sam_build(stack, tmp_path / "build", runtime) / "OrdersDbRotator"
    parent = cfn.load(tmp_path / "build" / "template.yaml")
    location = parent["Resources"]["OrdersDbRotator"]["Properties"]["Location"]
    assert location == "OrdersDbRotator/template.yaml"
    for name, function in functions(app).items():
        source = (cfn.APP.parent / function["Properties"]["CodeUri"]).resolve()
        files = [p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files
        for path in files:
            shipped = built / name / path.relative_to(source)
            assert shipped.read_bytes() == path.read_bytes(), shipped
    package = cfn.ROOT / "common" / "rotor"
    layer = built / "RotorLayer" / "python" / "rotor"
    for relative in runtime_files():
        assert (layer / relative).read_bytes() == (package / relative).read_bytes(), relative


def test_a_rotator_row_with_hosted_types_joins_the_app() -> None:
    """The application follows the rotator table: a row's ``hosted`` types become values of
    RotationType deploying that row's function, scoped to the one secret like the others."""
    row = replace(ROTATORS[0], name="PostgresqlReplica", hosted=("AuroraReplicaSingleUser",))
    built = cfn_yaml.as_cfn(generator.build((*ROTATORS, row)))
    assert "AuroraReplicaSingleUser" in built["Parameters"]["RotationType"]["AllowedValues"]
    assert built["Conditions"]["DeployPostgresqlReplica"] == {
        "Fn::Equals": [{"Ref": "RotationType"}, "AuroraReplicaSingleUser"]
    }
    function = built["Resources"]["PostgresqlReplicaFunction"]
    assert function["Properties"]["CodeUri"] == "../../rotators/postgresql_single/"
    rotate = [
        st
        for st in cfn.statements(built)
        if st.where.startswith("PostgresqlReplicaRole")
        and "secretsmanager:PutSecretValue" in st.actions()
    ]
    assert [st.body["Resource"] for st in rotate] == [{"Ref": "SecretArn"}]
    assert "PostgresqlReplicaFunction" in str(built["Outputs"]["RotationLambdaARN"]["Value"])
    without = cfn_yaml.as_cfn(
        generator.build(tuple(r for r in ROTATORS if r.name != "MysqlSingle"))
    )
    assert "MySQLSingleUser" not in without["Parameters"]["RotationType"]["AllowedValues"]
    assert "MysqlSingleFunction" not in without["Resources"]
