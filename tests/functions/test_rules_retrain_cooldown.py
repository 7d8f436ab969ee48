"""The retraining cooldown, through the Lambda's own entry point with its environment: COOLDOWN_HOURS=24 means a
pipeline execution that started 2 hours ago blocks a retrain and one that started 25 hours ago does not."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

import mlops_contracts as contracts
from tests.support import monitoring_aws as aws

PIPELINE = aws.RETRAIN_PIPELINE
ALARM = "fraud-detection-prod-drift"


def _alarm(event_id: str) -> dict:
    return {"id": event_id, "source": contracts.EVENT_SOURCE_CLOUDWATCH, "detail-type": contracts.DETAIL_ALARM_STATE,
            "time": "2026-11-01T13:05:00Z",
            "detail": {"alarmName": ALARM, "state": {"value": "ALARM"}, "previousState": {"value": "OK"}}}


@pytest.fixture
def trigger():
    with aws.retrain_trigger({ALARM: "drift"}) as module:
        yield module


def _earlier_execution(hours_ago: float) -> None:
    """A finished execution of the pipeline (from any trigger) that started ``hours_ago``."""
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="c" * 40)[
        "PipelineExecutionArn"]
    execution = sagemaker_backends[DEFAULT_ACCOUNT_ID][sagemaker.meta.region_name].pipelines[
        PIPELINE].pipeline_executions[arn]
    execution.start_time -= timedelta(hours=hours_ago)
    execution.pipeline_execution_status = "Succeeded"


def _executions() -> int:
    return len(boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)[
        "PipelineExecutionSummaries"])


def test_an_execution_2_hours_old_blocks_a_retrain_under_a_24_hour_cooldown(trigger, lambda_context):
    _earlier_execution(hours_ago=2)
    result = trigger.handler(_alarm("e-1"), lambda_context)
    assert result["status"] == "skipped" and "within the 1 day, 0:00:00 cooldown" in result["reason"], result
    assert _executions() == 1


def test_an_execution_25_hours_old_does_not_block_a_retrain(trigger, lambda_context):
    _earlier_execution(hours_ago=25)
    result = trigger.handler(_alarm("e-1"), lambda_context)
    assert result["status"] == "started", result
    assert _executions() == 2


def test_the_cooldown_ends_exactly_cooldown_hours_after_the_last_start(trigger):
    from datetime import UTC, datetime

    now = datetime(2026, 11, 1, 13, tzinfo=UTC)
    day = timedelta(hours=24)
    done = {"PipelineExecutionArn": "arn:e-1", "PipelineExecutionStatus": "Succeeded"}
    assert trigger.skip_reason([{**done, "StartTime": now - day}], now, day) is None
    just_inside = now - day + timedelta(seconds=1)
    assert trigger.skip_reason([{**done, "StartTime": just_inside}], now, day) == (
        f"execution arn:e-1 started at {just_inside.isoformat()}, within the 1 day, 0:00:00 cooldown")
    running = {"PipelineExecutionArn": "arn:e-2", "PipelineExecutionStatus": "Stopping", "StartTime": now - 3 * day}
    assert trigger.skip_reason([running], now, day) == "execution arn:e-2 is Stopping"


def test_the_check_reads_the_newest_executions_first(trigger):
    from botocore.stub import Stubber

    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("list_pipeline_executions", {}, {
            "PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 20})
        assert trigger.recent_executions(sagemaker, PIPELINE) == []  # a response without summaries: none


def test_an_ignored_event_says_why(trigger, lambda_context):
    event = _alarm("e-1")
    event["detail"]["state"]["value"] = "OK"
    assert trigger.handler(event, lambda_context) == {
        "status": "ignored", "reason": "not an ALARM state change of a watched alarm"}


def test_a_start_already_in_progress_elsewhere_is_a_skip(trigger, monkeypatch, lambda_context):
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    def in_progress(**_):
        raise IdempotencyAlreadyInProgressError("in progress")

    monkeypatch.setattr(trigger, "start_once", in_progress)
    assert trigger.handler(_alarm("e-1"), lambda_context) == {
        "status": "skipped", "reason": "another invocation is starting the pipeline"}
    assert _executions() == 0


def test_the_start_token_is_derived_from_the_alarm_event_so_a_redelivery_cannot_start_twice(trigger, monkeypatch, lambda_context):
    import hashlib

    real_client, tokens = trigger.boto3.client, []

    def recording_client(name, *args, **kwargs):
        client = real_client(name, *args, **kwargs)
        if name == "sagemaker":
            start = client.start_pipeline_execution

            def recorded(**request):
                tokens.append(request["ClientRequestToken"])
                return start(**request)
            client.start_pipeline_execution = recorded
        return client

    monkeypatch.setattr(trigger.boto3, "client", recording_client)
    assert trigger.handler(_alarm("e-7"), lambda_context)["status"] == "started"
    assert tokens == [hashlib.sha256(f"{aws.MODEL}/e-7".encode()).hexdigest()[:64]]


def test_skips_and_starts_are_logged_with_their_reason(trigger, monkeypatch, capsys, lambda_context):
    import sys

    monkeypatch.setattr(trigger.logger.registered_handler, "stream", sys.stdout)
    trigger.handler(_alarm("e-1"), lambda_context)
    _earlier_execution(hours_ago=1)
    skipped = trigger.handler(_alarm("e-2"), lambda_context)
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"level"')]
    started = next(line for line in logs if line["message"] == "retraining")
    assert started["status"] == "started" and started["execution_arn"].startswith("arn:aws:sagemaker:")
    assert any(line["message"] == "retraining skipped" and line["reason"] == skipped["reason"] for line in logs)
