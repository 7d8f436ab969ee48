"""The drift detector Lambda against moto S3 and SageMaker: baseline lookup, metrics, report, guards."""
from __future__ import annotations

import json

import boto3
import pytest

import mlops_contracts as contracts
from tests.support import monitoring_aws as aws
from tests.support.monitoring_data import capture_file


def invoke(detector, capsys, lambda_context):
    result = detector.handler({"time": aws.EVENT_TIME, "detail-type": "Scheduled Event"}, lambda_context)
    return result, aws.emf(capsys.readouterr().out)


def stored_report() -> dict:
    key = f"{contracts.MONITORING_REPORTS_PREFIX}/{aws.ENDPOINT}/{aws.WINDOW}/drift.json"
    return json.loads(boto3.client("s3").get_object(Bucket=aws.BUCKET, Key=key)["Body"].read())


def test_drift_in_the_window_publishes_scores_and_a_report(drift_detector, drift_baseline, capsys, lambda_context):
    aws.serve(drift_baseline.to_json())
    aws.put_capture(capture_file(2000, seed=4, drift=1.0, baseline=drift_baseline, raw=True), name="a.jsonl")
    aws.put_capture(capture_file(1000, seed=5, drift=1.0, baseline=drift_baseline, raw=True) + "{truncated\n",
                    name="b.jsonl")
    aws.put_capture(capture_file(900, seed=6, drift=0.0, baseline=drift_baseline, raw=True),
                    window="2026/11/01/11")  # not ours
    result, docs = invoke(drift_detector, capsys, lambda_context)
    dims = {contracts.DIM_MODEL: aws.MODEL, contracts.DIM_ENDPOINT: aws.ENDPOINT}
    assert result["verdict"] == "drift" and "amount" in result["drifted_features"]
    assert aws.metric_values(docs, contracts.METRIC_RECORDS, **dims) == [3001]
    assert aws.metric_values(docs, contracts.METRIC_MALFORMED, **dims) == [1]
    assert aws.metric_values(docs, contracts.METRIC_INSUFFICIENT, **dims) == [0]
    assert aws.metric_values(docs, contracts.METRIC_BASELINE_ERROR, **dims) == [0]
    [overall] = aws.metric_values(docs, contracts.METRIC_DRIFT_SCORE, **dims)
    assert overall > 0.2
    [amount] = aws.metric_values(docs, contracts.METRIC_DRIFT_SCORE, **dims, Feature="amount")
    [hour] = aws.metric_values(docs, contracts.METRIC_DRIFT_SCORE, **dims, Feature="hour_of_day")
    assert amount > 0.2 > hour
    report = stored_report()
    assert report["window"] == "2026-11-01T12:00:00+00:00"
    assert report["variants"]["primary"]["malformed_by_reason"] == {"invalid_json": 1}
    assert report["drift_score"] == overall


def test_too_few_records_publish_the_guard_and_no_score(drift_detector, drift_baseline, capsys, lambda_context):
    aws.serve(drift_baseline.to_json())
    aws.put_capture(capture_file(50, seed=4, drift=1.0, baseline=drift_baseline, raw=True))
    result, docs = invoke(drift_detector, capsys, lambda_context)
    dims = {contracts.DIM_MODEL: aws.MODEL, contracts.DIM_ENDPOINT: aws.ENDPOINT}
    assert result["verdict"] == "insufficient_samples"
    assert aws.metric_values(docs, contracts.METRIC_INSUFFICIENT, **dims) == [1]
    assert aws.metric_values(docs, contracts.METRIC_DRIFT_SCORE, **dims) == []  # no score: the alarm cannot fire
    assert aws.metric_values(docs, contracts.METRIC_PREDICTION_DRIFT, **dims) == []


@pytest.mark.parametrize("baseline_json, message", [
    (b"{\"version\": 1, \"features\": [", "corrupt baseline"),
    (None, "no DriftCheckBaselines"),
])
def test_missing_or_corrupt_baseline_publishes_baseline_error(drift_detector, drift_baseline, capsys, baseline_json,
                                                               message, lambda_context):
    aws.serve(baseline_json)
    aws.put_capture(capture_file(800, seed=4, drift=0.0, baseline=drift_baseline, raw=True))
    _, docs = invoke(drift_detector, capsys, lambda_context)
    dims = {contracts.DIM_MODEL: aws.MODEL, contracts.DIM_ENDPOINT: aws.ENDPOINT}
    assert aws.metric_values(docs, contracts.METRIC_BASELINE_ERROR, **dims) == [1]
    assert message in stored_report()["baseline_errors"]["primary"]


def test_each_variant_is_checked_against_its_own_package(drift_detector, drift_baseline, capsys, lambda_context):
    aws.serve(drift_baseline.to_json(), variants=("champion", "challenger"))
    aws.put_capture(capture_file(1000, seed=4, drift=0.0, baseline=drift_baseline, raw=True), variant="champion")
    aws.put_capture(capture_file(1000, seed=5, drift=1.0, baseline=drift_baseline, raw=True), variant="challenger")
    result, _ = invoke(drift_detector, capsys, lambda_context)
    report = stored_report()
    assert report["variants"]["champion"]["verdict"] == "no_drift"
    assert report["variants"]["challenger"]["verdict"] == "drift"
    assert result["verdict"] == "drift" and result["records"] == 2000


def test_endpoint_not_deployed_yet_is_no_data_not_an_error(drift_detector, capsys, lambda_context):
    boto3.client("s3").create_bucket(Bucket=aws.BUCKET)
    result, docs = invoke(drift_detector, capsys, lambda_context)
    dims = {contracts.DIM_MODEL: aws.MODEL, contracts.DIM_ENDPOINT: aws.ENDPOINT}
    assert result["verdict"] == "insufficient_samples"
    assert aws.metric_values(docs, contracts.METRIC_BASELINE_ERROR, **dims) == [0]
