"""The retraining trigger against moto: N duplicate alarms give exactly one execution; cooldown and running."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

import mlops_contracts as contracts
from tests.support import monitoring_aws as aws

PIPELINE = "fraud-detection-build"
TABLE = "retrain-idempotency"
DRIFT_ALARM = "fraud-detection-prod-drift"
QUALITY_ALARM = "fraud-detection-prod-quality"


def alarm_event(name=DRIFT_ALARM, state="ALARM", event_id="e-1") -> dict:
    return {"id": event_id, "source": contracts.EVENT_SOURCE_CLOUDWATCH, "detail-type": contracts.DETAIL_ALARM_STATE,
            "time": "2026-11-01T13:05:00Z",
            "detail": {"alarmName": name, "state": {"value": state}, "previousState": {"value": "OK"}}}


@pytest.fixture
def trigger(monkeypatch):
    monkeypatch.setenv("MODEL_NAME", aws.MODEL)
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("COOLDOWN_HOURS", "24")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("ALARM_TRIGGERS", json.dumps({DRIFT_ALARM: "drift", QUALITY_ALARM: "quality"}))
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        boto3.client("sagemaker").create_pipeline(
            PipelineName=PIPELINE, RoleArn=aws.ROLE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}))
        yield aws.load_handler("retrain_trigger")


def executions() -> list[dict]:
    return boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def test_n_duplicate_alarms_start_exactly_one_execution(trigger):
    events = [alarm_event(event_id=f"e-{i}") for i in range(5)] + [alarm_event(QUALITY_ALARM, event_id="q-1")]
    results = [trigger.handler(event, aws.Context()) for event in events]
    assert len(executions()) == 1
    assert results[0]["status"] == "started"
    assert all(r["status"] in ("started", "skipped") for r in results[1:])
    assert {r.get("execution_arn") for r in results if r["status"] == "started"} == \
        {executions()[0]["PipelineExecutionArn"]}


def test_execution_carries_the_trigger_parameter(trigger):
    trigger.handler(alarm_event(QUALITY_ALARM), aws.Context())
    arn = executions()[0]["PipelineExecutionArn"]
    params = boto3.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {"Name": contracts.PARAM_TRIGGER, "Value": "quality"} in params["PipelineParameters"]


def test_ok_state_and_unknown_alarms_are_ignored(trigger):
    assert trigger.handler(alarm_event(state="OK"), aws.Context())["status"] == "ignored"
    assert trigger.handler(alarm_event(name="someone-elses-alarm"), aws.Context())["status"] == "ignored"
    assert executions() == []


def test_recent_execution_from_any_trigger_blocks_a_start_within_the_cooldown(trigger):
    boto3.client("sagemaker").start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="c" * 40)
    result = trigger.handler(alarm_event(), aws.Context())
    assert result["status"] == "skipped" and "cooldown" in result["reason"]
    assert len(executions()) == 1


def test_skip_reason_rules(trigger):
    now = datetime(2026, 11, 1, 13, tzinfo=UTC)
    cooldown = timedelta(hours=24)
    running = {"PipelineExecutionArn": "a", "PipelineExecutionStatus": "Executing", "StartTime": now - timedelta(days=3)}
    old = {"PipelineExecutionArn": "b", "PipelineExecutionStatus": "Succeeded", "StartTime": now - timedelta(hours=25)}
    recent = {"PipelineExecutionArn": "c", "PipelineExecutionStatus": "Failed", "StartTime": now - timedelta(hours=2)}
    assert "Executing" in trigger.skip_reason([running], now, cooldown)
    assert trigger.skip_reason([old], now, cooldown) is None
    assert "cooldown" in trigger.skip_reason([recent, old], now, cooldown)
    assert trigger.skip_reason([], now, cooldown) is None


def test_concurrent_duplicates_that_all_see_no_execution_still_start_once(trigger, monkeypatch):
    # The race: every invocation lists executions before any has started one. Idempotency decides.
    monkeypatch.setattr(trigger, "recent_executions", lambda sagemaker, pipeline: [])
    results = [trigger.handler(alarm_event(event_id=f"e-{i}"), aws.Context()) for i in range(4)]
    assert len(executions()) == 1
    assert len({r["execution_arn"] for r in results}) == 1  # duplicates get the first start's response
