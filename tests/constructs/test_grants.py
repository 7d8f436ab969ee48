"""_private/grants and dependencies: the one lookup of CDK's DefaultPolicy, and what the pipelines acknowledge.

If a CDK upgrade renames or stops creating a role's ``DefaultPolicy`` child, these tests fail here, not as a
silent loss of DependsOn ordering or of an acknowledgment somewhere in the templates.
"""
from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from mlops_constructs._private.dependencies import depend_on_policy, depend_on_policy_only
from mlops_constructs._private.grants import (
    ACTION_ROLE_ID,
    acknowledge_pipeline_grants,
    default_policy,
    find_default_policy,
)
from tests.conftest import new_app

INLINE_RULE = "NIST.800.53.R5-IAMNoInlinePolicy"


def _stack() -> Stack:
    return Stack(new_app(), "Test")


def _role(stack: Stack, construct_id: str = "Role") -> iam.Role:
    return iam.Role(stack, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def _policy_id(stack: Stack, role: iam.IRole) -> str:
    return stack.get_logical_id(default_policy(role).node.default_child)


def test_cdk_keeps_a_roles_grants_in_the_policy_default_policy_finds():
    stack = _stack()
    role = _role(stack)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"]))
    policy = default_policy(role)
    assert isinstance(policy, iam.Policy)
    assert policy.node.path == "Test/Role/DefaultPolicy"
    assert find_default_policy(role).node.path == policy.node.path
    resources = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    assert list(resources) == [_policy_id(stack, role)]
    assert resources[_policy_id(stack, role)]["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(
        role.node.default_child)}]


def test_grants_of_codebuild_lambda_and_step_functions_land_in_their_roles_default_policy():
    """The construct kinds whose roles the library looks into (pipelines, functions, state machines)."""
    stack = _stack()
    bucket = s3.Bucket(stack, "Bucket")
    project = codebuild.PipelineProject(stack, "Project")
    bucket.grant_read(project)
    function = lambda_.Function(stack, "Function", runtime=lambda_.Runtime.PYTHON_3_12, handler="h.h",
                                code=lambda_.Code.from_inline("def h(e, c): pass"))
    bucket.grant_read(function)
    machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(
        sfn.Wait(stack, "Wait", time=sfn.WaitTime.duration(Duration.seconds(1)))))
    bucket.grant_read(machine)
    template = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    for role in (project.role, function.role, machine.role):
        assert _policy_id(stack, role) in template


def test_a_role_without_grants_or_imported_has_no_default_policy():
    stack = _stack()
    role = _role(stack)
    imported = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::111111111111:role/r")
    assert find_default_policy(role) is None
    assert find_default_policy(imported) is None
    with pytest.raises(LookupError, match=r"Test/Role has no 'DefaultPolicy' child"):
        default_policy(role)


def test_depend_on_policy_only_replaces_the_role_dependency_by_the_policy():
    stack = _stack()
    role = _role(stack)
    function = lambda_.Function(stack, "Function", runtime=lambda_.Runtime.PYTHON_3_12, handler="h.h", role=role,
                                code=lambda_.Code.from_inline("def h(e, c): pass"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"]))
    depend_on_policy_only(function, role)
    resource = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(function.node.default_child)]
    assert resource["DependsOn"] == [_policy_id(stack, role)]


def _model(stack: Stack, role: iam.IRole) -> sagemaker.CfnModel:
    return sagemaker.CfnModel(stack, "Model", execution_role_arn=role.role_arn, containers=[
        sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name="arn:aws:sagemaker:::model-package/p/1")])


def test_depend_on_policy_orders_a_model_after_its_roles_grants():
    stack = _stack()
    role = _role(stack)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"]))
    model = _model(stack, role)
    depend_on_policy(model, role)
    resource = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(model)]
    assert resource["DependsOn"] == [_policy_id(stack, role)]


def test_depend_on_policy_adds_nothing_for_an_imported_role():
    stack = _stack()
    role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::111111111111:role/r")
    model = _model(stack, role)
    depend_on_policy(model, role)
    assert "DependsOn" not in Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(model)]


def _acknowledged(construct) -> set[str]:
    return {key.removeprefix("Annotation::") for entry in construct.node.metadata
            if entry.type == "aws:cdk:acknowledged-rules" for key in entry.data}


def test_acknowledge_pipeline_grants_covers_project_pipeline_and_action_roles():
    stack = _stack()
    bucket = s3.Bucket(stack, "Bucket", versioned=True)
    source, project = codepipeline.Artifact(), codebuild.PipelineProject(stack, "Project")
    other = codebuild.PipelineProject(stack, "Other")  # not passed: must stay unacknowledged
    pipeline = codepipeline.Pipeline(stack, "Pipeline", artifact_bucket=bucket, stages=[
        codepipeline.StageProps(stage_name="Source", actions=[actions.S3SourceAction(
            action_name="Source", bucket=bucket, bucket_key="k.zip", output=source)]),
        codepipeline.StageProps(stage_name="Build", actions=[actions.CodeBuildAction(
            action_name="Build", project=project, input=source)]),
    ])
    action_roles = [c for c in pipeline.node.find_all() if isinstance(c, iam.Role) and c.node.id == ACTION_ROLE_ID]
    assert action_roles, f"CDK no longer creates {ACTION_ROLE_ID!r} roles for a pipeline's actions"
    acknowledge_pipeline_grants(pipeline, [project])
    for role in (project.role, pipeline.role, *action_roles):
        assert INLINE_RULE in _acknowledged(role), role.node.path
    assert INLINE_RULE not in _acknowledged(other.role)


def test_only_grants_names_cdks_default_policy_child():
    """Every other module goes through default_policy/find_default_policy, so a CDK change is fixed in one place."""
    import ast

    from tests.conftest import REPO

    grants = REPO / "mlops_constructs" / "_private" / "grants.py"
    offenders = []
    for path in sorted([*(REPO / "mlops_constructs").rglob("*.py"), *(REPO / "stacks").rglob("*.py"), REPO / "app.py"]):
        if path == grants:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value == "DefaultPolicy":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
