"""Start a model's build pipeline when its drift or quality alarm goes into ALARM, at most once per cooldown.

Environment: MODEL_NAME, PIPELINE_NAME, COOLDOWN_HOURS, IDEMPOTENCY_TABLE, ALARM_TRIGGERS (JSON: alarm name →
``drift`` | ``quality``). Duplicate and concurrent alarm events collapse to one execution: the start call is
idempotent per model (Powertools idempotency, DynamoDB) for the cooldown, and a running or recent execution of
the pipeline (from any trigger) also skips the start.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

import mlops_contracts as contracts
from monitoring_code import limits

logger = Logger()
RUNNING = ("Executing", "Stopping")
MIN_DEDUPE_SECONDS = 900  # with cooldown_hours 0, duplicates of one alarm still collapse for 15 minutes

COOLDOWN_HOURS = int(os.environ.get(contracts.ENV_COOLDOWN_HOURS, limits.DEFAULT_COOLDOWN_HOURS))
idempotency = IdempotencyConfig(event_key_jmespath="model",
                                expires_after_seconds=max(COOLDOWN_HOURS * 3600, MIN_DEDUPE_SECONDS))
persistence = DynamoDBPersistenceLayer(table_name=os.environ.get(contracts.ENV_IDEMPOTENCY_TABLE, "unset"))


def alarm_trigger(event: dict, triggers: dict[str, str]) -> str | None:
    """``drift`` or ``quality`` for an alarm entering ALARM that this model watches; otherwise None."""
    detail = event.get("detail") or {}
    if (detail.get("state") or {}).get("value") != "ALARM":
        return None
    return triggers.get(detail.get("alarmName", ""))


def skip_reason(executions: list[dict], now: datetime, cooldown: timedelta) -> str | None:
    """Why not to start: an execution is running, or one started within the cooldown. None to start."""
    for execution in executions:
        if execution.get("PipelineExecutionStatus") in RUNNING:
            return f"execution {execution.get('PipelineExecutionArn')} is {execution['PipelineExecutionStatus']}"
        started = execution.get("StartTime")
        if started and now - started < cooldown:
            return f"execution {execution.get('PipelineExecutionArn')} started at {started.isoformat()}, " \
                   f"within the {cooldown} cooldown"
    return None


def recent_executions(sagemaker, pipeline: str) -> list[dict]:
    response = sagemaker.list_pipeline_executions(PipelineName=pipeline, SortBy="CreationTime",
                                                  SortOrder="Descending", MaxResults=20)
    return response.get("PipelineExecutionSummaries", [])


@idempotent_function(data_keyword_argument="request", config=idempotency, persistence_store=persistence)
def start_once(*, request: dict) -> dict:
    """Start the pipeline; idempotent per model for the cooldown (duplicates get this first response)."""
    token = hashlib.sha256(f"{request['model']}/{request['event_id']}".encode()).hexdigest()[:64]
    response = boto3.client("sagemaker").start_pipeline_execution(
        PipelineName=request["pipeline"],
        PipelineExecutionDescription=f"Retraining of {request['model']}: {request['trigger']} alarm "
                                     f"{request['alarm']}"[:3072],
        PipelineParameters=[{"Name": contracts.PARAM_TRIGGER, "Value": request["trigger"]}],
        ClientRequestToken=token,
    )
    return {"status": "started", "execution_arn": response["PipelineExecutionArn"]}


def run(event: dict, *, model: str, pipeline: str, cooldown_hours: int, triggers: dict[str, str],
        now: datetime | None = None) -> dict:
    trigger = alarm_trigger(event, triggers)
    if trigger is None:
        return {"status": "ignored", "reason": "not an ALARM state change of a watched alarm"}
    reason = skip_reason(recent_executions(boto3.client("sagemaker"), pipeline), now or datetime.now(UTC),
                         timedelta(hours=cooldown_hours))
    if reason:
        logger.info("retraining skipped", extra={"reason": reason})
        return {"status": "skipped", "reason": reason}
    request = {"model": model, "pipeline": pipeline, "trigger": trigger,
               "alarm": event["detail"]["alarmName"], "event_id": event.get("id", "")}
    try:
        result = start_once(request=request)
    except IdempotencyAlreadyInProgressError:
        return {"status": "skipped", "reason": "another invocation is starting the pipeline"}
    logger.info("retraining", extra=result)
    return result


@logger.inject_lambda_context
def handler(event, context):
    idempotency.register_lambda_context(context)
    return run(event, model=os.environ[contracts.ENV_MODEL_NAME], pipeline=os.environ[contracts.ENV_PIPELINE_NAME],
               cooldown_hours=COOLDOWN_HOURS, triggers=json.loads(os.environ.get(contracts.ENV_ALARM_TRIGGERS, "{}")))
