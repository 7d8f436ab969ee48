"""Failure and approval notifications: the failed step and its reason; the package's metrics and link."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import mlops_contracts as contracts
from functions.build_notifier import handler as notifier
from tests.support.lambda_handlers import load_handler
from tooling_code.pipeline_runner import FailedStep

EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-detection-build/execution/x1y2z3"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-detection/7"


def _failure_event() -> dict:
    return {"detail-type": contracts.DETAIL_PIPELINE_EXECUTION, "source": contracts.EVENT_SOURCE_SAGEMAKER, "region": "us-east-1", "detail": {
        "pipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-detection-build",
        "pipelineExecutionArn": EXECUTION, "currentPipelineExecutionStatus": "Failed",
        "previousPipelineExecutionStatus": "Executing"}}


def _package_event(stats_uri: str | None) -> dict:
    detail = {"ModelPackageGroupName": "fraud-detection", "ModelPackageVersion": 7, "ModelPackageArn": PACKAGE,
              "ModelApprovalStatus": "PendingManualApproval",
              "CustomerMetadataProperties": {contracts.META_GIT_COMMIT: "3f2c1ab"}}
    if stats_uri:
        detail["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                  "S3Uri": stats_uri}}}
    return {"detail-type": contracts.DETAIL_PACKAGE_STATE, "source": contracts.EVENT_SOURCE_SAGEMAKER, "region": "eu-west-1",
            "detail": detail}


def test_failure_message_names_the_failed_step_and_reason():
    subject, body = notifier.failure_message(
        _failure_event()["detail"], [FailedStep("Train", "Failed", "AlgorithmError: out of memory")])
    assert subject == "fraud-detection-build Failed: step Train"
    assert "Step Train Failed: AlgorithmError: out of memory" in body
    assert EXECUTION in body


def test_long_subjects_are_cut_to_sns_limit():
    subject, _ = notifier.failure_message(_failure_event()["detail"], [FailedStep("S" * 150, "Failed", "r")])
    assert len(subject) == 100 and subject.endswith("...") and subject.isascii()


def test_flatten_metrics_reads_the_evaluation_report():
    """The shape pipeline_code/training/evaluate.py writes: only the headline metric values, no confusion counts."""
    report = {"binary_classification_metrics": {
        "auc": {"value": 0.953, "standard_deviation": "NaN"}, "recall": {"value": 0.96, "standard_deviation": "NaN"},
        "confusion_matrix": {"0": {"0": 950, "1": 10}, "1": {"0": 2, "1": 38}}},
        "decision_threshold": 0.5, "test_rows": 1000, "champion": {"passed": 1.0, "metrics": {}}}
    assert notifier.flatten_metrics(report) == {"auc": 0.953, "recall": 0.96}
    assert notifier.flatten_metrics({"auc": 0.9, "ok": True, "note": "x"}) == {"auc": 0.9}


@pytest.fixture()
def topic():
    with mock_aws():
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        arn = sns.create_topic(Name="fraud")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)

        def received() -> list[dict]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        received.arn = arn
        yield received


@pytest.fixture()
def entry(topic):
    """The notifier as deployed: imported with the topic its template names."""
    with load_handler("build_notifier", {contracts.ENV_TOPIC_ARN: topic.arn}) as module:
        yield module


def test_pending_package_notifies_steward_with_metrics_and_link(entry, topic, lambda_context):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key=f"{contracts.ARTIFACT_PREFIX}/x1y2z3/Evaluate/evaluation.json",
                  Body=json.dumps({"binary_classification_metrics": {"auc": {"value": 0.953}}}))
    result = entry.handler(_package_event("s3://artifacts/pipelines/x1y2z3/Evaluate/evaluation.json"),
                           lambda_context)
    [message] = topic()
    assert result["published"] and message["Subject"] == "fraud-detection v7 pending approval"
    assert "Key metrics: auc=0.9530" in message["Message"]
    assert "mlops:git_commit: 3f2c1ab" in message["Message"]
    link = ("https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/model-packages/"
            "arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3Amodel-package%2Ffraud-detection%2F7")
    assert link in message["Message"]


def test_missing_metrics_report_still_notifies(entry, topic, lambda_context):
    entry.handler(_package_event("s3://artifacts/missing.json"), lambda_context)
    [message] = topic()
    assert "Key metrics: unavailable" in message["Message"]


def test_failed_execution_is_published_with_step_reason(entry, topic, monkeypatch, lambda_context):
    client = boto3.client("sagemaker")
    stubber = Stubber(client)
    stubber.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": [
        {"StepName": "Evaluate", "StepStatus": "Failed", "FailureReason": "ClientError: no test data"}]},
        {"PipelineExecutionArn": EXECUTION, "SortOrder": "Ascending"})
    real_client = boto3.client
    monkeypatch.setattr(entry.boto3, "client",
                        lambda name, *a, **k: client if name == "sagemaker" else real_client(name, *a, **k))
    with stubber:
        entry.handler(_failure_event(), lambda_context)
    [message] = topic()
    assert message["Subject"] == "fraud-detection-build Failed: step Evaluate"
    assert "Step Evaluate Failed: ClientError: no test data" in message["Message"]


def test_unknown_event_is_ignored(entry, topic, lambda_context):
    assert entry.handler({"detail-type": "Something Else", "detail": {}}, lambda_context) == {"published": False}
    assert topic() == []
