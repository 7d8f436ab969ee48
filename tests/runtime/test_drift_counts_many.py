"""numeric_counts_many (the detector's vectorized binning) gives exactly numeric_counts' results."""
import numpy as np
import pytest

from pipeline_code.training import drift_stats


def _one_by_one(columns, edges):
    return [drift_stats.numeric_counts(c, e) for c, e in zip(columns, edges)]


def _assert_same(got, want):
    assert len(got) == len(want)
    for (counts, missing), (expected_counts, expected_missing) in zip(got, want):
        assert counts.dtype == np.int64
        assert counts.tolist() == expected_counts.tolist()
        assert missing == expected_missing


def test_values_on_edges_missing_and_infinite_values_bin_as_searchsorted_does():
    values = np.array([-np.inf, -2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 1.5, np.inf, np.nan, 3.0])
    edges = [-1.0, 0.0, 1.0]
    (counts, missing), = drift_stats.numeric_counts_many([values], [edges])
    # a value equal to an edge goes to the bin above it (side="right"); +-inf and NaN are missing
    assert counts.tolist() == [1, 1, 3, 3]
    assert missing == 3
    _assert_same([(counts, missing)], _one_by_one([values], [edges]))


@pytest.mark.parametrize("seed", range(20))
def test_random_columns_and_edges_match_numeric_counts(seed):
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(0, 2000))
    columns, edges = [], []
    for _ in range(int(rng.integers(1, 6))):
        values = rng.normal(size=rows).round(1)  # rounding puts many values exactly on edges
        holes = rng.random(rows) < 0.05
        values[holes] = rng.choice([np.nan, np.inf, -np.inf], size=int(holes.sum()))
        columns.append(values)
        edges.append(np.unique(rng.normal(size=int(rng.integers(0, 12))).round(1)).tolist())
    _assert_same(drift_stats.numeric_counts_many(columns, edges), _one_by_one(columns, edges))


def test_unsorted_or_nan_edges_fall_back_to_numeric_counts():
    values = np.array([0.1, 0.6, 2.0, -3.0])
    edges = [[1.0, 0.5], [np.nan, 0.5]]
    _assert_same(drift_stats.numeric_counts_many([values, values], edges), _one_by_one([values, values], edges))


def test_columns_longer_than_one_chunk():
    values = np.arange(drift_stats._CHUNK_ROWS * 2 + 7, dtype=np.float64)
    values[::5] = np.nan
    _assert_same(drift_stats.numeric_counts_many([values, -values], [[10.0, 1e5], [-50.0]]),
                 _one_by_one([values, -values], [[10.0, 1e5], [-50.0]]))


def test_no_columns_and_no_rows():
    assert drift_stats.numeric_counts_many([], []) == []
    (counts, missing), = drift_stats.numeric_counts_many([np.array([])], [[0.0, 1.0]])
    assert counts.tolist() == [0, 0, 0] and missing == 0
