"""Feature encoding shared by preprocess, evaluate and inference clients.

Numeric features pass through as floats (missing stays NaN, which XGBoost treats as missing). A categorical
feature is encoded as the index of its value in the sorted list of categories seen in training; these are the
same lists as the drift baseline's ``categories``, so ``drift_stats.decode_codes`` reverses the encoding.
A missing category becomes NaN. An unseen category is an error (``EncodingError``, a ``DataError`` naming rule,
column, values and count). The same functions encode at serving time (``pipeline_code.endpoint.serving``, shipped inside
the model artifact), so training and serving cannot drift apart.
"""
from __future__ import annotations

import json
import math
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


class EncodingError(DataError):
    """A value the encoder cannot encode: ``rule`` (``missing_column``, ``unseen_category``, ``non_numeric``),
    the ``column`` and the first offending ``value`` (None for a missing column), for a reply that names them."""

    def __init__(self, message: str, *, rule: str, column: str, value=None) -> None:
        super().__init__(message)
        self.rule, self.column, self.value = rule, column, value


def _is_missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def lookups(encoder: dict) -> dict:
    """Per categorical feature, category name -> code (float); build once per encoder, pass to ``encode_columns``."""
    return {name: {c: float(k) for k, c in enumerate(categories)}
            for name, categories in encoder["categorical"].items()}


def _categorical(column: str, values, table: dict, categories: list) -> list:
    codes = [table.get(v if type(v) is str else str(v)) for v in values]
    if None not in codes:
        return codes
    unseen = []
    for row, value in enumerate(values):
        if codes[row] is None:
            if _is_missing(value):
                codes[row] = math.nan
            else:
                unseen.append(value if type(value) is str else str(value))
    if unseen:
        examples = sorted(set(unseen))[:5]
        raise EncodingError(f"column {column!r}: rule 'known categories': {len(unseen)} value(s) unseen in training "
                            f"{examples}; known categories are {categories}", rule="unseen_category", column=column,
                            value=examples[0])
    return codes


def _numeric(column: str, values):
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values  # already numbers (a numeric pandas column)
    try:
        numbers = list(map(float, values))  # numbers and numeric text: the common case
    except (TypeError, ValueError):  # missing ("" or None) or not a number
        return _numeric_slow(column, values)
    return _numeric_slow(column, values) if bool in set(map(type, values)) else numbers


def _numeric_slow(column: str, values) -> list:
    numbers, bad = [], []
    for value in values:
        if _is_missing(value):
            numbers.append(math.nan)
            continue
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            bad.append(value)
            continue
        if isinstance(value, bool):  # JSON true/false is not a number here
            bad.append(value)
    if bad:
        raise EncodingError(f"column {column!r}: rule 'type numeric': {len(bad)} values are not numbers, "
                            f"e.g. {bad[0]!r}", rule="non_numeric", column=column, value=bad[0])
    return numbers


def encode_columns(columns: dict, encoder: dict, tables: dict | None = None) -> np.ndarray:
    """The model input matrix (float64, features in encoder order) from raw values by feature name.

    Each value is a sequence of equal length. Categorical values are matched as text (``3`` matches ``"3"``);
    ``None``, NaN and ``""`` are missing (NaN). ``tables`` is ``lookups(encoder)``, built here when not given.
    """
    features = encoder["features"]
    missing = [c for c in features if c not in columns]
    if missing:
        raise EncodingError(f"columns {missing} are missing; the model needs {features}",
                            rule="missing_column", column=missing[0])
    tables = lookups(encoder) if tables is None else tables
    encoded = [_categorical(c, columns[c], tables[c], encoder["categorical"][c]) if c in tables
               else _numeric(c, columns[c]) for c in features]
    if not features:
        return np.empty((0, 0), dtype=np.float64)
    # One conversion of every column at once, then row-major (C order) as the model input.
    return np.ascontiguousarray(np.array(encoded, dtype=np.float64).T)


def encode(frame: pd.DataFrame, encoder: dict) -> np.ndarray:
    """The model input matrix (float64, features in encoder order) for a frame of raw feature values."""
    present = [c for c in encoder["features"] if c in frame.columns]
    return encode_columns({c: frame[c].tolist() if c in encoder["categorical"] or frame[c].dtype.kind not in "fiu"
                           else frame[c].to_numpy() for c in present}, encoder)


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
