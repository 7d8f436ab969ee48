"""Start the model's CD pipeline once per approved model package.

EventBridge delivers "SageMaker Model Package State Change" events for this model's group with status Approved
(the rule filters them). EventBridge may deliver an event twice, and a steward may re-save an approval: the
handler is idempotent on the package ARN (Powertools idempotency, DynamoDB), and the pipeline start carries a
client request token derived from the ARN as a second guard. Malformed events are skipped and counted.

Environment: IDEMPOTENCY_TABLE, PIPELINE_NAME (the CD pipeline) and MODEL_PACKAGE_GROUP (all required);
IDEMPOTENCY_SECONDS, how long a package's start is remembered (default 7 days).
"""
from __future__ import annotations

import hashlib
import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

import mlops_contracts as contracts

# Lifecycle stages the CD pipeline sets once a package has been deployed.
DEPLOYED_STAGES = (contracts.LIFECYCLE_STAGING_PASSED[0], contracts.LIFECYCLE_PROD_RUNNING[0])

logger = Logger()
metrics = Metrics(namespace=contracts.DEPLOY_METRIC_NAMESPACE)
persistence = DynamoDBPersistenceLayer(table_name=os.environ[contracts.ENV_IDEMPOTENCY_TABLE])
config = IdempotencyConfig(
    expires_after_seconds=int(os.environ.get(contracts.ENV_IDEMPOTENCY_SECONDS, str(7 * 24 * 3600))))
codepipeline = boto3.client("codepipeline")


class SkippedEvent(ValueError):
    """The event is not an approval of a package in this model's group."""


def approved_package(event: dict, group: str) -> str:
    """The approved package ARN of an event for ``group``; raises SkippedEvent naming what is wrong."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        raise SkippedEvent("event has no detail object")
    arn, status = detail.get("ModelPackageArn"), detail.get("ModelApprovalStatus")
    if detail.get("ModelPackageGroupName") != group:
        raise SkippedEvent(f"package group {detail.get('ModelPackageGroupName')!r} is not {group!r}")
    if status != "Approved":
        raise SkippedEvent(f"approval status {status!r} is not 'Approved'")
    stage = (detail.get("ModelLifeCycle") or {}).get("Stage")
    if stage in DEPLOYED_STAGES:
        # The CD pipeline's own lifecycle updates (staging passed, prod running, replaced) emit state changes of
        # an approved package too; they must not deploy it again. Redeploy such a package by starting the
        # pipeline with its ARN as the ModelPackageArn variable.
        raise SkippedEvent(f"lifecycle stage {stage!r}: the package was deployed before; this is a lifecycle "
                           "update, not an approval")
    if not isinstance(arn, str) or ":model-package/" not in arn:
        raise SkippedEvent(f"ModelPackageArn {arn!r} is not a model-package ARN")
    return arn


def start_request(pipeline: str, package_arn: str) -> dict:
    """StartPipelineExecution arguments: the package as a pipeline variable, a token derived from it."""
    token = hashlib.sha256(package_arn.encode()).hexdigest()[:64]
    return {"name": pipeline, "variables": [{"name": contracts.DEPLOY_PACKAGE_VARIABLE, "value": package_arn}],
            "clientRequestToken": token}


@idempotent_function(data_keyword_argument="package_arn", persistence_store=persistence, config=config)
def start_once(package_arn: str) -> dict:
    pipeline = os.environ[contracts.ENV_PIPELINE_NAME]
    response = codepipeline.start_pipeline_execution(**start_request(pipeline, package_arn))
    logger.info("started deployment", package=package_arn, execution=response["pipelineExecutionId"])
    metrics.add_metric(name=contracts.METRIC_DEPLOYMENTS_STARTED, unit=MetricUnit.Count, value=1)
    return {"package": package_arn, "execution": response["pipelineExecutionId"]}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    config.register_lambda_context(context)
    metrics.add_metric(name=contracts.METRIC_APPROVAL_EVENTS, unit=MetricUnit.Count, value=1)
    try:
        package = approved_package(event, os.environ[contracts.ENV_MODEL_PACKAGE_GROUP])
    except SkippedEvent as reason:
        event_id = event.get("id") if isinstance(event, dict) else None
        logger.warning("skipped event", reason=str(reason), event_id=event_id)
        metrics.add_metric(name=contracts.METRIC_SKIPPED_EVENTS, unit=MetricUnit.Count, value=1)
        return {"skipped": str(reason)}
    return start_once(package_arn=package)
