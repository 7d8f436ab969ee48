"""A defective baseline is refused where it is written (the build fails) and where it is read (``BaselineError``
naming the field), instead of scoring traffic against it: a NaN edge once gave PSI 0.76 on an unchanged feature."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitoring_code import drift_detect
from pipeline_code.data import preprocess
from pipeline_code.training import drift_stats
from tests.support.monitoring_data import capture_file, fraud_baseline


@pytest.fixture(scope="module")
def good():
    return json.loads(fraud_baseline(rows=4000).to_json())


def _numeric(body: dict) -> int:
    return next(i for i, f in enumerate(body["features"]) if f["kind"] == "numeric")


def _categorical(body: dict) -> int:
    return next(i for i, f in enumerate(body["features"]) if f["kind"] == "categorical")


def nan_edge(b):
    b["features"][_numeric(b)]["edges"][1] = float("nan")


def inf_edge(b):
    b["features"][_numeric(b)]["edges"][-1] = float("inf")


def unsorted_edges(b):
    edges = b["features"][_numeric(b)]["edges"]
    edges[0], edges[1] = edges[1], edges[0]


def null_proportion(b):
    b["features"][_numeric(b)]["proportions"][2] = None


def proportions_not_one(b):
    b["features"][_categorical(b)]["proportions"][0] += 0.3


def negative_proportion(b):
    shares = b["features"][_numeric(b)]["proportions"]
    shares[0], shares[1] = -0.1, shares[1] + shares[0] + 0.1


def missing_edges(b):
    del b["features"][_numeric(b)]["edges"]


def missing_proportions(b):
    del b["features"][0]["proportions"]


def prediction_nan_edge(b):
    b["prediction"]["edges"][0] = float("nan")


def missing_fraction_above_one(b):
    b["features"][0]["missing_fraction"] = 1.5


def unknown_kind(b):
    b["features"][0]["kind"] = "ordinal"


def duplicate_category(b):
    cats = b["features"][_categorical(b)]["categories"]
    cats[1] = cats[0]


@pytest.mark.parametrize("defect, field", [
    (nan_edge, "edges[1] is nan"),
    (inf_edge, "is inf; edges must be finite"),
    (unsorted_edges, "edges must increase"),
    (null_proportion, "proportions[2] is None"),
    (proportions_not_one, "proportions sum to"),
    (negative_proportion, "proportions[0] is -0.1"),
    (missing_edges, "edges must be a non-empty list"),
    (missing_proportions, "has no field 'proportions'"),
    (prediction_nan_edge, "prediction.edges[0] is nan"),
    (missing_fraction_above_one, "missing_fraction is 1.5"),
    (unknown_kind, "kind is 'ordinal'"),
    (duplicate_category, "holds a category twice"),
])
def test_defective_baseline_is_refused_at_load_naming_the_field(good, defect, field):
    body = json.loads(json.dumps(good))
    defect(body)
    with pytest.raises(drift_stats.BaselineError, match="corrupt baseline") as raised:
        drift_stats.Baseline.from_json(json.dumps(body))
    assert field in str(raised.value)


@pytest.mark.parametrize("defect", [nan_edge, null_proportion, proportions_not_one])
def test_defective_baseline_is_refused_when_written(good, defect):
    body = json.loads(json.dumps(good))
    defect(body)
    baseline = drift_stats.Baseline([drift_stats.FeatureBaseline(**f) for f in body["features"]],
                                    drift_stats.FeatureBaseline(**body["prediction"]), body["row_count"])
    with pytest.raises(drift_stats.BaselineError, match="corrupt baseline"):
        baseline.to_json()


def test_the_build_fails_rather_than_write_a_defective_baseline(monkeypatch):
    train = pd.DataFrame({"amount": np.linspace(1, 100, 200), "channel": ["a", "b"] * 100})
    real = drift_stats.numeric_edges
    monkeypatch.setattr(drift_stats, "numeric_edges", lambda values, bins=10: [*real(values, bins)[:-1], np.nan])
    with pytest.raises(preprocess.DataError, match=r"drift baseline: corrupt baseline: features\[0\] \('amount'\)"):
        preprocess.fit_baseline(train, ["amount", "channel"], {"channel"})


def test_good_baseline_scores_an_unchanged_feature_near_zero(good):
    baseline = drift_stats.Baseline.from_json(json.dumps(good))
    report = drift_detect.detect(baseline, [capture_file(4000, seed=21, drift=0.0, baseline=baseline)])
    assert report["features"]["hour_of_day"]["psi"] < 0.05
