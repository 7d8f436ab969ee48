"""Rollback does the right thing: what rolls back, what survives it, and that prod notices it.

Property names are checked against the CloudFormation registry schema cfn-lint ships, and variant property types
against botocore's SageMaker model: both are AWS's, not ours.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import botocore.session
import cfnlint
import pytest
from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from mlops_cli import deploy_commands
from mlops_cli.endpoint_checks import CheckFailed
from mlops_cli.main import main
from mlops_constructs.deploy.guarded_endpoint import NOT_RETAINED_VARIANT_PROPERTIES, GuardedEndpoint
from mlops_contracts import (
    deploy_check_role_name,
    deploy_pipeline_name,
    deploy_project_name,
    verify_project_role_name,
)
from tests.conftest import CONFIG_DIR, new_app

FRAUD, FRAUD_PROD = "mlops-fraud-detection", "mlops-fraud-detection-prod"
VERIFY_PROJECT = deploy_project_name("fraud-detection", "verify")
SCHEMAS = Path(cfnlint.__file__).parent / "data/schemas"


def registry_schema(resource_type: str, region: str = "us-east-1") -> dict:
    """The CloudFormation registry schema of a type, as cfn-lint bundles it."""
    provider = json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())
    name = provider[resource_type]
    return json.loads((SCHEMAS / "resources" / (name if name.endswith(".json") else f"{name}.json")).read_text())


def _resources(template: dict, kind: str) -> dict:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_autoscaled_endpoints_keep_their_instance_count_across_updates(example_app):
    (endpoint,) = _resources(example_app.templates[FRAUD_PROD], "AWS::SageMaker::Endpoint").values()
    props = endpoint["Properties"]
    schema = registry_schema("AWS::SageMaker::Endpoint")
    assert {"RetainAllVariantProperties", "ExcludeRetainedVariantProperties"} <= set(schema["properties"])
    assert props["RetainAllVariantProperties"] is True
    excluded = [p["VariantPropertyType"] for p in props["ExcludeRetainedVariantProperties"]]
    valid = botocore.session.get_session().get_service_model("sagemaker").shape_for("VariantPropertyType").enum
    assert set(excluded) <= set(valid)
    # The instance count (what autoscaling owns) is retained; weights and data capture follow the new config.
    assert "DesiredInstanceCount" not in excluded and set(excluded) == set(NOT_RETAINED_VARIANT_PROPERTIES)


def test_endpoints_without_autoscaling_take_the_configured_count():
    stack = Stack(new_app(), "Test")
    GuardedEndpoint(stack, "Endpoint", model_name="m", endpoint_name="m-staging",
                    model_package_arn="arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1",
                    artifact_bucket=s3.Bucket(stack, "Artifacts"), key=kms.Key(stack, "Key"),
                    image_repositories=[ecr.Repository.from_repository_name(stack, "Images", "m")],
                    alarm_topic=sns.Topic(stack, "Topic"))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Endpoint", {
        "RetainAllVariantProperties": Match.absent(), "ExcludeRetainedVariantProperties": Match.absent()})


@pytest.mark.parametrize("stack", [FRAUD_PROD, "mlops-support-assistant-staging"])
def test_models_and_endpoint_configs_survive_a_rolled_back_update(example_app, stack):
    template = example_app.templates[stack]
    for kind in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig"):
        for logical_id, resource in _resources(template, kind).items():
            assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), \
                f"{stack}/{logical_id}: CloudFormation deletes it after an update SageMaker rolled back"


def test_no_rollback_alarm_watches_drift_or_quality(example_app):
    for stack, template in example_app.templates.items():
        alarms = _resources(template, "AWS::CloudWatch::Alarm")
        for endpoint in _resources(template, "AWS::SageMaker::Endpoint").values():
            config = endpoint["Properties"].get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {})
            for alarm in config.get("Alarms", []):
                props = alarms[alarm["AlarmName"]["Ref"]]["Properties"]
                assert props["Namespace"] == "AWS/SageMaker", f"{stack}: {props['MetricName']} rolls back"


def _stages(template: dict) -> dict:
    (pipeline,) = [p for p in _resources(template, "AWS::CodePipeline::Pipeline").values()
                   if p["Properties"].get("Name") == deploy_pipeline_name("fraud-detection")]
    return {s["Name"]: s["Actions"][0] for s in pipeline["Properties"]["Stages"]}


def _project_statements(template: dict, project_name: str) -> list[dict]:
    (project,) = [p for p in _resources(template, "AWS::CodeBuild::Project").values()
                  if p["Properties"].get("Name") == project_name]
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return [s for p in _resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_prod_is_checked_after_its_deployment_like_staging(example_app):
    template = example_app.templates[FRAUD]
    stages = _stages(template)
    assert list(stages)[-2:] == ["DeployProd", "VerifyProd"]
    verify = stages["VerifyProd"]["Configuration"]
    assert '"value":"#{DeployProd.EndpointConfigName}"' in verify["EnvironmentVariables"].replace(" ", "")
    assert stages["DeployProd"]["Namespace"] == "DeployProd"
    statements = _project_statements(template, VERIFY_PROJECT)
    describe = [s for s in statements if s.get("Sid") == "DescribeProdEndpoint"]
    assert describe and describe[0]["Action"] == "sagemaker:DescribeEndpoint"
    assert "endpoint/fraud-detection-prod" in json.dumps(describe[0]["Resource"])
    assert not any("sagemaker:InvokeEndpoint" in json.dumps(s.get("Action")) for s in statements)  # no traffic


def test_prod_in_its_own_account_is_checked_through_a_describe_only_role(pinned_app):
    statements = _project_statements(pinned_app.templates[FRAUD], VERIFY_PROJECT)
    (assume,) = [s for s in statements if s.get("Sid") == "AssumeProdCheckRole"]
    assert assume["Resource"].endswith(f":iam::222222222222:role/{deploy_check_role_name('fraud-detection-prod')}")
    prod = pinned_app.templates[f"{FRAUD_PROD}-access"]  # the prod account's roles: stacks/stage_access_stack.py
    (role_id,) = [k for k, r in _resources(prod, "AWS::IAM::Role").items()
                  if r["Properties"].get("RoleName") == deploy_check_role_name("fraud-detection-prod")]
    (trust,) = prod["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"].endswith(
        f":role/{verify_project_role_name('fraud-detection')}")
    policies = [p for p in _resources(prod, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    actions = {a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"sagemaker:DescribeEndpoint"}


def test_a_failed_execution_notifies_the_model_topic_through_a_grant_for_that_rule_only(example_app):
    template = example_app.templates[FRAUD]
    state_change = ["CodePipeline Pipeline Execution State Change"]
    ((rule_id, rule),) = [(k, r) for k, r in _resources(template, "AWS::Events::Rule").items()
                          if r["Properties"].get("EventPattern", {}).get("detail-type") == state_change]
    assert rule["Properties"]["EventPattern"]["detail"] == {"state": ["FAILED"]}
    (topic_id,) = _resources(template, "AWS::SNS::Topic")
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}
    statements = [s for p in _resources(template, "AWS::SNS::TopicPolicy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(s.get("Condition") == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
               for s in statements)


def _check_args(expected: str) -> SimpleNamespace:
    return SimpleNamespace(config_dir=CONFIG_DIR, model="fraud-detection", stage="prod", expected_config=expected,
                           role_arn="")


def test_the_prod_check_fails_loudly_when_the_endpoint_rolled_back(capsys):
    with mock_aws():
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model(ModelName="m-old", PrimaryContainer={"Image": "img"},
                               ExecutionRoleArn="arn:aws:iam::123456789012:role/r")
        sagemaker.create_endpoint_config(EndpointConfigName="config-old", ProductionVariants=[{
            "VariantName": "primary", "ModelName": "m-old", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="fraud-detection-prod", EndpointConfigName="config-old")
        assert "InService on config-old" in deploy_commands.endpoint_check(_check_args("config-old"), sagemaker)
        with pytest.raises(CheckFailed, match="serves endpoint config config-old, not config-new.*rolled back"):
            deploy_commands.endpoint_check(_check_args("config-new"), sagemaker)
        assert main(["endpoint-check", "--config-dir", str(CONFIG_DIR), "--model",
                                               "fraud-detection", "--stage", "prod", "--expected-config",
                                               "config-new"]) == 1
    assert "FAILED: endpoint fraud-detection-prod serves endpoint config config-old" in capsys.readouterr().err
