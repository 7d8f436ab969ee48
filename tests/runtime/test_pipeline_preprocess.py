"""Preprocess: seeded stratified split, encoding fitted on train only, baseline via drift_stats."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mlops_contracts as contracts
from pipeline_code.common import DataError
from pipeline_code.data import encoding, preprocess
from pipeline_code.training import drift_stats
from pipeline_code.training.evaluate import xgb

SPEC = {"label": "y", "positive_class": "yes", "features": "all_but_label", "categorical": ["colour", "band"],
        "protected_attributes": ["band"], "seed": 3, "split": {"train": 0.7, "validation": 0.15, "test": 0.15}}


def dataset(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.normal(50, 10, rows).round(2),
        "colour": rng.choice(["red", "green", "blue"], rows),
        "band": rng.choice(["a", "b"], rows),
        "y": np.where(rng.random(rows) < 0.2, "yes", "no"),
    })


def test_split_is_seeded_stratified_disjoint_and_complete():
    y = preprocess.labels(dataset(), SPEC)
    parts = preprocess.split_indices(y, SPEC)
    again = preprocess.split_indices(y, SPEC)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(len(y)))
    for rows in parts.values():
        assert abs(y[rows].mean() - y.mean()) < 0.03
    other = preprocess.split_indices(y, {**SPEC, "seed": 4})
    assert not np.array_equal(parts["test"], other["test"])


def test_too_few_rows_of_a_class_is_a_clear_error():
    y = np.array([1] * 3 + [0] * 100)
    with pytest.raises(DataError, match="3 positive and 100 negative rows"):
        preprocess.split_indices(y, SPEC)


def test_outputs_follow_the_algorithm_mode_layout(tmp_path):
    data = dataset()
    counts = preprocess.preprocess(data, SPEC, tmp_path)
    train = pd.read_csv(tmp_path / "train" / "train.csv", header=None)
    assert len(train) == counts["train"] and train.shape[1] == 4  # label + band + amount + colour
    assert set(train[0]) == {0, 1}
    test = pd.read_csv(tmp_path / "test" / "test.csv")
    assert list(test.columns) == ["y", "amount", "colour", "band", "protected:band"]
    assert set(test["protected:band"]) == {"a", "b"}
    encoder = encoding.load(tmp_path / "encoder")
    baseline = drift_stats.Baseline.from_json((tmp_path / "baseline" / contracts.BASELINE_FILE).read_text())
    assert baseline.feature_names == encoder["features"] == ["amount", "colour", "band"]
    colour = next(f for f in baseline.features if f.name == "colour")
    assert encoder["categorical"]["colour"] == colour.categories == ["blue", "green", "red"]
    rebuilt = encoding.fit(baseline.feature_names, {f.name: f.categories for f in baseline.features
                                                    if f.kind == "categorical"})
    assert rebuilt == encoder  # clients holding only the package's baseline encode exactly as training did
    decoded = drift_stats.decode_codes(colour, test["colour"].to_numpy())
    original = data.iloc[preprocess.split_indices(preprocess.labels(data, SPEC), SPEC)["test"]]["colour"]
    assert decoded.tolist() == original.tolist()


def test_baseline_is_fitted_on_train_rows_only(tmp_path):
    data = dataset()
    preprocess.preprocess(data, SPEC, tmp_path)
    baseline = json.loads((tmp_path / "baseline" / contracts.BASELINE_FILE).read_text())
    parts = preprocess.split_indices(preprocess.labels(data, SPEC), SPEC)
    assert baseline["row_count"] == len(parts["train"])


def test_category_seen_only_outside_train_is_an_unseen_category_error(tmp_path):
    data = dataset()
    parts = preprocess.split_indices(preprocess.labels(data, SPEC), SPEC)
    data.loc[parts["test"][0], "colour"] = "purple"
    with pytest.raises(DataError, match=r"column 'colour': rule 'known categories': 1 value\(s\) unseen .*purple"):
        preprocess.preprocess(data, SPEC, tmp_path)
    assert not (tmp_path / "train").exists()


def test_encoding_keeps_missing_values_missing():
    encoder = encoding.fit(["amount", "colour"], {"colour": ["blue", "red"]})
    matrix = encoding.encode(pd.DataFrame({"amount": [1.5, None], "colour": ["red", None]}), encoder)
    assert matrix[0].tolist() == [1.5, 1.0]
    assert np.isnan(matrix[1]).all()


def test_low_cardinality_numeric_features_get_one_bin_per_value():
    flags = np.array([0.0] * 97 + [1.0] * 3)
    assert drift_stats.numeric_edges(flags) == [0.5]
    feature = drift_stats.feature_baseline("is_foreign", flags, categorical=False)
    counts, _ = feature.counts(np.array([0.0] * 70 + [1.0] * 30))
    assert drift_stats.compare(feature, counts)["psi"] > 0.5


@pytest.mark.filterwarnings("ignore:.*Text file input has been deprecated")  # the 1.7 image still reads it
def test_missing_values_reach_xgboost_as_missing_through_its_native_csv_reader(tmp_path):
    data = dataset()
    data.loc[data.index[::7], "amount"] = None
    preprocess.preprocess(data, SPEC, tmp_path)
    path = tmp_path / "train" / "train.csv"
    native = xgb.DMatrix(f"{path}?format=csv&label_column=0")  # how the built-in container reads it
    table = pd.read_csv(path, header=None)
    assert native.num_row() == len(table)
    assert native.num_nonmissing() == int(table.iloc[:, 1:].notna().to_numpy().sum())
    assert table[1].isna().sum() > 0
