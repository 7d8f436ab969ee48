"""Feature encoding shared by preprocess, evaluate and inference clients.

Numeric features pass through as floats (missing stays NaN, which XGBoost treats as missing). A categorical
feature is encoded as the index of its value in the sorted list of categories seen in training; these are the
same lists as the drift baseline's ``categories``, so ``drift_stats.decode_codes`` reverses the encoding.
A missing category becomes NaN. An unseen category is an error (``DataError`` naming column, values and count):
the built-in XGBoost container cannot reject it, so clients must encode with ``encoder.json`` and fail loudly.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_code.common import DataError

ENCODER_FILE = "encoder.json"
ENCODER_VERSION = 1


def fit(features: list, categories: dict) -> dict:
    """An encoder from the feature order and each categorical feature's training categories."""
    return {"version": ENCODER_VERSION, "features": list(features),
            "categorical": {name: list(categories[name]) for name in sorted(categories)}, "unseen": "error"}


def encode(frame: pd.DataFrame, encoder: dict) -> np.ndarray:
    """The model input matrix (float64, features in encoder order) for a frame of raw feature values."""
    missing = [c for c in encoder["features"] if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} are missing; the model needs {encoder['features']}")
    matrix = np.empty((len(frame), len(encoder["features"])), dtype=np.float64)
    for i, column in enumerate(encoder["features"]):
        values = frame[column]
        if column in encoder["categorical"]:
            categories = encoder["categorical"][column]
            present = values.notna().to_numpy()
            codes = np.full(len(values), np.nan)
            codes[present] = values[present].astype(str).map({c: float(k) for k, c in enumerate(categories)})
            unseen = present & np.isnan(codes)
            if unseen.any():
                examples = sorted(set(values[unseen].astype(str)))[:5]
                raise DataError(f"column {column!r}: rule 'known categories': {int(unseen.sum())} value(s) unseen in "
                                f"training {examples}; known categories are {categories}")
            matrix[:, i] = codes
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & numbers.isna()
            if bad.any():
                raise DataError(f"column {column!r}: rule 'type numeric': {int(bad.sum())} values are not numbers")
            matrix[:, i] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return matrix


def save(encoder: dict, directory) -> Path:
    path = Path(directory) / ENCODER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(encoder, sort_keys=True, indent=2) + "\n")
    return path


def load(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / ENCODER_FILE
    try:
        encoder = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read encoder {path}: {exc}") from None
    if encoder.get("version") != ENCODER_VERSION:
        raise DataError(f"encoder {path} has version {encoder.get('version')!r}, expected {ENCODER_VERSION}")
    return encoder
