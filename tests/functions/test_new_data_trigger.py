"""A monthly drop of 500 files starts one build, not 500: rule pattern + idempotent starter, against moto."""
from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template
from moto import mock_aws
from moto.events.models import EventPattern

import mlops_contracts as contracts
from functions.new_data_trigger import handler
from mlops_constructs.build.build_triggers import BuildTriggers
from tests.conftest import new_app
from tests.support.lambda_handlers import load_handler

BUCKET, PREFIX, PIPELINE, TABLE = "fraud-data", "transactions/monthly/", "fraud-detection-build", "drop-starts"


@pytest.fixture(scope="module")
def rule_pattern() -> dict:
    """The NewData rule's event pattern as synthesized, with the bucket reference replaced by a real name."""
    stack = Stack(new_app(), "Test")
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Data")
    BuildTriggers(stack, "Triggers", pipeline_name=PIPELINE, key=key, topic=sns.Topic(stack, "Topic"),
                  artifact_bucket=s3.Bucket(stack, "Artifacts"), model_package_group_name="fraud-detection",
                  data_bucket=bucket, new_data_prefix=PREFIX)
    pattern = Capture(Match.object_like({"detail-type": [contracts.DETAIL_OBJECT_CREATED]}))
    Template.from_stack(stack).has_resource_properties("AWS::Events::Rule", {"EventPattern": pattern})
    resolved = pattern.as_object()
    resolved["detail"]["bucket"]["name"] = [BUCKET]
    return resolved


def _object_created(key: str, bucket: str = BUCKET) -> dict:
    return {"version": "0", "id": "1", "detail-type": contracts.DETAIL_OBJECT_CREATED, "source": contracts.EVENT_SOURCE_S3,
            "account": "123456789012", "time": "2026-11-01T02:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10},
                       "reason": "PutObject"}}


@pytest.fixture()
def aws():
    with mock_aws():
        handler._starter.cache_clear()
        s3c = boto3.client("s3")
        s3c.create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb").create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_pipeline(
            PipelineName=PIPELINE, RoleArn="arn:aws:iam::123456789012:role/build",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [
                {"Name": contracts.PARAM_INPUT_DATA, "Type": "String"}, {"Name": contracts.PARAM_TRIGGER, "Type": "String"}], "Steps": []}))
        yield s3c, sagemaker
        handler._starter.cache_clear()


def _drop(s3c, folder: str, files: int, *, write: bool = True) -> list[dict]:
    """A drop as a producer writes it (files, then the marker) and S3's Object Created events for it."""
    keys = [f"{PREFIX}{folder}/part-{i:04d}.csv" for i in range(files)] + [f"{PREFIX}{folder}/{contracts.DROP_MARKER}"]
    for key in keys if write else ():
        s3c.put_object(Bucket=BUCKET, Key=key, Body=b"amount,is_fraud\n1,0\n")
    return [_object_created(key) for key in keys]


def _invoke(events_: list[dict]) -> list[dict]:
    start = handler._starter(TABLE, PIPELINE, 3600)
    return [handler.handle(e, bucket_name=BUCKET, new_data_prefix=PREFIX, start=start) for e in events_]


def _executions(sagemaker) -> list[dict]:
    summaries = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    return [{p["Name"]: p["Value"] for p in sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=s["PipelineExecutionArn"])["PipelineParameters"]} for s in summaries]


def test_500_file_drop_starts_exactly_one_execution_with_the_drop_location(aws, rule_pattern):
    s3c, sagemaker = aws
    events_ = _drop(s3c, "2026-11", 500)
    rule = EventPattern.load(json.dumps(rule_pattern))  # moto's EventBridge rule matcher
    delivered = [e for e in events_ if rule.matches_event(e)]
    assert [e["detail"]["object"]["key"] for e in delivered] == [f"{PREFIX}2026-11/{contracts.DROP_MARKER}"]
    _invoke(delivered + delivered)  # EventBridge delivers at least once: the duplicate must not start again
    assert _executions(sagemaker) == [{contracts.PARAM_INPUT_DATA: f"s3://{BUCKET}/{PREFIX}2026-11/", contracts.PARAM_TRIGGER: "new-data"}]


def test_handler_alone_also_starts_once_when_every_file_event_reaches_it(aws):
    s3c, sagemaker = aws
    results = _invoke(_drop(s3c, "2026-12", 500, write=False))
    assert sum(r["started"] for r in results) == 1
    assert len(_executions(sagemaker)) == 1


def test_each_drop_starts_its_own_execution(aws):
    s3c, sagemaker = aws
    _invoke(_drop(s3c, "2026-11", 3) + _drop(s3c, "2026-12", 3))
    assert sorted(e[contracts.PARAM_INPUT_DATA] for e in _executions(sagemaker)) == [
        f"s3://{BUCKET}/{PREFIX}2026-11/", f"s3://{BUCKET}/{PREFIX}2026-12/"]


@pytest.mark.parametrize("key", [f"{PREFIX}{contracts.DROP_MARKER}", f"{PREFIX}2026-11/part.csv", f"other/2026-11/{contracts.DROP_MARKER}",
                                 f"{PREFIX}2026-11/_SUCCESS.tmp"])
def test_what_is_not_a_drop_marker_is_skipped(key):
    assert handler.drop_url(BUCKET, key, PREFIX) is None


def test_marker_from_another_bucket_is_skipped_not_an_error():
    result = handler.handle(_object_created(f"{PREFIX}2026-11/{contracts.DROP_MARKER}", bucket="someone-else"),
                            bucket_name=BUCKET, new_data_prefix=PREFIX, start=lambda drop: pytest.fail("started"))
    assert result == {"started": False, "key": f"{PREFIX}2026-11/{contracts.DROP_MARKER}"}


def test_nested_drop_folder_is_the_whole_folder():
    assert handler.drop_url(BUCKET, f"{PREFIX}2026/11/{contracts.DROP_MARKER}", PREFIX) == f"s3://{BUCKET}/{PREFIX}2026/11/"


ENVIRONMENT = {contracts.ENV_IDEMPOTENCY_TABLE: TABLE, contracts.ENV_PIPELINE_NAME: PIPELINE,
               contracts.ENV_DATA_BUCKET: BUCKET,
               contracts.ENV_NEW_DATA_PREFIX: PREFIX}  # as the build triggers' template sets them


def test_lambda_entry_point_reads_its_configuration_from_the_environment(aws, lambda_context):
    _, sagemaker = aws
    event = _object_created(f"{PREFIX}2027-01/_SUCCESS")
    with load_handler("new_data_trigger", {**ENVIRONMENT, contracts.ENV_DEDUP_WINDOW_SECONDS: "60"}) as entry:
        first, again = entry.handler(event, lambda_context), entry.handler(event, lambda_context)
    assert first["started"] and first["execution_arn"] == again["execution_arn"]
    assert _executions(sagemaker) == [{contracts.PARAM_INPUT_DATA: f"s3://{BUCKET}/{PREFIX}2027-01/", contracts.PARAM_TRIGGER: "new-data"}]
