"""Start the build pipeline once per completed data drop, not once per file.

Convention: a producer writes a drop's files under ``<new_data_prefix><drop>/`` and, last, an empty
``<new_data_prefix><drop>/_SUCCESS`` marker. The EventBridge rule forwards only marker events; this function
turns the marker's key into the drop's ``s3://`` prefix and starts the pipeline with ``Trigger=new-data``.
Powertools idempotency (DynamoDB) keyed on the drop URI absorbs duplicate deliveries, retries and re-written
markers within the dedup window, so one drop starts exactly one execution. Any other object is skipped and
counted, never an error.

Environment: IDEMPOTENCY_TABLE, PIPELINE_NAME (the build pipeline), DATA_BUCKET and NEW_DATA_PREFIX (all required);
DEDUP_WINDOW_SECONDS (default 604800, 7 days).
"""
from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

import mlops_contracts as contracts
from tooling_code.pipeline_runner import display_name, execution_parameters, start_execution

logger = Logger()
metrics = Metrics(namespace=contracts.BUILD_TRIGGERS_METRIC_NAMESPACE)


def drop_url(bucket: str, key: str, new_data_prefix: str, marker: str = contracts.DROP_MARKER) -> str | None:
    """``s3://bucket/<prefix><drop>/`` when ``key`` is a drop's marker, else None.

    A marker directly under the prefix (no drop folder) is not a drop: each month would reuse the same key.
    """
    if not key.startswith(new_data_prefix) or not key.endswith(f"/{marker}"):
        return None
    folder = key[: -len(marker)]
    if len(folder) <= len(new_data_prefix):
        return None
    return f"s3://{bucket}/{folder}"


@cache
def _starter(table_name: str, pipeline_name: str, expires_after_seconds: int):
    """The idempotent start function, built once per container (tests build their own with moto)."""
    sagemaker = boto3.client("sagemaker")
    persistence = DynamoDBPersistenceLayer(table_name=table_name)
    config = IdempotencyConfig(event_key_jmespath="input_data_url", expires_after_seconds=expires_after_seconds)

    @idempotent_function(data_keyword_argument="drop", persistence_store=persistence, config=config,
                         key_prefix=f"new-data#{pipeline_name}")
    def start_for_drop(drop: dict) -> dict:
        arn = start_execution(
            sagemaker, pipeline_name,
            execution_parameters(trigger="new-data", input_data_url=drop["input_data_url"]),
            name=display_name("new-data"),
            description=f"New data drop {drop['input_data_url']}",
        )
        logger.info("started pipeline execution", extra={"execution_arn": arn, **drop})
        metrics.add_metric(name=contracts.METRIC_EXECUTIONS_STARTED, unit=MetricUnit.Count, value=1)
        return {"execution_arn": arn, **drop}

    start_for_drop.config = config
    return start_for_drop


def handle(event: dict, *, bucket_name: str, new_data_prefix: str, start) -> dict:
    """Pure dispatch: skip what is not a marker of this bucket, else start (idempotently) for its drop."""
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    url = drop_url(bucket, key, new_data_prefix) if bucket == bucket_name and isinstance(key, str) else None
    if url is None:
        logger.info("not a drop marker; skipped", extra={"bucket": bucket, "key": key})
        metrics.add_metric(name=contracts.METRIC_OBJECTS_SKIPPED, unit=MetricUnit.Count, value=1)
        return {"started": False, "key": key}
    return {"started": True, **start(drop={"input_data_url": url})}


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    start = _starter(os.environ[contracts.ENV_IDEMPOTENCY_TABLE], os.environ[contracts.ENV_PIPELINE_NAME],
                     int(os.environ.get(contracts.ENV_DEDUP_WINDOW_SECONDS, "604800")))
    start.config.register_lambda_context(context)  # in-progress records expire with the invocation
    return handle(event, bucket_name=os.environ[contracts.ENV_DATA_BUCKET],
                  new_data_prefix=os.environ[contracts.ENV_NEW_DATA_PREFIX],
                  start=start)
