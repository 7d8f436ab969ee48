"""BatchScoring (employee-attrition): schedule, state machine flow, failure notification, Athena table."""
from __future__ import annotations

import json

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match

from mlops_constructs.deploy.batch_scoring import BatchScoring
from tests.conftest import new_app

STACK = "mlops-employee-attrition"


def _render(node) -> str:
    """A DefinitionString with its tokens replaced by readable placeholders, e.g. <CoreDataBucket...>."""
    if isinstance(node, str):
        return node
    if "Ref" in node:
        return f"<{node['Ref']}>"
    if "Fn::GetAtt" in node:
        return f"<{'.'.join(node['Fn::GetAtt'])}>"
    separator, parts = node["Fn::Join"]
    return separator.join(_render(p) for p in parts)


@pytest.fixture(scope="module")
def batch(example_app):
    template = example_app.template(STACK)
    (machine_id, machine), = template.find_resources("AWS::StepFunctions::StateMachine").items()
    definition = json.loads(_render(machine["Properties"]["DefinitionString"]))
    return template, machine_id, definition


def test_the_monthly_schedule_starts_the_state_machine_with_the_scheduled_time(batch):
    template, machine_id, _ = batch
    target = Capture()
    template.has_resource_properties("AWS::Scheduler::Schedule", {
        "ScheduleExpression": "cron(0 6 2 * ? *)", "Target": target})
    assert target.as_object()["Arn"] == {"Ref": machine_id}
    assert json.loads(target.as_object()["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}


def test_the_newest_approved_package_is_scored_over_the_months_input(batch):
    _, _, definition = batch
    states = definition["States"]
    flow, name = [], definition["StartAt"]
    while name:
        flow.append(name)
        name = states[name].get("Next") if not states[name].get("End") else None
    assert flow == ["Month", "LatestApproved", "CreateModel", "Transform", "DeleteModel"]
    assert states["LatestApproved"]["Parameters"] == {
        "ModelPackageGroupName": "employee-attrition", "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1}
    params = states["Transform"]["Parameters"]
    source = params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri.$"]
    assert source.startswith("States.Format('s3://<CoreDataBucket") and "/hr/attrition/scoring/{}/'" in source
    assert "/hr/attrition/scores/month={}/'" in params["TransformOutput"]["S3OutputPath.$"]
    assert params["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}
    assert params["TransformOutput"]["KmsKeyId"].startswith("<CoreKey")
    assert states["Transform"]["Resource"].endswith(":states:::sagemaker:createTransformJob.sync")


def test_every_failure_is_notified_on_the_model_topic(batch):
    template, _, definition = batch
    states = definition["States"]
    for name in ("LatestApproved", "CreateModel", "DeleteModel"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                          "Next": "NotifyFailure"}], name
    # A failed transform first deletes the model it created, then notifies (also when the clean-up fails).
    assert states["Transform"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                             "Next": "CleanUpModel"}]
    assert states["CleanUpModel"]["Next"] == "NotifyFailure"
    assert states["CleanUpModel"]["Parameters"] == {"ModelName.$": "$.run.name"}
    assert states["CleanUpModel"]["Catch"][0]["Next"] == "NotifyFailure"
    (topic_id,) = template.find_resources("AWS::SNS::Topic").keys()
    assert states["NotifyFailure"]["Parameters"]["TopicArn"] == f"<{topic_id}>"
    assert states[states["NotifyFailure"]["Next"]]["Type"] == "Fail"


def test_scores_are_queryable_by_month_through_athena(batch):
    template, _, _ = batch
    location = Capture()
    template.has_resource_properties("AWS::Glue::Table", {
        "DatabaseName": "employee_attrition",
        "TableInput": Match.object_like({
            "Name": "scores",
            "PartitionKeys": [{"Name": "month", "Type": "string"}],
            "Parameters": Match.object_like({"projection.enabled": "true", "projection.month.type": "date",
                                             "projection.month.format": "yyyy-MM", "skip.header.line.count": "1"}),
            "StorageDescriptor": Match.object_like({
                "Location": location,
                "Columns": [{"Name": "record_id", "Type": "string"}, {"Name": "score", "Type": "double"},
                            {"Name": "label", "Type": "int"}]}),
        }),
    })
    assert location.as_object()["Fn::Join"][1][-1] == "/hr/attrition/scores/"


def test_the_model_role_reads_the_input_prefix_and_writes_only_the_output_prefix(batch):
    template, _, definition = batch
    role_id = definition["States"]["CreateModel"]["Parameters"]["ExecutionRoleArn"].strip("<>").split(".")[0]
    policy = Capture()
    template.has_resource_properties("AWS::IAM::Policy", {"Roles": [{"Ref": role_id}], "PolicyDocument": policy})
    writes = [s for s in policy.as_object()["Statement"] if s["Action"] == "s3:PutObject"]
    assert [_render(s["Resource"]) for s in writes] == [_render(writes[0]["Resource"])]
    assert _render(writes[0]["Resource"]).endswith("/hr/attrition/scores/*")


@pytest.mark.parametrize(("prefixes", "message"), [
    (("in/", "in/out/"), "must not contain each other"),
    (("in", "out/"), "input_prefix 'in' must be a relative key prefix ending in '/'"),
])
def test_bad_prefixes_fail_at_synth(prefixes, message):
    stack = Stack(new_app(), "Test")
    key = kms.Key(stack, "Key")
    with pytest.raises(ValueError, match=message):
        BatchScoring(stack, "Batch", model_name="m", model_package_group_name="m",
                     data_bucket=s3.Bucket(stack, "Data"), artifact_bucket=s3.Bucket(stack, "Art"), key=key,
                     topic=sns.Topic(stack, "Topic"), schedule="cron(0 6 2 * ? *)", input_prefix=prefixes[0],
                     output_prefix=prefixes[1],
                     image_repositories=[ecr.Repository.from_repository_name(stack, "Images", "x")])


def _concrete(node, values: dict):
    """State parameters with every JSONPath/intrinsic field ("Key.$") replaced by a sample value for Key."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key.endswith(".$"):
                out[key[:-2]] = values[key[:-2]]
            else:
                out[key] = _concrete(value, values)
        return out
    if isinstance(node, list):
        return [_concrete(v, values) for v in node]
    return node


@pytest.mark.parametrize(("state", "operation"), [("Transform", "CreateTransformJob"), ("CreateModel", "CreateModel"),
                                                  ("LatestApproved", "ListModelPackages")])
def test_sagemaker_requests_match_the_api_shapes(batch, state, operation):
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    _, _, definition = batch
    samples = {"TransformJobName": "employee-attrition-0f8e", "ModelName": "employee-attrition-0f8e",
               "S3Uri": "s3://bucket/hr/attrition/scoring/2026-12/",
               "S3OutputPath": "s3://bucket/hr/attrition/scores/month=2026-12/",
               "ModelPackageName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/employee-attrition/3"}
    params = _concrete(definition["States"][state]["Parameters"], samples)
    # Token placeholders (<Key.Arn>, <Role.Arn>) stay strings: the check is on structure, types and required keys.
    shape = get_session().get_service_model("sagemaker").operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
