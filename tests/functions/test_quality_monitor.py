"""The model-quality monitor: labels joined to captured predictions by inference ID, metrics and the guard."""
from __future__ import annotations

import json
from collections import Counter

import boto3
import numpy as np
import pytest
from moto import mock_aws

import mlops_contracts as contracts
from monitoring_code.capture_records import capture_line
from monitoring_code.quality_metrics import join, parse_labels, quality
from tests.support import monitoring_aws as aws
from tests.support.lambda_handlers import load_handler

GROUND_TRUTH = "ground-truth/fraud-detection/"


def test_metrics_match_hand_counts():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    s = np.array([0.9, 0.8, 0.6, 0.2, 0.7, 0.1, 0.1, 0.3, 0.2, 0.05])
    m = quality(y, s, 0.5)
    assert m["recall"] == pytest.approx(3 / 4) and m["precision"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(8 / 10)
    assert m["auc"] == pytest.approx(20.5 / 24)  # of 24 positive/negative pairs, 20 ranked right and 1 tie


def test_auc_is_none_with_one_class():
    assert quality(np.array([False, False]), np.array([0.1, 0.2]), 0.5)["auc"] is None


def test_labels_in_both_formats_and_bad_lines_counted():
    malformed = Counter()
    text = "\n".join([
        json.dumps({"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "a"},
                    "eventVersion": "0"}),
        json.dumps({"inferenceId": "b", "label": 0}),
        "{broken",
        json.dumps({"no": "id"}),
    ])
    assert parse_labels(text, malformed) == {"a": "1", "b": "0"}
    assert malformed["bad_label"] == 2
    y, s = join([("a", 0.9), ("b", 0.4), ("c", 0.7)], {"a": "1", "b": "0"}, "1")
    assert y.tolist() == [True, False] and s.tolist() == [0.9, 0.4]


@pytest.fixture
def monitor():
    env = {contracts.ENV_MODEL_NAME: aws.MODEL, contracts.ENV_ENDPOINT_NAME: aws.ENDPOINT,
           contracts.ENV_DATA_BUCKET: aws.BUCKET,
           contracts.ENV_GROUND_TRUTH_PREFIX: GROUND_TRUTH, contracts.ENV_POSITIVE_CLASS: "1",
           contracts.ENV_DECISION_THRESHOLD: "0.5",
           contracts.ENV_MIN_SAMPLES: "100", contracts.ENV_LABEL_DELAY_HOURS: "0"}
    with mock_aws(), load_handler(contracts.SERVICE_QUALITY_MONITOR, env) as module:
        yield module


def put_window(n: int, recall_misses: int, seed: int = 0) -> None:
    """n inferences, 20% fraud; ``recall_misses`` frauds get a low score."""
    rng = np.random.default_rng(seed)
    lines, labels = [], []
    for i in range(n):
        fraud = i % 5 == 0
        score = (0.1 if i // 5 < recall_misses else 0.9) if fraud else rng.uniform(0, 0.4)
        lines.append(capture_line(f"{rng.normal():.3f},1,2", f"{score:.4f}", inference_id=f"inf-{i}"))
        labels.append(json.dumps({"groundTruthData": {"data": "1" if fraud else "0", "encoding": "CSV"},
                                  "eventMetadata": {"eventId": f"inf-{i}"}, "eventVersion": "0"}))
    aws.put_capture("\n".join(lines) + "\n")
    boto3.client("s3").put_object(Bucket=aws.BUCKET, Key=f"{GROUND_TRUTH}{aws.WINDOW}/labels.jsonl",
                                  Body="\n".join(labels).encode())


def test_window_quality_is_published(monitor, capsys, lambda_context):
    aws.serve(None)
    put_window(500, recall_misses=20)  # 100 frauds, 20 missed: recall 0.8
    result = monitor.handler({"time": aws.EVENT_TIME}, lambda_context)
    docs = aws.emf(capsys.readouterr().out)
    dims = {contracts.DIM_MODEL: aws.MODEL, contracts.DIM_ENDPOINT: aws.ENDPOINT}
    assert result["labeled_records"] == 500
    assert aws.metric_values(docs, "Recall", **dims) == [pytest.approx(0.8)]
    assert aws.metric_values(docs, "Precision", **dims) == [pytest.approx(1.0)]
    assert aws.metric_values(docs, contracts.METRIC_LABELED_RECORDS, **dims) == [500]
    key = f"{contracts.MONITORING_REPORTS_PREFIX}/{aws.ENDPOINT}/{aws.WINDOW}/quality.json"
    report = json.loads(boto3.client("s3").get_object(Bucket=aws.BUCKET, Key=key)["Body"].read())
    assert report["metrics"]["recall"] == pytest.approx(0.8)


def test_too_few_labels_publish_no_quality_metric(monitor, capsys, lambda_context):
    aws.serve(None)
    put_window(60, recall_misses=10)
    result = monitor.handler({"time": aws.EVENT_TIME}, lambda_context)
    docs = aws.emf(capsys.readouterr().out)
    assert result["metrics"] is None
    assert aws.metric_values(docs, "Recall", Model=aws.MODEL, Endpoint=aws.ENDPOINT) == []
