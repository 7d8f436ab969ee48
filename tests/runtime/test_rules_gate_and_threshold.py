"""Release rules at their edges: a value exactly on a gate floor or bias limit, a score exactly on the threshold.

Floors are "at least" and limits "at most" (disparate impact: "at least"); a prediction is positive when its score
is at or above the configured decision threshold, and every metric of evaluation.json uses that threshold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_contracts as contracts
from monitoring_code import quality_metrics
from pipeline_code.common import PROTECTED_PREFIX
from pipeline_code.training import drift_stats, evaluate
from pipeline_code.training.gate import describe_failures, evaluate_gates


def _evaluation(*, auc=0.75, recall=0.5, difference=0.25, impact=0.75, champion=1.0) -> dict:
    metric = lambda v: {"value": v, "standard_deviation": "NaN"}
    return {"binary_classification_metrics": {"auc": metric(auc), "recall": metric(recall)},
            "bias": {"max_positive_rate_difference": difference, "max_equal_opportunity_difference": difference,
                     "min_disparate_impact": impact},
            "champion": {"passed": champion}}


def _gate(verdict: dict, name: str) -> dict:
    return next(g for g in verdict["gates"] if g["name"] == name)


# Binary fractions (0.75, 0.5, 0.25) compare exactly, so "on the floor" really is equal.
def test_a_metric_exactly_on_its_floor_passes_and_just_below_fails():
    gates = {"min_metrics": {"auc": 0.75, "recall": 0.5}}
    on_floor = evaluate_gates(_evaluation(auc=0.75, recall=0.5), gates)
    assert on_floor["passed"], describe_failures(on_floor)
    below = evaluate_gates(_evaluation(auc=np.nextafter(0.75, 0), recall=0.5), gates)
    assert not below["passed"] and not _gate(below, "auc")["passed"] and _gate(below, "recall")["passed"]


@pytest.mark.parametrize("metric", ["positive_rate_difference", "equal_opportunity_difference"])
def test_a_bias_difference_exactly_on_its_limit_passes_and_just_above_fails(metric):
    gates = {"min_metrics": {}, "bias": {"metric": metric, "limit": 0.25}}
    on_limit = _gate(evaluate_gates(_evaluation(difference=0.25), gates), f"bias.{metric}")
    assert (on_limit["passed"], on_limit["comparison"], on_limit["value"]) == (True, "<=", 0.25)
    above = evaluate_gates(_evaluation(difference=np.nextafter(0.25, 1)), gates)
    assert not above["passed"]


def test_disparate_impact_exactly_on_its_limit_passes_and_just_below_fails():
    gates = {"min_metrics": {}, "bias": {"metric": "disparate_impact", "limit": 0.75}}
    on_limit = _gate(evaluate_gates(_evaluation(impact=0.75), gates), "bias.disparate_impact")
    assert (on_limit["passed"], on_limit["comparison"], on_limit["path"]) == (True, ">=", "bias.min_disparate_impact")
    assert not evaluate_gates(_evaluation(impact=np.nextafter(0.75, 0)), gates)["passed"]
    # A ratio above the limit is fairer, not a violation.
    assert evaluate_gates(_evaluation(impact=1.0), gates)["passed"]


def test_champion_gate_passes_only_on_a_passed_comparison():
    gates = {"min_metrics": {}, "must_beat_champion": True}
    assert evaluate_gates(_evaluation(champion=1.0), gates)["passed"]
    failed = evaluate_gates(_evaluation(champion=0.0), gates)
    assert not failed["passed"]
    assert describe_failures(failed) == ["gate champion: 0.0000 is not >= 1"]


def test_a_challenger_equal_to_the_champion_passes():
    challenger = _evaluation(auc=0.75, recall=0.5)["binary_classification_metrics"]
    verdict = evaluate.compare_champion(challenger, _evaluation(auc=0.75, recall=0.5), ["auc", "recall"])
    assert verdict["passed"] == 1.0
    worse = evaluate.compare_champion(challenger, _evaluation(auc=np.nextafter(0.75, 1)), ["auc"])
    assert worse["passed"] == 0.0


def test_a_score_exactly_on_the_threshold_is_positive():
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.3, 0.3, 0.1, 0.9])
    metrics = evaluate.quality_metrics(y, scores, threshold=0.3)
    assert metrics["confusion_matrix"] == {"0": {"0": 0, "1": 2}, "1": {"0": 1, "1": 1}}
    window = quality_metrics.quality(y.astype(bool), scores, threshold=0.3)
    assert (window["recall"], window["precision"]) == (0.5, pytest.approx(1 / 3))
    bias = evaluate.bias_metrics(y, scores, 0.3, {"sex": np.array(["a", "a", "b", "b"])})
    assert bias["attributes"]["sex"]["positive_rates"] == {"a": 1.0, "b": 0.5}


class _FixedScores:
    """A stand-in booster that scores row i as ``scores[i]`` (evaluate only calls ``predict``)."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def predict(self, matrix, **_options):  # evaluate scores through serving.py, which passes options
        assert matrix.num_row() == self.scores.size
        return self.scores


def test_evaluate_applies_the_configured_threshold_not_the_default():
    # Eight test rows; at 0.3 (attrition's threshold) three more rows are positive than at the default 0.5.
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    scores = [0.9, 0.4, 0.3, 0.1, 0.6, 0.35, 0.2, 0.05]
    groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    test = pd.DataFrame({"label": y, "x": np.arange(8.0), PROTECTED_PREFIX + "sex": groups})
    baseline = drift_stats.build_baseline({"x": np.arange(8.0)}, set())
    spec = {"label": "label", "decision_threshold": 0.3, "protected_attributes": ["sex"],
            "gates": {"min_metrics": {"recall": 0.7}}}
    body, _, _ = evaluate.evaluate(spec, _FixedScores(scores), test, baseline)
    metrics = body["binary_classification_metrics"]
    # At 0.3: TP 0.9, 0.4, 0.3; FN 0.1; FP 0.6, 0.35; TN 0.2, 0.05.
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 2}, "1": {"0": 1, "1": 3}}
    assert metrics["recall"]["value"] == 0.75 and metrics["precision"]["value"] == 0.6
    assert body["decision_threshold"] == 0.3
    # The bias metrics see the same predictions: group a 4 of 4 positive, group b 1 of 4 (at 0.5: 2 and 0).
    assert body["bias"]["attributes"]["sex"]["positive_rates"] == {"a": 1.0, "b": 0.25}
    assert body["bias"]["max_positive_rate_difference"] == 0.75
    assert evaluate_gates(body, spec["gates"])["passed"]


def test_champion_comparison_records_both_values_and_tolerates_missing_metrics():
    challenger = _evaluation(auc=0.75, recall=0.5)["binary_classification_metrics"]
    assert evaluate.compare_champion(challenger, None, ["auc"]) == {"passed": 1.0, "reason": "no approved champion"}
    verdict = evaluate.compare_champion(challenger, _evaluation(auc=0.5, recall=0.75), ["auc", "recall"])
    assert verdict == {"passed": 0.0, "metrics": {
        "auc": {"challenger": 0.75, "champion": 0.5, "passed": True},
        "recall": {"challenger": 0.5, "champion": 0.75, "passed": False}}}
    # A champion evaluated before a metric was gated has no value for it: that metric cannot block.
    older = {"binary_classification_metrics": {"auc": {"value": 0.5}}}
    assert evaluate.compare_champion(challenger, older, ["auc", "recall"])["passed"] == 1.0
    assert evaluate.compare_champion(challenger, {}, ["auc"])["metrics"]["auc"] == {
        "challenger": 0.75, "champion": None, "passed": True}


def test_every_gate_reports_its_path_threshold_and_comparison():
    gates = {"bias": {"metric": "disparate_impact", "limit": 0.75}, "must_beat_champion": True}  # no min_metrics
    verdict = evaluate_gates(_evaluation(), gates)
    assert verdict == {"passed": True, "gates": [
        {"name": "bias.disparate_impact", "path": "bias.min_disparate_impact", "value": 0.75, "threshold": 0.75,
         "comparison": ">=", "passed": True},
        {"name": "champion", "path": contracts.CHAMPION_PASSED_PATH, "value": 1.0, "threshold": 1.0, "comparison": ">=",
         "passed": True}]}
    assert evaluate_gates(_evaluation(), {}) == {"passed": True, "gates": []}
