"""BuildTriggers: exact event patterns, targets and the roles they use, the roles' permissions, the schedule."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_constructs.build.build_triggers import BuildTriggers
from mlops_constructs.core.model_core import ModelCore
from tests.conftest import new_app

PIPELINE_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                                  {"Ref": "AWS::AccountId"}, ":pipeline/fraud-detection-build"]]}
EXECUTIONS_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                                    {"Ref": "AWS::AccountId"}, ":pipeline/fraud-detection-build/execution/*"]]}


def _template(**props) -> Template:
    stack = Stack(new_app(), "Test")
    core = ModelCore(stack, "Core", model_name="fraud-detection", owner="risk@example.com")
    BuildTriggers(stack, "Triggers", pipeline_name="fraud-detection-build", key=core.key, topic=core.topic,
                  artifact_bucket=core.artifact_bucket, model_package_group_name=core.model_package_group_name,
                  data_bucket=core.data_bucket, **props)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def full() -> Template:
    return _template(new_data_prefix="transactions/monthly/", schedule="cron(0 3 1 * ? *)")


def _ref(template: Template, type_: str, prefix: str) -> str:
    [logical_id] = [k for k in template.find_resources(type_) if k.startswith(prefix)]
    return logical_id


def _function(template: Template, construct: str) -> str:
    return _ref(template, "AWS::Lambda::Function", f"Triggers{construct}Function")


def _statements_of_function_role(template: Template, construct: str) -> list[dict]:
    role = template.find_resources("AWS::Lambda::Function")[_function(template, construct)]["Properties"]["Role"]
    policies = template.find_resources("AWS::IAM::Policy",
                                       {"Properties": {"Roles": [{"Ref": role["Fn::GetAtt"][0]}]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_new_data_rule_matches_only_drop_markers_of_the_data_bucket(full):
    full.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": [contracts.EVENT_SOURCE_S3], "detail-type": [contracts.DETAIL_OBJECT_CREATED], "detail": {
            "bucket": {"name": [{"Ref": _ref(full, "AWS::S3::Bucket", "CoreDataBucket")}]},
            "object": {"key": [{"wildcard": "transactions/monthly/*/_SUCCESS"}]}}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [_function(full, "NewDataTrigger"), "Arn"]},
                                       "RetryPolicy": {"MaximumRetryAttempts": 4,
                                                       "MaximumEventAgeInSeconds": 21600}})],
    })


def test_new_data_function_knows_its_table_pipeline_and_prefix(full):
    full.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({
        contracts.ENV_IDEMPOTENCY_TABLE: {"Ref": _ref(full, "AWS::DynamoDB::Table", "TriggersDropStarts")},
        contracts.ENV_PIPELINE_NAME: "fraud-detection-build", contracts.ENV_NEW_DATA_PREFIX: "transactions/monthly/",
        contracts.ENV_DATA_BUCKET: {"Ref": _ref(full, "AWS::S3::Bucket", "CoreDataBucket")},
        contracts.ENV_DEDUP_WINDOW_SECONDS: "604800"})}})


def test_new_data_role_starts_only_this_pipeline_and_writes_only_its_table(full):
    statements = _statements_of_function_role(full, "NewDataTrigger")
    table = _ref(full, "AWS::DynamoDB::Table", "TriggersDropStarts")
    assert {"Action": "sagemaker:StartPipelineExecution", "Effect": "Allow", "Resource": PIPELINE_ARN} in statements
    assert {"Sid": "IdempotencyRecords", "Effect": "Allow", "Resource": {"Fn::GetAtt": [table, "Arn"]},
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]} \
        in statements
    notifier = _statements_of_function_role(full, "Notifier")
    assert not [s for s in notifier if "StartPipelineExecution" in str(s["Action"]) or "dynamodb" in str(s["Action"])]


def test_idempotency_table_is_kms_encrypted_recoverable_expiring_and_retained(full):
    key = _ref(full, "AWS::KMS::Key", "CoreKey")
    full.has_resource("AWS::DynamoDB::Table", {
        "Properties": Match.object_like({
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}}),
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_schedule_starts_the_pipeline_with_trigger_schedule_through_its_own_role(full):
    role = Capture()
    full.has_resource_properties("AWS::Scheduler::Schedule", {
        "ScheduleExpression": "cron(0 3 1 * ? *)", "ScheduleExpressionTimezone": "Etc/UTC",
        "KmsKeyArn": {"Fn::GetAtt": [_ref(full, "AWS::KMS::Key", "CoreKey"), "Arn"]},
        "Target": Match.object_like({
            "Arn": PIPELINE_ARN, "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
            "SageMakerPipelineParameters": {"PipelineParameterList": [{"Name": contracts.PARAM_TRIGGER, "Value": "schedule"}]}}),
    })
    assert role.as_string().startswith("TriggersScheduleRole")
    full.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [Match.object_like(
        {"Principal": {"Service": "scheduler.amazonaws.com"}})]}})
    full.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": role.as_string()}],
        "PolicyDocument": {"Statement": Match.array_with([{"Action": "sagemaker:StartPipelineExecution",
                                                           "Effect": "Allow", "Resource": PIPELINE_ARN}])}})


def test_failed_executions_of_this_pipeline_go_to_the_notifier(full):
    full.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": [contracts.EVENT_SOURCE_SAGEMAKER],
                         "detail-type": [contracts.DETAIL_PIPELINE_EXECUTION],
                         "detail": {"pipelineArn": [PIPELINE_ARN], "currentPipelineExecutionStatus": ["Failed"]}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [_function(full, "Notifier"), "Arn"]}})],
    })


def test_pending_packages_of_this_group_go_to_the_notifier(full):
    full.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": [contracts.EVENT_SOURCE_SAGEMAKER], "detail-type": [contracts.DETAIL_PACKAGE_STATE],
                         "detail": {"ModelPackageGroupName": ["fraud-detection"],
                                    "ModelApprovalStatus": ["PendingManualApproval"]}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [_function(full, "Notifier"), "Arn"]}})],
    })


def test_rules_invoke_functions_only_from_their_own_rule(full):
    for rule in ("TriggersBuildFailed", "TriggersPendingApproval", "TriggersNewData"):
        full.has_resource_properties("AWS::Lambda::Permission", {
            "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [_ref(full, "AWS::Events::Rule", rule), "Arn"]}})


def test_notifier_role_publishes_to_the_model_topic_and_reads_only_step_outputs(full):
    statements = _statements_of_function_role(full, "Notifier")
    topic = _ref(full, "AWS::SNS::Topic", "CoreTopic")
    bucket = _ref(full, "AWS::S3::Bucket", "CoreArtifactBucket")
    assert {"Sid": "PublishToModelTopic", "Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic}} \
        in statements
    assert {"Sid": "ReadEvaluationReports", "Action": "s3:GetObject", "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/pipelines/*"]]}} in statements
    assert {"Sid": "ReadFailedSteps", "Effect": "Allow", "Resource": EXECUTIONS_ARN,
            "Action": ["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"]} in statements


def test_without_new_data_or_schedule_only_notifications_remain():
    template = _template()
    assert not template.find_resources("AWS::Scheduler::Schedule")
    assert not template.find_resources("AWS::DynamoDB::Table")
    patterns = [r["Properties"]["EventPattern"]["detail-type"] for r in
                template.find_resources("AWS::Events::Rule").values()]
    assert sorted(patterns) == [[contracts.DETAIL_PIPELINE_EXECUTION],
                                [contracts.DETAIL_PACKAGE_STATE]]


@pytest.mark.parametrize(("props", "message"), [
    ({"new_data_prefix": "incoming"}, "new_data_prefix 'incoming' must end in '/'"),
])
def test_bad_props_are_named(props, message):
    with pytest.raises(ValueError, match=message):
        _template(**props)
