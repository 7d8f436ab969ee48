"""Window quality at its edges: labels from bytes that are not clean UTF-8, a blank line mid-file, a window without
predicted positives (metrics 0, no warnings), a single positive (AUC defined), all positives (AUC undefined)."""
from __future__ import annotations

import json
import warnings
from collections import Counter

import numpy as np
import pytest

from monitoring_code.quality_metrics import join, parse_labels, quality


def _label(event_id: str, label: str) -> str:
    return json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id},
                       "eventVersion": "0"})


def test_a_stray_byte_in_a_label_file_costs_one_character_not_the_line():
    data = (_label("a\x00", "1").replace("\\u0000", "\udcff") + "\n").encode("utf-8", "surrogateescape")
    data += b"\n" + _label("b", "0").encode() + b"\n"  # a blank line mid-file, then more labels
    malformed = Counter()
    assert parse_labels(data, malformed) == {"a\ufffd": "1", "b": "0"}
    assert malformed == Counter()


def test_join_keeps_labelled_predictions_as_bool_truth_and_float_scores():
    truth, scores = join([("a", 1), ("b", 0), ("c", 1)], {"a": "1", "c": "0"}, positive_class="1")
    assert truth.dtype == np.bool_ and scores.dtype == np.float64
    assert truth.tolist() == [True, False] and scores.tolist() == [1.0, 1.0]
    empty_truth, empty_scores = join([("a", 0.5)], {}, positive_class="1")
    assert (empty_truth.dtype, empty_truth.size, empty_scores.dtype, empty_scores.size) == (np.bool_, 0, np.float64, 0)


def test_a_window_without_predicted_positives_scores_zero_silently():
    y = np.array([True, False, False])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns when zero_division is left to its default
        metrics = quality(y, np.array([0.1, 0.2, 0.3]), threshold=0.5)
        assert (metrics["recall"], metrics["precision"], metrics["f1"]) == (0.0, 0.0, 0.0)
        none_positive = quality(np.array([False, False]), np.array([0.9, 0.1]), threshold=0.5)
        assert (none_positive["recall"], none_positive["precision"]) == (0.0, 0.0)
        nothing_either_way = quality(np.array([False, False]), np.array([0.1, 0.2]), threshold=0.5)
        assert (nothing_either_way["f1"], nothing_either_way["accuracy"]) == (0.0, 1.0)


def test_auc_needs_both_classes_and_one_positive_is_enough():
    one_positive = quality(np.array([True, False, False]), np.array([0.9, 0.2, 0.1]), threshold=0.5)
    assert one_positive["auc"] == 1.0
    all_positive = quality(np.array([True, True]), np.array([0.9, 0.2]), threshold=0.5)
    assert all_positive["auc"] is None and all_positive["recall"] == pytest.approx(0.5)
