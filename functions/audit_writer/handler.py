"""Audit writer: turns SageMaker and CloudFormation events into immutable audit records in DynamoDB.

The record logic lives in ``governance_code.audit_schema`` (pure); this module only calls AWS. Records are written
with ``attribute_not_exists`` so nothing is overwritten: a redelivered event is a no-op, never an update.

Environment:
    AUDIT_TABLE: the audit table name (required).
    ENDPOINT_STACKS: JSON object, CloudFormation stack name -> endpoint it deploys; default ``{}``.
    ENDPOINT_READERS: JSON object, endpoint in a stage account -> {"role": ARN, "region": region} of the audit
        role deployed with that stage, assumed to describe the endpoint; default ``{}`` (every endpoint is local).
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

import mlops_contracts as contracts
from governance_code import audit_schema as schema

logger = Logger()
metrics = Metrics(namespace=contracts.GOVERNANCE_METRIC_NAMESPACE)


@cache
def _sagemaker():
    return boto3.client("sagemaker")


@cache
def _table():
    return boto3.resource("dynamodb").Table(os.environ[contracts.ENV_AUDIT_TABLE])


def _endpoint_stacks() -> dict[str, str]:
    return json.loads(os.environ.get(contracts.ENV_ENDPOINT_STACKS) or "{}")


def _now() -> str:
    return schema.normalize_time(datetime.now(UTC))


def records_for(event: dict) -> list[dict]:
    """Audit records for one EventBridge event; raises ``schema.BadEvent`` for events it cannot use."""
    detail_type = event.get("detail-type")
    detail = event.get("detail") or {}
    if detail_type == contracts.DETAIL_PACKAGE_STATE:
        arn = detail.get("ModelPackageArn") or ""
        return [schema.package_record(event, _describe_package(arn, detail) if arn else {}, _now())]
    if detail_type == contracts.DETAIL_PIPELINE_EXECUTION:
        arn = detail.get("pipelineExecutionArn") or ""
        if not arn:
            raise schema.BadEvent("event detail lacks ['pipelineExecutionArn']")
        execution = _sagemaker().describe_pipeline_execution(PipelineExecutionArn=arn)
        return [schema.execution_record(event, execution, _parameters(arn), _now())]
    if detail_type in (contracts.DETAIL_ENDPOINT_STATE, contracts.DETAIL_STACK_STATUS):
        name, status, actor = schema.endpoint_name_of(event, _endpoint_stacks())
        client = _sagemaker_for(name)
        endpoint, config, models = _describe_serving(name, client)
        serving = schema.serving_from(endpoint, config, models)
        pending = _describe_pending(endpoint, client)
        return schema.endpoint_records(event, name, status, actor, endpoint, serving, _now(), pending=pending)
    raise schema.BadEvent(f"unsupported detail-type {detail_type!r}; expected one of "
                          f"{[contracts.DETAIL_PACKAGE_STATE, contracts.DETAIL_PIPELINE_EXECUTION, contracts.DETAIL_ENDPOINT_STATE, contracts.DETAIL_STACK_STATUS]}")


def _describe_package(arn: str, detail: dict) -> dict:
    """The package now; if it is already gone, the event's own copy of its description."""
    try:
        return _sagemaker().describe_model_package(ModelPackageName=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationException":
            raise
        logger.warning("model package no longer exists; recording the event's description", extra={"arn": arn})
        return detail


def _parameters(execution_arn: str) -> dict[str, str]:
    pages = _sagemaker().get_paginator("list_pipeline_parameters_for_execution")
    return {p["Name"]: p["Value"] for page in pages.paginate(PipelineExecutionArn=execution_arn)
            for p in page.get("PipelineParameters", [])}


def _sagemaker_for(endpoint_name: str):
    """SageMaker in the endpoint's account: through its stage's audit role when it lives in another account."""
    reader = json.loads(os.environ.get(contracts.ENV_ENDPOINT_READERS) or "{}").get(endpoint_name)
    if not reader:
        return _sagemaker()
    credentials = boto3.client("sts").assume_role(RoleArn=reader["role"],
                                                  RoleSessionName="mlops-audit-writer")["Credentials"]
    return boto3.client("sagemaker", region_name=reader["region"], aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def _describe_serving(endpoint_name: str, client=None) -> tuple[dict | None, dict | None, dict[str, dict]]:
    """The endpoint as it is now (after a rollback: on its old config), its config and its models."""
    client = client or _sagemaker()
    try:
        endpoint = client.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":  # the endpoint does not exist
            return None, None, {}
        raise
    config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = list(config.get("ProductionVariants") or []) + list(config.get("ShadowProductionVariants") or [])
    names = sorted({v["ModelName"] for v in variants if v.get("ModelName")})
    return endpoint, config, {name: client.describe_model(ModelName=name) for name in names}


def _describe_pending(endpoint: dict | None, client=None) -> list[dict]:
    """What an update in progress deploys (the endpoint's ``PendingDeploymentSummary``); empty when none."""
    pending_config = ((endpoint or {}).get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if not pending_config:
        return []
    client = client or _sagemaker()
    try:
        config = client.describe_endpoint_config(EndpointConfigName=pending_config)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationException":
            raise
        logger.warning("pending endpoint config no longer exists", extra={"config": pending_config})
        return []
    variants = list(config.get("ProductionVariants") or []) + list(config.get("ShadowProductionVariants") or [])
    names = sorted({v["ModelName"] for v in variants if v.get("ModelName")})
    return schema.serving_from(endpoint, config, {name: client.describe_model(ModelName=name) for name in names})


def write(records: list[dict]) -> int:
    """Append records; returns how many were new (a redelivered event finds its records already there)."""
    written = 0
    for record in records:
        try:
            _table().put_item(Item=record, ConditionExpression="attribute_not_exists(pk)")
            written += 1
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            logger.info("record already written", extra={"pk": record["pk"], "sk": record["sk"]})
    return written


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        records = records_for(event)
    except schema.BadEvent as error:
        logger.warning("event skipped", extra={"reason": str(error), "event_id": event.get("id")})
        metrics.add_metric(name=contracts.METRIC_AUDIT_EVENTS_SKIPPED, unit=MetricUnit.Count, value=1)
        return {"written": 0, "skipped": str(error)}
    incomplete = [r["pk"] for r in records if r.get("lineage_missing")]
    if incomplete:
        logger.warning("model package without full lineage", extra={"packages": incomplete})
        metrics.add_metric(name=contracts.METRIC_INCOMPLETE_LINEAGE, unit=MetricUnit.Count, value=len(incomplete))
    written = write(records)
    metrics.add_metric(name=contracts.METRIC_AUDIT_RECORDS_WRITTEN, unit=MetricUnit.Count, value=written)
    return {"written": written, "skipped": ""}
