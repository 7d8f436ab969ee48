"""Evaluate and gate: metrics at the threshold, bias, champion via the registry (moto), model loading."""
from __future__ import annotations

import json
import tarfile

import boto3
import numpy as np
import pytest
from moto import mock_aws

from pipeline_code.common import DataError
from pipeline_code.training import evaluate, train
from pipeline_code.training.evaluate import xgb
from pipeline_code.training.gate import describe_failures, evaluate_gates
from tests.support.training_data import labelled_sample, train_booster


def test_quality_metrics_at_the_decision_threshold():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.1, 0.3, 0.05])
    metrics = evaluate.quality_metrics(y, scores, threshold=0.5)
    # at 0.5: TP = 2 (0.9, 0.6), FN = 1 (0.2), FP = 1 (0.7), TN = 4
    assert metrics["confusion_matrix"] == {"0": {"0": 4, "1": 1}, "1": {"0": 1, "1": 2}}
    assert metrics["precision"]["value"] == pytest.approx(2 / 3)
    assert metrics["recall"]["value"] == pytest.approx(2 / 3)
    assert metrics["accuracy"]["value"] == pytest.approx(6 / 8)
    assert metrics["auc"] == {"value": pytest.approx(12 / 15), "standard_deviation": "NaN"}  # 5+4+3 of 15 pairs
    lower = evaluate.quality_metrics(y, scores, threshold=0.15)
    assert lower["recall"]["value"] == 1.0


def test_single_class_test_set_is_bad_input():
    with pytest.raises(DataError, match="both classes"):
        evaluate.quality_metrics(np.zeros(5, dtype=int), np.linspace(0, 1, 5), 0.5)


def test_bias_per_group_and_worst_case_across_attributes():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1])
    groups = {"sex": np.array(list("aaaabbbb")), "region": np.array(list("xyxyxyxy"))}
    bias = evaluate.bias_metrics(y, scores, 0.5, groups)
    sex = bias["attributes"]["sex"]
    assert sex["positive_rates"] == {"a": 0.75, "b": 0.25}
    assert sex["true_positive_rates"] == {"a": 1.0, "b": 0.5}
    assert sex["positive_rate_difference"] == pytest.approx(0.5)
    assert sex["equal_opportunity_difference"] == pytest.approx(0.5)
    assert sex["disparate_impact"] == pytest.approx(1 / 3)
    region = bias["attributes"]["region"]
    assert region["positive_rate_difference"] == pytest.approx(0.5)  # x: 3/4, y: 1/4
    assert bias["max_positive_rate_difference"] == pytest.approx(0.5)
    assert bias["min_disparate_impact"] == pytest.approx(1 / 3)


def evaluation(auc=0.9, recall=0.8, bias=0.05, champion=1.0) -> dict:
    metric = lambda v: {"value": v, "standard_deviation": "NaN"}
    return {"binary_classification_metrics": {"auc": metric(auc), "recall": metric(recall)},
            "bias": {"max_positive_rate_difference": bias, "min_disparate_impact": 0.7},
            "champion": {"passed": champion}}


def test_gates_report_each_value_against_its_threshold():
    gates = {"min_metrics": {"auc": 0.85, "recall": 0.9}, "bias": {"metric": "positive_rate_difference",
                                                                   "limit": 0.1}, "must_beat_champion": True}
    verdict = evaluate_gates(evaluation(), gates)
    assert not verdict["passed"]
    by_name = {g["name"]: g for g in verdict["gates"]}
    assert by_name["recall"] == {"name": "recall", "path": "binary_classification_metrics.recall.value",
                                 "value": 0.8, "threshold": 0.9, "comparison": ">=", "passed": False}
    assert by_name["auc"]["passed"] and by_name["bias.positive_rate_difference"]["passed"]
    assert describe_failures(verdict) == ["gate recall: 0.8000 is not >= 0.9"]
    assert not evaluate_gates(evaluation(recall=0.95, champion=0.0), gates)["passed"]
    assert evaluate_gates(evaluation(recall=0.95), gates)["passed"]


def test_disparate_impact_gate_is_a_lower_bound():
    gates = {"min_metrics": {}, "bias": {"metric": "disparate_impact", "limit": 0.8}}
    (gate,) = evaluate_gates(evaluation(), gates)["gates"]
    assert (gate["path"], gate["comparison"], gate["passed"]) == ("bias.min_disparate_impact", ">=", False)


def test_champion_comparison_on_gated_metrics():
    challenger = evaluation(auc=0.9, recall=0.8)["binary_classification_metrics"]
    assert evaluate.compare_champion(challenger, None, ["auc"])["passed"] == 1.0
    worse = evaluation(auc=0.85, recall=0.8)
    better = evaluation(auc=0.95, recall=0.7)
    assert evaluate.compare_champion(challenger, worse, ["auc", "recall"])["passed"] == 1.0
    verdict = evaluate.compare_champion(challenger, better, ["auc", "recall"])
    assert verdict["passed"] == 0.0 and verdict["metrics"]["auc"]["champion"] == 0.95


@mock_aws
def test_fetch_champion_reads_the_latest_approved_package_metrics():
    sm, s3 = boto3.client("sagemaker"), boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    sm.create_model_package_group(ModelPackageGroupName="fraud")
    assert evaluate.fetch_champion("fraud", sm, s3) == (None, None)
    for name, auc, status in (("old", 0.91, "Approved"), ("new", 0.93, "Approved"), ("pending", 0.99,
                                                                                       "PendingManualApproval")):
        s3.put_object(Bucket="artifacts", Key=f"{name}/evaluation.json", Body=json.dumps(evaluation(auc=auc)))
        sm.create_model_package(
            ModelPackageGroupName="fraud", ModelApprovalStatus=status,
            InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                          "S3Uri": f"s3://artifacts/{name}/evaluation.json"}}})
    champion, arn = evaluate.fetch_champion("fraud", sm, s3)
    assert arn.endswith("/2")
    assert champion["binary_classification_metrics"]["auc"]["value"] == 0.93


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    x, y = labelled_sample(rng, 300, noise=0.3, cut=0)
    spec = {"seed": 5, "hyperparameters": {"num_round": "20", "max_depth": "2", "objective": "binary:logistic",
                                           "eval_metric": "auc,logloss"}}
    path = train_booster(root, spec, x, y, output="out")
    return path, x


def test_train_reads_algorithm_mode_hyperparameter_strings():
    params, rounds = train.booster_params({"num_round": "50", "eta": "0.1", "objective": "binary:logistic",
                                           "eval_metric": "auc,logloss"}, seed=9)
    assert rounds == 50 and params["eta"] == 0.1 and params["seed"] == 9
    assert params["eval_metric"] == ["auc", "logloss"] and "nthread" not in params  # the job spec sets it
    with pytest.raises(DataError, match="'num_round' is required"):
        train.booster_params({"eta": "0.1"}, seed=1)


def test_model_loads_from_file_or_sagemaker_tarball(tiny_model, tmp_path):
    path, x = tiny_model
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(path, arcname="xgboost-model")
    direct = evaluate.load_booster(path.parent).predict(xgb.DMatrix(x))
    packed = evaluate.load_booster(tmp_path).predict(xgb.DMatrix(x))
    assert np.array_equal(direct, packed)
    with pytest.raises(DataError, match="neither xgboost-model nor model.tar.gz"):
        evaluate.load_booster(tmp_path / "nowhere")
