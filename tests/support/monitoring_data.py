"""Real-looking monitoring data: synthetic transactions (issue 3's generator), encoded as clients send them,
wrapped in SageMaker's data-capture format, and the drift baseline the build fits on the training frame."""
from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring_code.capture_records import capture_line, csv_row
from pipeline_code.data import encoding
from pipeline_code.training import drift_stats
from tooling_code.synthetic import transactions

FEATURES = list(transactions.FEATURES)
CATEGORICAL = {"merchant_category", "channel"}


def scores(frame: pd.DataFrame) -> np.ndarray:
    """A stand-in model: a deterministic score from the amount ratio and distance."""
    z = 0.8 * np.log(frame["amount_to_avg_ratio"].to_numpy()) + 0.0004 * frame["distance_from_home_km"].fillna(0).to_numpy()
    return 1.0 / (1.0 + np.exp(2.0 - z))


def fraud_baseline(rows: int = 20_000, seed: int = 1) -> drift_stats.Baseline:
    frame = transactions.generate(rows, seed=seed)
    columns = {name: frame[name].to_numpy() for name in FEATURES}
    return drift_stats.build_baseline(columns, CATEGORICAL, predictions=scores(frame))


def encoder_for(baseline: drift_stats.Baseline) -> dict:
    return encoding.fit(FEATURES, {f.name: f.categories for f in baseline.features if f.kind == "categorical"})


def capture_lines(frame: pd.DataFrame, encoder: dict, *, rows_per_record: int = 1, start_id: int = 0,
                  raw: bool = False) -> list[str]:
    """Capture records of a frame, as an encoded CSV payload per record (multi-row when rows_per_record > 1);
    ``raw``: the raw records clients send the served model (category names), as capture now holds them."""
    matrix = frame[encoder["features"]].to_numpy(dtype=object) if raw else encoding.encode(frame, encoder)
    predicted = scores(frame)
    lines = []
    for start in range(0, len(frame), rows_per_record):
        block = range(start, min(start + rows_per_record, len(frame)))
        payload = "\n".join(csv_row([v if raw and isinstance(v, str) else float(v) for v in matrix[i]])
                             for i in block)
        output = "\n".join(f"{predicted[i]:.6f}" for i in block)
        lines.append(capture_line(payload, output, inference_id=str(start_id + start)))
    return lines


def capture_file(rows: int, *, seed: int, drift: float, baseline: drift_stats.Baseline,
                 rows_per_record: int = 1, raw: bool = False) -> str:
    frame = transactions.generate(rows, seed=seed, drift=drift)
    return "\n".join(capture_lines(frame, encoder_for(baseline), rows_per_record=rows_per_record, raw=raw)) + "\n"
