"""The retraining trigger against moto: N duplicate alarms give exactly one execution; cooldown and running."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

import mlops_contracts as contracts
from tests.support import monitoring_aws as aws

PIPELINE = aws.RETRAIN_PIPELINE
DRIFT_ALARM = "fraud-detection-prod-drift"
QUALITY_ALARM = "fraud-detection-prod-quality"


def alarm_event(name=DRIFT_ALARM, state="ALARM", event_id="e-1") -> dict:
    return {"id": event_id, "source": contracts.EVENT_SOURCE_CLOUDWATCH, "detail-type": contracts.DETAIL_ALARM_STATE,
            "time": "2026-11-01T13:05:00Z",
            "detail": {"alarmName": name, "state": {"value": state}, "previousState": {"value": "OK"}}}


@pytest.fixture
def trigger():
    with aws.retrain_trigger({DRIFT_ALARM: "drift", QUALITY_ALARM: "quality"}) as module:
        yield module


def executions() -> list[dict]:
    return boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def test_n_duplicate_alarms_start_exactly_one_execution(trigger, lambda_context):
    events = [alarm_event(event_id=f"e-{i}") for i in range(5)] + [alarm_event(QUALITY_ALARM, event_id="q-1")]
    results = [trigger.handler(event, lambda_context) for event in events]
    assert len(executions()) == 1
    assert results[0]["status"] == "started"
    assert all(r["status"] in ("started", "skipped") for r in results[1:])
    assert {r.get("execution_arn") for r in results if r["status"] == "started"} == \
        {executions()[0]["PipelineExecutionArn"]}


def test_execution_carries_the_trigger_parameter(trigger, lambda_context):
    trigger.handler(alarm_event(QUALITY_ALARM), lambda_context)
    arn = executions()[0]["PipelineExecutionArn"]
    params = boto3.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {"Name": contracts.PARAM_TRIGGER, "Value": "quality"} in params["PipelineParameters"]


def test_ok_state_and_unknown_alarms_are_ignored(trigger, lambda_context):
    assert trigger.handler(alarm_event(state="OK"), lambda_context)["status"] == "ignored"
    assert trigger.handler(alarm_event(name="someone-elses-alarm"), lambda_context)["status"] == "ignored"
    assert executions() == []


def test_recent_execution_from_any_trigger_blocks_a_start_within_the_cooldown(trigger, lambda_context):
    boto3.client("sagemaker").start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="c" * 40)
    result = trigger.handler(alarm_event(), lambda_context)
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


def test_concurrent_duplicates_that_all_see_no_execution_still_start_once(trigger, monkeypatch, lambda_context):
    # The race: every invocation lists executions before any has started one. Idempotency decides.
    monkeypatch.setattr(trigger, "recent_executions", lambda sagemaker, pipeline: [])
    results = [trigger.handler(alarm_event(event_id=f"e-{i}"), lambda_context) for i in range(4)]
    assert len(executions()) == 1
    assert len({r["execution_arn"] for r in results}) == 1  # duplicates get the first start's response
