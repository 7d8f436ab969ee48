"""_private/codebuild.pipeline_project, alone in a bare Stack: what every pipeline's CodeBuild project gets."""
from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

import mlops_contracts as contracts
from mlops_constructs._private.codebuild import pipeline_project
from tests.conftest import new_app


def _stack() -> tuple[Stack, kms.Key]:
    stack = Stack(new_app(), "Test")
    return stack, kms.Key(stack, "Key")


def _ref(stack: Stack, construct) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_defaults_run_the_buildspec_unprivileged_on_small_for_an_hour_with_encrypted_retained_logs():
    stack, key = _stack()
    project = pipeline_project(stack, "Resolve", project_name="m-deploy-resolve", buildspec="buildspecs/x.yml",
                               key=key, variables={contracts.ENV_MODEL_NAME: "m"})
    template = Template.from_stack(stack)
    log_group = stack.node.find_child("ResolveLogs")
    template.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": "m-deploy-resolve",
        "Description": "m-deploy-resolve: runs buildspecs/x.yml from the repository",
        "Source": {"Type": "CODEPIPELINE", "BuildSpec": "buildspecs/x.yml"},
        "Environment": {"ComputeType": "BUILD_GENERAL1_SMALL", "Image": "aws/codebuild/standard:7.0",
                        "PrivilegedMode": False, "Type": "LINUX_CONTAINER",
                        "EnvironmentVariables": [{"Name": contracts.ENV_MODEL_NAME, "Type": "PLAINTEXT",
                                                  "Value": "m"}]},
        "EncryptionKey": {"Fn::GetAtt": [_ref(stack, key), "Arn"]},
        "TimeoutInMinutes": 60,
        "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": _ref(stack, log_group)}}},
    })
    template.has_resource("AWS::Logs::LogGroup", {
        "Properties": {"RetentionInDays": 365, "KmsKeyId": {"Fn::GetAtt": [_ref(stack, key), "Arn"]}},
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    # No role_name: CDK's own unnamed role, inside the project.
    assert project.role.node.scope is project
    template.resource_properties_count_is("AWS::IAM::Role", {"RoleName": Match.any_value()}, 0)


def test_props_override_image_compute_timeout_and_retention():
    stack, key = _stack()
    pipeline_project(stack, "Test", project_name="m-ci-test", buildspec="b.yml", key=key,
                     build_image=codebuild.LinuxBuildImage.STANDARD_6_0, compute_type=codebuild.ComputeType.MEDIUM,
                     timeout=Duration.hours(8), log_retention=logs.RetentionDays.ONE_MONTH)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CodeBuild::Project", {
        "Environment": Match.object_like({"ComputeType": "BUILD_GENERAL1_MEDIUM", "Image": "aws/codebuild/standard:6.0",
                                          "EnvironmentVariables": Match.absent()}),
        "TimeoutInMinutes": 480})
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_role_name_creates_the_named_role_beside_the_project_and_the_project_runs_as_it():
    stack, key = _stack()
    project = pipeline_project(stack, "VerifyProd", project_name="m-deploy-verify", buildspec="b.yml", key=key,
                               role_name="m-deploy-verify", role_description="m-deploy-verify checks prod")
    role = stack.node.find_child("VerifyProdProjectRole")  # the ID fixes the logical ID a stage account trusts
    assert project.role is role
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "m-deploy-verify", "Description": "m-deploy-verify checks prod",
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Action": "sts:AssumeRole", "Principal": {"Service": "codebuild.amazonaws.com"}})]}})
    template.has_resource_properties("AWS::CodeBuild::Project", {
        "ServiceRole": {"Fn::GetAtt": [_ref(stack, role), "Arn"]}})


def test_named_role_description_defaults_to_the_project():
    stack, key = _stack()
    pipeline_project(stack, "Test", project_name="m-deploy-test", buildspec="b.yml", key=key, role_name="r")
    Template.from_stack(stack).has_resource_properties("AWS::IAM::Role", {
        "RoleName": "r", "Description": "m-deploy-test CodeBuild project"})


@pytest.mark.parametrize("minutes", [4, 2161])
def test_timeout_outside_codebuild_limits_fails_at_synth_with_the_value(minutes):
    stack, key = _stack()
    with pytest.raises(ValueError, match=rf"timeout must be 5-2160 minutes .*got {minutes}$"):
        pipeline_project(stack, "P", project_name="p-x", buildspec="b.yml", key=key, timeout=Duration.minutes(minutes))


@pytest.mark.parametrize("name", ["-starts-with-dash", "has space", "x", "a" * 256])
def test_project_name_codebuild_rejects_fails_at_synth_with_the_value(name):
    stack, key = _stack()
    with pytest.raises(ValueError, match="CodeBuild project P: project_name must be 2-255 letters, digits") as raised:
        pipeline_project(stack, "P", project_name=name, buildspec="b.yml", key=key)
    assert repr(name) in str(raised.value)


@pytest.mark.parametrize("minutes", [4, 2161])
def test_build_ci_run_timeout_follows_the_same_codebuild_limits(minutes):
    from mlops_constructs.build.model_build_ci import ModelBuildCI
    from mlops_constructs.core.model_core import ModelCore

    stack = Stack(new_app(), "Test")
    core = ModelCore(stack, "Core", model_name="m", owner="o@example.com")
    with pytest.raises(ValueError, match=rf"run_timeout must be 5-2160 minutes .*got {minutes}$"):
        ModelBuildCI(stack, "CI", model_name="m", pipeline_name="m-build",
                     artifact_bucket=core.artifact_bucket, key=core.key, run_timeout=Duration.minutes(minutes))
