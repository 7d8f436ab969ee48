"""Hourly drift check of one endpoint: capture files of the previous hour against the serving model's baseline.

Environment: MODEL_NAME, ENDPOINT_NAME, DATA_BUCKET, DRIFT_METRIC, DRIFT_THRESHOLD, MIN_SAMPLES.
Publishes EMF metrics (namespace ``contracts.METRIC_NAMESPACE``) and writes a JSON report to
``monitoring/<endpoint>/yyyy/mm/dd/hh/drift.json`` in the data bucket.
"""
from __future__ import annotations

import json
import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from pipeline_code import contracts
from pipeline_code.drift_detect import VERDICT_DRIFT, VERDICT_INSUFFICIENT, VERDICT_NO_DRIFT, DriftWindow
from pipeline_code.drift_stats import BaselineError
from pipeline_code.monitoring_window import (
    MAX_FILE_BYTES,
    baseline_uri,
    capture_prefix,
    load_baseline,
    report_key,
    serving_packages,
    window_hour,
    window_objects,
)

logger = Logger()
metrics = Metrics(namespace=contracts.METRIC_NAMESPACE)


def analyze_variant(s3, bucket: str, baseline, prefix: str, *, metric: str, threshold: float,
                    min_samples: int, categorical_codes: bool = False) -> dict:
    """Drift report of one variant's window (files are decoded one at a time: memory stays flat).

    Capture holds what clients send: raw records with category names (the served model encodes them), or the
    encoder.json codes for a custom image declared ``input: encoded`` (``categorical_codes``).
    """
    window = DriftWindow(baseline, categorical_codes=categorical_codes)
    for obj in window_objects(s3, bucket, prefix):
        if obj["Size"] > MAX_FILE_BYTES:
            window.malformed["too_large"] += 1
            continue
        window.add_file(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return window.report(metric=metric, threshold=threshold, min_samples=min_samples)


def merge(variants: dict[str, dict], errors: dict[str, str], min_samples: int) -> dict:
    """The endpoint's verdict: the worst variant's score, summed counts; drift if any variant drifted."""
    scored = [r for r in variants.values() if r["verdict"] != VERDICT_INSUFFICIENT]
    verdict = VERDICT_INSUFFICIENT
    if scored:
        verdict = VERDICT_DRIFT if any(r["verdict"] == VERDICT_DRIFT for r in scored) else VERDICT_NO_DRIFT
    scores = [r["drift_score"] for r in scored if r["drift_score"] is not None]
    predictions = [r["prediction"]["score"] for r in scored if r.get("prediction") and
                   r["prediction"]["score"] is not None]
    return {
        "verdict": verdict,
        "records": sum(r["records"] for r in variants.values()),
        "rows": sum(r["rows"] for r in variants.values()),
        "malformed_records": sum(r["malformed_records"] for r in variants.values()),
        "min_samples": min_samples,
        "drift_score": max(scores) if scores else None,
        "prediction_drift_score": max(predictions) if predictions else None,
        "drifted_features": sorted({f for r in scored for f in r["drifted_features"]}),
        "baseline_errors": errors,
        "variants": variants,
    }


def publish(report: dict, model: str, endpoint: str) -> None:
    """EMF metrics: counts and guards always; scores only with a verdict, so no alarm fires without one."""
    metrics.add_dimension(contracts.DIM_MODEL, model)
    metrics.add_dimension(contracts.DIM_ENDPOINT, endpoint)
    metrics.add_metric(contracts.METRIC_RECORDS, MetricUnit.Count, report["records"])
    metrics.add_metric(contracts.METRIC_MALFORMED, MetricUnit.Count, report["malformed_records"])
    metrics.add_metric(contracts.METRIC_BASELINE_ERROR, MetricUnit.Count, 1 if report["baseline_errors"] else 0)
    insufficient = report["verdict"] == VERDICT_INSUFFICIENT
    metrics.add_metric(contracts.METRIC_INSUFFICIENT, MetricUnit.Count, 1 if insufficient else 0)
    if insufficient:
        return
    if report["drift_score"] is not None:
        metrics.add_metric(contracts.METRIC_DRIFT_SCORE, MetricUnit.NoUnit, report["drift_score"])
    metrics.add_metric(contracts.METRIC_DRIFTED_FEATURES, MetricUnit.Count, len(report["drifted_features"]))
    if report["prediction_drift_score"] is not None:
        metrics.add_metric(contracts.METRIC_PREDICTION_DRIFT, MetricUnit.NoUnit, report["prediction_drift_score"])
    for feature, score in _feature_scores(report).items():
        with single_metric(name=contracts.METRIC_DRIFT_SCORE, unit=MetricUnit.NoUnit, value=score,
                           namespace=contracts.METRIC_NAMESPACE,
                           default_dimensions={contracts.DIM_MODEL: model, contracts.DIM_ENDPOINT: endpoint,
                                               contracts.DIM_FEATURE: feature}):
            pass


def _feature_scores(report: dict) -> dict[str, float]:
    """Each feature's worst score over the variants that reached a verdict."""
    scores: dict[str, float] = {}
    for variant in report["variants"].values():
        for name, feature in variant["features"].items():
            if feature["score"] is not None:
                scores[name] = max(scores.get(name, feature["score"]), feature["score"])
    return scores


def run(s3, sagemaker, *, model: str, endpoint: str, bucket: str, event_time: str | None, metric: str,
        threshold: float, min_samples: int, categorical_codes: bool = False) -> dict:
    """Analyze every variant of the endpoint for the window, publish and store the report."""
    hour = window_hour(event_time)
    variants, errors, baselines = {}, {}, {}
    try:
        packages = serving_packages(sagemaker, endpoint)
    except BaselineError as exc:
        packages, errors["endpoint"] = {}, str(exc)
    except sagemaker.exceptions.ClientError as exc:
        packages = {}
        if "Could not find endpoint" not in str(exc):  # not deployed yet: nothing to monitor, not an error
            errors["endpoint"] = f"cannot describe endpoint {endpoint}: {exc}"
    for variant, package in sorted(packages.items()):
        try:
            uri = baseline_uri(sagemaker, package)
            baseline = baselines[uri] if uri in baselines else baselines.setdefault(uri, load_baseline(s3, uri))
        except BaselineError as exc:
            errors[variant] = str(exc)
            continue
        variants[variant] = analyze_variant(s3, bucket, baseline, capture_prefix(endpoint, variant, hour),
                                            metric=metric, threshold=threshold, min_samples=min_samples,
                                            categorical_codes=categorical_codes)
    report = merge(variants, errors, min_samples)
    report.update(model=model, endpoint=endpoint, window=hour.isoformat(), metric=metric, threshold=threshold)
    publish(report, model, endpoint)
    s3.put_object(Bucket=bucket, Key=report_key(endpoint, hour, "drift.json"),
                  Body=json.dumps(report, indent=1).encode(), ContentType="application/json")
    if errors:
        logger.error("baseline errors", extra={"errors": errors})
    logger.info("drift check", extra={k: report[k] for k in ("verdict", "records", "malformed_records",
                                                            "drift_score", "drifted_features")})
    return report


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    report = run(
        boto3.client("s3"), boto3.client("sagemaker"),
        model=os.environ["MODEL_NAME"], endpoint=os.environ["ENDPOINT_NAME"], bucket=os.environ["DATA_BUCKET"],
        event_time=(event or {}).get("time"), metric=os.environ.get("DRIFT_METRIC", "psi"),
        threshold=float(os.environ.get("DRIFT_THRESHOLD", "0.2")), min_samples=int(os.environ.get("MIN_SAMPLES", "500")),
        categorical_codes=os.environ.get(contracts.ENV_CATEGORICAL_INPUT) == contracts.CATEGORICAL_CODES,
    )
    return {k: report[k] for k in ("verdict", "records", "malformed_records", "drift_score", "drifted_features")}
