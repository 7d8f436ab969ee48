"""The drift detector's logic, shared by the Lambda and ``mlops drift``: capture files in, a verdict out.

``DriftWindow`` adds up bin counts file by file (memory stays flat however large the window), then ``report``
scores every feature and the prediction distribution against the baseline with ``drift_stats.compare``.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from pipeline_code import drift_stats
from pipeline_code.capture_decode import CaptureDecoder, CaptureSchema, DecodedCapture

VERDICT_DRIFT = "drift"
VERDICT_NO_DRIFT = "no_drift"
VERDICT_INSUFFICIENT = "insufficient_samples"


class DriftWindow:
    """Bin counts of one window of captured traffic against one baseline.

    Props:
        baseline: the training baseline (required).
        max_record_bytes: capture lines above this size are skipped; default ``capture_decode.MAX_RECORD_BYTES``.
        categorical_codes: categorical features arrive as model-input codes (``pipeline_code.encoding``), not
            names; default True.
    """

    def __init__(self, baseline: drift_stats.Baseline, *, max_record_bytes: int | None = None,
                 categorical_codes: bool = True) -> None:
        self.baseline = baseline
        kwargs = {"max_record_bytes": max_record_bytes} if max_record_bytes else {}
        schema = CaptureSchema.from_baseline(baseline, categorical_codes=categorical_codes)
        self.decoder = CaptureDecoder(schema, **kwargs)
        self.counts = {f.name: np.zeros(len(f.proportions), dtype=np.int64) for f in baseline.features}
        self.missing = Counter()
        pred = baseline.prediction
        self.prediction_counts = np.zeros(len(pred.proportions), dtype=np.int64) if pred else None
        self.records = 0
        self.rows = 0
        self.files = 0
        self.malformed: Counter = Counter()

    def add_file(self, data: bytes | str) -> DecodedCapture:
        """Decode one capture file and add its counts."""
        decoded = self.decoder.decode(data)
        self.add(decoded)
        return decoded

    def add(self, decoded: DecodedCapture) -> None:
        self.files += 1
        self.records += decoded.records
        self.rows += decoded.rows
        self.malformed.update(decoded.malformed)
        numeric = [f for f in self.baseline.features if f.kind == "numeric"]
        binned = dict(zip((f.name for f in numeric), drift_stats.numeric_counts_many(
            [decoded.columns[f.name] for f in numeric], [f.edges for f in numeric])))
        for feature in self.baseline.features:
            values = decoded.columns[feature.name]
            if feature.name in binned:
                counts, missing = binned[feature.name]
            elif feature.kind == "categorical" and values.dtype.kind == "f":  # model-input codes
                counts, missing = drift_stats.categorical_code_counts(feature, values)
            else:
                counts, missing = feature.counts(values)
            self.counts[feature.name] += counts
            self.missing[feature.name] += missing
        if self.prediction_counts is not None and decoded.predictions.size:
            counts, _ = self.baseline.prediction.counts(decoded.predictions)
            self.prediction_counts += counts

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def report(self, *, metric: str = "psi", threshold: float = 0.2, min_samples: int = 500) -> dict:
        """Scores per feature and overall. Fewer than ``min_samples`` rows give no verdict and no scores."""
        if metric not in drift_stats.SCORERS:
            raise ValueError(f"unknown drift metric {metric!r}; known metrics are {sorted(drift_stats.SCORERS)}")
        body = {
            "files": self.files,
            "records": self.records,
            "rows": self.rows,
            "malformed_records": self.malformed_total,
            "malformed_by_reason": dict(sorted(self.malformed.items())),
            "metric": metric,
            "threshold": threshold,
            "min_samples": min_samples,
        }
        if self.rows < min_samples:
            return {**body, "verdict": VERDICT_INSUFFICIENT, "drift_score": None, "drifted_features": [],
                    "features": {}, "prediction": None}
        features = {f.name: _score(f, self.counts[f.name], self.missing[f.name], metric, threshold)
                    for f in self.baseline.features}
        prediction = None
        if self.prediction_counts is not None and self.prediction_counts.sum():
            prediction = _score(self.baseline.prediction, self.prediction_counts, 0, metric, threshold)
        drifted = [name for name, f in features.items() if f["drifted"]]
        scores = [f["score"] for f in features.values() if f["score"] is not None]
        return {**body, "verdict": VERDICT_DRIFT if drifted else VERDICT_NO_DRIFT,
                "drift_score": max(scores) if scores else None, "drifted_features": drifted,
                "features": features, "prediction": prediction}


def _score(feature: drift_stats.FeatureBaseline, counts: np.ndarray, missing: int, metric: str,
           threshold: float) -> dict:
    scores = drift_stats.compare(feature, counts)
    score = scores[metric]
    total = int(counts.sum()) + missing
    return {"kind": feature.kind, **{k: _finite(v) for k, v in scores.items()}, "score": _finite(score),
            "drifted": bool(score > threshold), "count": int(counts.sum()),
            "missing_fraction": missing / total if total else 0.0}


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def detect(baseline: drift_stats.Baseline, files, *, metric: str = "psi", threshold: float = 0.2,
           min_samples: int = 500, categorical_codes: bool = True) -> dict:
    """Run the detector over an iterable of capture-file contents (bytes or str)."""
    window = DriftWindow(baseline, categorical_codes=categorical_codes)
    for data in files:
        window.add_file(data)
    return window.report(metric=metric, threshold=threshold, min_samples=min_samples)
