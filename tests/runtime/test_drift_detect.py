"""The detector on synthetic transactions: drifted features flagged, stable ones not, guards and baselines."""
from __future__ import annotations

import json

import numpy as np
import pytest

from monitoring_code import drift_detect
from pipeline_code.training import drift_stats
from tests.support.monitoring_data import capture_file, fraud_baseline
from tooling_code.synthetic.transactions import DRIFTED_FEATURES, FEATURES


@pytest.fixture(scope="module")
def baseline():
    return drift_stats.Baseline.from_json(fraud_baseline().to_json())


def test_no_drift_on_fresh_data_from_the_training_distribution(baseline):
    report = drift_detect.detect(baseline, [capture_file(6000, seed=11, drift=0.0, baseline=baseline)])
    assert report["verdict"] == drift_detect.VERDICT_NO_DRIFT
    assert report["drifted_features"] == []
    assert report["drift_score"] < 0.05
    assert report["records"] == report["rows"] == 6000 and report["malformed_records"] == 0


def test_drifted_features_are_flagged_and_stable_ones_are_not(baseline):
    files = [capture_file(3000, seed=s, drift=1.0, baseline=baseline, rows_per_record=3) for s in (21, 22)]
    report = drift_detect.detect(baseline, files, metric="psi", threshold=0.2)
    assert report["verdict"] == drift_detect.VERDICT_DRIFT
    assert {"amount", "avg_amount_30d", "channel"} <= set(report["drifted_features"])
    assert set(report["drifted_features"]) <= set(DRIFTED_FEATURES)
    for name in set(FEATURES) - set(DRIFTED_FEATURES):
        assert report["features"][name]["score"] < 0.05, name
    assert report["files"] == 2 and report["rows"] == 6000 and report["records"] == 2000


def test_categorical_features_are_scored_with_js_and_linf(baseline):
    report = drift_detect.detect(baseline, [capture_file(4000, seed=5, drift=1.0, baseline=baseline)],
                                 metric="jensen_shannon", threshold=0.02)
    channel = report["features"]["channel"]
    assert channel["kind"] == "categorical"
    assert channel["score"] == channel["jensen_shannon"] and 0 < channel["jensen_shannon"] <= 1
    assert channel["linf"] > 0.1  # the online share grows from 30% to 60%


def test_prediction_drift_is_scored_against_the_training_scores(baseline):
    report = drift_detect.detect(baseline, [capture_file(4000, seed=5, drift=1.0, baseline=baseline)])
    assert report["prediction"]["count"] == 4000
    assert report["prediction"]["psi"] > drift_detect.detect(
        baseline, [capture_file(4000, seed=5, drift=0.0, baseline=baseline)])["prediction"]["psi"]


def test_too_few_rows_give_no_verdict_and_no_scores(baseline):
    report = drift_detect.detect(baseline, [capture_file(100, seed=3, drift=1.0, baseline=baseline)],
                                 min_samples=500)
    assert report["verdict"] == drift_detect.VERDICT_INSUFFICIENT
    assert report["drift_score"] is None and report["features"] == {} and report["drifted_features"] == []
    assert report["rows"] == 100


def test_malformed_records_are_counted_in_the_report(baseline):
    text = capture_file(1000, seed=3, drift=0.0, baseline=baseline)
    broken = text + '{"captureData": {"endpointInput"\n' + "not json at all\n"
    report = drift_detect.detect(baseline, [broken, b""], min_samples=10)
    assert report["malformed_records"] == 3
    assert report["malformed_by_reason"] == {"empty_file": 1, "invalid_json": 2}
    assert report["rows"] == 1000


def test_report_is_json_serializable(baseline):
    report = drift_detect.detect(baseline, [capture_file(800, seed=2, drift=0.5, baseline=baseline)])
    assert json.loads(json.dumps(report, allow_nan=False))["rows"] == 800


def test_unknown_metric_is_rejected_with_the_allowed_ones(baseline):
    with pytest.raises(ValueError, match=r"unknown drift metric 'kl'.*jensen_shannon"):
        drift_detect.DriftWindow(baseline).report(metric="kl")


@pytest.mark.parametrize("text, message", [
    ("{not json", "corrupt baseline"),
    (json.dumps({"version": 99, "features": []}), "version 99"),
    (json.dumps({"version": 1, "features": [{"name": "a", "kind": "numeric", "proportions": [1.0],
                                              "missing_fraction": 0, "edges": [1.0]}]}), "proportions must hold 2 numbers"),
])
def test_corrupt_baseline_raises_baseline_error(text, message):
    with pytest.raises(drift_stats.BaselineError, match=message):
        drift_stats.Baseline.from_json(text)


def test_code_counts_match_name_counts(baseline):
    channel = next(f for f in baseline.features if f.name == "channel")
    codes = np.array([0, 1, 1, np.nan, 7, 2.5, 0])
    by_code = drift_stats.categorical_code_counts(channel, codes)
    by_name = drift_stats.categorical_counts(drift_stats.decode_codes(channel, codes), channel.categories)
    np.testing.assert_array_equal(by_code[0], by_name[0])
    assert by_code[1] == by_name[1] == 1


@pytest.mark.parametrize("event_time, window", [
    ("2026-11-01T13:15:00Z", "2026/11/01/12"),  # 12:00-13:00 has settled
    ("2026-11-01T13:05:00Z", "2026/11/01/11"),  # 12:xx files may still be flushing: the hour before
    ("2026-11-01T00:20:00+00:00", "2026/10/31/23"),
])
def test_window_is_the_last_settled_hour(event_time, window):
    from monitoring_code.monitoring_window import hour_path, window_hour

    assert hour_path(window_hour(event_time)) == window
