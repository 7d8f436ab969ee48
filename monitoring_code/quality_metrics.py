"""Model quality on a window: ground-truth labels joined to captured predictions by inference ID.

Ground truth uses SageMaker's format, one JSON line per label, partitioned by the hour of the inference:
``{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<inference id>"},
"eventVersion": "0"}``; ``{"inferenceId": "...", "label": "1"}`` is accepted too. Bad lines are counted.
"""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score


def parse_labels(data: bytes | str, malformed: Counter) -> dict[str, str]:
    """Inference ID → label from one ground-truth file; bad lines are counted in ``malformed``."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    labels = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if "groundTruthData" in record:
                labels[str(record["eventMetadata"]["eventId"])] = str(record["groundTruthData"]["data"]).strip()
            else:
                labels[str(record["inferenceId"])] = str(record["label"]).strip()
        except (ValueError, KeyError, TypeError):
            malformed["bad_label"] += 1
    return labels


def join(scored: list[tuple[str, float]], labels: dict[str, str], positive_class: str) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, score) for the predictions that have a label."""
    pairs = [(labels[i] == positive_class, score) for i, score in scored if i in labels]
    if not pairs:
        return np.zeros(0, dtype=bool), np.zeros(0)
    truth, scores = zip(*pairs)
    return np.asarray(truth, dtype=bool), np.asarray(scores, dtype=np.float64)


def quality(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """auc, recall, precision, f1 and accuracy at ``threshold`` (auc is None when only one class is present)."""
    predicted = scores >= threshold
    both_classes = 0 < y_true.sum() < y_true.size
    return {
        "auc": float(roc_auc_score(y_true, scores)) if both_classes else None,
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(y_true, predicted)),
    }
