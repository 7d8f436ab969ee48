"""Laws checked on generated inputs (hypothesis): capture records round-trip, drift counts add up over any split
of the rows, and the job spec is a pure function of the model config."""
from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_config.model import ModelConfig
from mlops_constructs.build.job_spec import job_spec, job_spec_json
from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema
from monitoring_code.capture_records import capture_line, csv_row
from pipeline_code.training import drift_stats

MODELS = Path(__file__).resolve().parents[2] / "config" / "models"
FEATURES = ("amount", "hour", "channel")
SCHEMA = CaptureSchema(FEATURES, frozenset({"channel"}), categorical_codes=False)
CATEGORIES = ["atm", "chip", "online", "contact-less", "a b"]
# `make mutation` runs each property test once per mutant, so it lowers the example count (HYPOTHESIS_MAX_EXAMPLES).
PROFILE = settings(max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "60")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
numbers = st.one_of(finite, st.just(math.nan), st.integers(-10**6, 10**6).map(float))
rows = st.lists(st.tuples(numbers, numbers, st.sampled_from(CATEGORIES)), min_size=1, max_size=6)


def _as_written(value: float) -> float:
    """What a client serializer sends: 6 significant digits (``csv_row``); NaN is an empty field."""
    return math.nan if math.isnan(value) else float(f"{value:.6g}")


# --- capture records: encode, then decode, gives the rows back --------------------------------------------------

@PROFILE
@given(records=st.lists(rows, min_size=1, max_size=5), encoding=st.sampled_from(["CSV", "BASE64", "JSON"]),
       scores=st.floats(0, 1))
def test_capture_records_round_trip(records, encoding, scores):
    lines = []
    for payload_rows in records:
        if encoding == "JSON":
            payload = json.dumps([[None if math.isnan(a) else _as_written(a), None if math.isnan(h) else
                                   _as_written(h), c] for a, h, c in payload_rows])
            line = capture_line(payload, "\n".join([f"{scores:.6g}"] * len(payload_rows)), encoding="JSON",
                                content_type="application/json")
        else:
            payload = "\n".join(csv_row(r) for r in payload_rows)
            line = capture_line(payload, "\n".join([f"{scores:.6g}"] * len(payload_rows)), encoding=encoding)
        lines.append(line)
    out = CaptureDecoder(SCHEMA).decode("\n".join(lines) + "\n")
    flat = [r for payload_rows in records for r in payload_rows]
    assert (out.records, out.rows, sum(out.malformed.values())) == (len(records), len(flat), 0)
    np.testing.assert_array_equal(out.columns["amount"], [_as_written(a) for a, _, _ in flat])
    np.testing.assert_array_equal(out.columns["hour"], [_as_written(h) for _, h, _ in flat])
    assert list(out.columns["channel"]) == [c for _, _, c in flat]
    np.testing.assert_array_equal(out.predictions, [float(f"{scores:.6g}")] * len(flat))


# --- drift counts: counting parts and adding equals one pass; adding is associative --------------------------------

values = st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf)), min_size=0, max_size=200)
edges = st.lists(finite, min_size=1, max_size=12).map(lambda e: sorted(set(e)))


def _merge(*parts):
    """Counts of disjoint parts of a window, combined: bin counts and missing counts add."""
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _cuts(n: int):
    return st.tuples(st.integers(0, n), st.integers(0, n)).map(sorted)


@PROFILE
@given(data=st.data(), column=values, bin_edges=edges)
def test_numeric_counts_of_parts_add_up_to_one_pass(data, column, bin_edges):
    column = np.asarray(column, dtype=np.float64)
    i, j = data.draw(_cuts(column.size))
    a, b, c = (drift_stats.numeric_counts(part, bin_edges) for part in (column[:i], column[i:j], column[j:]))
    whole = drift_stats.numeric_counts(column, bin_edges)
    left, right = _merge(_merge(a, b), c), _merge(a, _merge(b, c))
    np.testing.assert_array_equal(left[0], right[0])
    assert left[1] == right[1]
    np.testing.assert_array_equal(left[0], whole[0])
    assert left[1] == whole[1] and whole[0].sum() + whole[1] == column.size


@PROFILE
@given(data=st.data(), columns=st.lists(values, min_size=1, max_size=4), bin_edges=edges)
def test_numeric_counts_many_agrees_with_numeric_counts_over_any_split(data, columns, bin_edges):
    length = min(len(c) for c in columns)
    columns = [np.asarray(c[:length], dtype=np.float64) for c in columns]
    cut = data.draw(st.integers(0, length))
    many = drift_stats.numeric_counts_many(columns, [bin_edges] * len(columns))
    halves = zip(drift_stats.numeric_counts_many([c[:cut] for c in columns], [bin_edges] * len(columns)),
                 drift_stats.numeric_counts_many([c[cut:] for c in columns], [bin_edges] * len(columns)))
    for column, counted, (first, second) in zip(columns, many, halves):
        single = drift_stats.numeric_counts(column, bin_edges)
        np.testing.assert_array_equal(counted[0], single[0])
        assert counted[1] == single[1]
        merged = _merge(first, second)
        np.testing.assert_array_equal(merged[0], single[0])
        assert merged[1] == single[1]


names = st.lists(st.sampled_from(["chip", "atm", "online", "new-one", "", "nan", "None"]), max_size=100)


@PROFILE
@given(data=st.data(), column=names)
def test_categorical_counts_of_parts_add_up_to_one_pass(data, column):
    categories = ["atm", "chip", "online"]
    i, j = data.draw(_cuts(len(column)))
    parts = [drift_stats.categorical_counts(p, categories) for p in (column[:i], column[i:j], column[j:])]
    whole = drift_stats.categorical_counts(column, categories)
    merged = _merge(*parts)
    np.testing.assert_array_equal(merged[0], whole[0])
    assert merged[1] == whole[1] and whole[0].sum() + whole[1] == len(column)


@PROFILE
@given(data=st.data(), codes=st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, 0.5, math.nan]), max_size=100))
def test_categorical_code_counts_of_parts_add_up_and_match_decoded_names(data, codes):
    feature = drift_stats.feature_baseline("channel", ["atm", "chip", "online"], categorical=True)
    codes = np.asarray(codes, dtype=np.float64)
    cut = data.draw(st.integers(0, codes.size))
    whole = drift_stats.categorical_code_counts(feature, codes)
    merged = _merge(drift_stats.categorical_code_counts(feature, codes[:cut]),
                    drift_stats.categorical_code_counts(feature, codes[cut:]))
    np.testing.assert_array_equal(merged[0], whole[0])
    assert merged[1] == whole[1]
    by_name = drift_stats.categorical_counts(drift_stats.decode_codes(feature, codes), feature.categories)
    np.testing.assert_array_equal(whole[0], by_name[0])
    assert whole[1] == by_name[1]


# --- the job spec is a pure function of the config ------------------------------------------------------------------

def _base_config() -> dict:
    return yaml.safe_load((MODELS / "fraud-detection.yaml").read_text())


def _shuffled(value, rng):
    """The same config with every mapping's keys in another order (YAML order carries no meaning)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


variations = st.fixed_dictionaries({
    "threshold": st.sampled_from([0.05, 0.3, 0.5, 0.77]),
    "seed": st.integers(0, 2**31 - 1),
    "num_round": st.integers(1, 1000),
    "floors": st.dictionaries(st.sampled_from(["auc", "recall", "precision", "f1", "accuracy"]),
                              st.sampled_from([0.5, 0.8, 0.9]), min_size=1),
    "categorical": st.permutations(["merchant_category", "channel"]),
    "order": st.integers(0, 2**32 - 1),
})


@PROFILE
@given(variation=variations)
def test_job_spec_is_a_pure_function_of_the_config(variation):
    raw = _base_config()
    raw["quality_gate"]["decision_threshold"] = variation["threshold"]
    raw["quality_gate"]["min_metrics"] = variation["floors"]
    raw["training"]["seed"] = variation["seed"]
    raw["training"]["hyperparameters"]["num_round"] = variation["num_round"]
    raw["data"]["categorical"] = variation["categorical"]
    model = ModelConfig.model_validate(raw)
    before = copy.deepcopy(model.model_dump())
    text = job_spec_json(model)
    # Same config (even with its keys in another order) gives the same bytes; computing it changes nothing.
    reordered = ModelConfig.model_validate(_shuffled(raw, np.random.default_rng(variation["order"])))
    assert job_spec_json(reordered) == text == job_spec_json(model)
    assert model.model_dump() == before
    # And the spec carries the config's values, so different configs give different specs.
    spec = job_spec(model)
    assert spec["decision_threshold"] == variation["threshold"]
    assert spec["gates"]["min_metrics"] == dict(sorted(variation["floors"].items()))
    assert spec["hyperparameters"]["seed"] == str(variation["seed"])
    assert spec["hyperparameters"]["num_round"] == str(variation["num_round"])
    assert spec["categorical"] == sorted(variation["categorical"])
