"""Hourly model-quality check: labels of an hour of inferences joined to the captured predictions.

Environment: MODEL_NAME, ENDPOINT_NAME, DATA_BUCKET, GROUND_TRUTH_PREFIX, POSITIVE_CLASS, DECISION_THRESHOLD,
MIN_SAMPLES, LABEL_DELAY_HOURS (labels arrive late: the checked hour is this many hours before the last one).
"""
from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

import mlops_contracts as contracts
from monitoring_code import limits
from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema
from monitoring_code.endpoint_session import endpoint_sagemaker_client
from monitoring_code.monitoring_window import (
    MAX_FILE_BYTES,
    capture_prefix,
    hour_path,
    report_key,
    serving_packages,
    window_hour,
    window_objects,
)
from monitoring_code.quality_metrics import join, parse_labels, quality
from pipeline_code.training.drift_stats import BaselineError

logger = Logger()
metrics = Metrics(namespace=contracts.METRIC_NAMESPACE)


def _files(s3, bucket: str, prefix: str, malformed: Counter):
    for obj in window_objects(s3, bucket, prefix):
        if obj["Size"] > MAX_FILE_BYTES:
            malformed["too_large"] += 1
            continue
        yield s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()


def run(s3, sagemaker, *, model: str, endpoint: str, bucket: str, ground_truth_prefix: str, positive_class: str,
        threshold: float, min_samples: int, event_time: str | None, label_delay_hours: int) -> dict:
    hour = window_hour(event_time) - timedelta(hours=label_delay_hours)
    malformed: Counter = Counter()
    labels: dict[str, str] = {}
    for data in _files(s3, bucket, f"{ground_truth_prefix}{hour_path(hour)}/", malformed):
        labels.update(parse_labels(data, malformed))
    # Only the scores matter here: a one-column schema keeps every input row valid. Captures are streamed in
    # bounded pieces and only labelled predictions are kept, so memory follows the labels, not the traffic.
    decoder = CaptureDecoder(CaptureSchema(("payload",), frozenset({"payload"})))
    scored, predictions = [], 0
    try:
        variants = sorted(serving_packages(sagemaker, endpoint))
    except (sagemaker.exceptions.ClientError, BaselineError) as exc:  # not deployed, or not from a package
        logger.warning("no served variants", extra={"error": str(exc)})
        variants = []
    for variant in variants:
        for obj in window_objects(s3, bucket, capture_prefix(endpoint, variant, hour)):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
            for decoded in decoder.decode_stream(body, keep_ids=True):
                predictions += len(decoded.scored)
                scored += [pair for pair in decoded.scored if pair[0] in labels]
    y_true, scores = join(scored, labels, positive_class)
    report = {"model": model, "endpoint": endpoint, "window": hour.isoformat(), "labels": len(labels),
              "predictions": predictions, "labeled_records": int(y_true.size), "min_samples": min_samples,
              "malformed_labels": malformed["bad_label"], "metrics": None}
    if y_true.size >= min_samples:
        report["metrics"] = quality(y_true, scores, threshold)
    publish(report)
    s3.put_object(Bucket=bucket, Key=report_key(endpoint, hour, "quality.json"),
                  Body=json.dumps(report, indent=1).encode(), ContentType="application/json")
    logger.info("quality check", extra=report)
    return report


def publish(report: dict) -> None:
    metrics.add_dimension(contracts.DIM_MODEL, report["model"])
    metrics.add_dimension(contracts.DIM_ENDPOINT, report["endpoint"])
    metrics.add_metric(contracts.METRIC_LABELED_RECORDS, MetricUnit.Count, report["labeled_records"])
    for name, value in (report["metrics"] or {}).items():
        if value is not None:
            metrics.add_metric(contracts.QUALITY_METRIC_NAMES[name], MetricUnit.NoUnit, value)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    report = run(
        boto3.client("s3"), endpoint_sagemaker_client(), model=os.environ[contracts.ENV_MODEL_NAME],
        endpoint=os.environ[contracts.ENV_ENDPOINT_NAME], bucket=os.environ[contracts.ENV_DATA_BUCKET],
        ground_truth_prefix=os.environ[contracts.ENV_GROUND_TRUTH_PREFIX],
        positive_class=os.environ.get(contracts.ENV_POSITIVE_CLASS, "1"),
        threshold=float(os.environ.get(contracts.ENV_DECISION_THRESHOLD, "0.5")),
        min_samples=int(os.environ.get(contracts.ENV_MIN_SAMPLES, limits.DEFAULT_QUALITY_MIN_SAMPLES)),
        event_time=(event or {}).get("time"),
        label_delay_hours=int(os.environ.get(contracts.ENV_LABEL_DELAY_HOURS, "0")),
    )
    return {k: report[k] for k in ("labeled_records", "metrics")}
