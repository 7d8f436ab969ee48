"""Preprocess step: seeded stratified split, encoding fitted on train, drift baseline.

``python3 -m pipeline_code.data.preprocess --spec S --input DIR --output DIR``

Writes under ``--output``:
- ``train/train.csv``, ``validation/validation.csv``: label (0/1) first, then encoded features, no header
  (the CSV layout of SageMaker's built-in XGBoost in algorithm mode);
- ``test/test.csv``: header; label, encoded features, and each protected attribute's raw value as
  ``protected:<name>``;
- ``encoder/encoder.json``: the encoding (``pipeline_code.data.encoding``) for evaluation and inference;
- ``baseline/baseline.json``: the drift baseline of the raw training features (``pipeline_code.training.drift_stats``).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlops_contracts import BASELINE_FILE
from pipeline_code.common import PROTECTED_PREFIX, DataError, feature_columns, load_spec, read_batch, run_cli
from pipeline_code.data import encoding
from pipeline_code.training import drift_stats

MIN_ROWS_PER_CLASS = 10  # each split must see both classes


def labels(frame: pd.DataFrame, spec: dict) -> np.ndarray:
    """1 where the label equals the positive class, else 0."""
    return (frame[spec["label"]].astype(str) == str(spec["positive_class"])).to_numpy(dtype=np.int64)


def split_indices(y: np.ndarray, spec: dict) -> dict:
    """Row indices of train/validation/test: stratified on the label, seeded, sorted (deterministic)."""
    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_ROWS_PER_CLASS:
        raise DataError(f"label: rule 'rows per class': {counts[1]} positive and {counts[0]} negative rows; the "
                        f"stratified split needs at least {MIN_ROWS_PER_CLASS} of each")
    shares = spec.get("split", {"train": 0.7, "validation": 0.15, "test": 0.15})
    rows = np.arange(len(y))
    held = shares["validation"] + shares["test"]
    train, rest = train_test_split(rows, test_size=held, stratify=y, random_state=spec["seed"])
    validation, test = train_test_split(rest, test_size=shares["test"] / held, stratify=y[rest],
                                        random_state=spec["seed"])
    return {"train": np.sort(train), "validation": np.sort(validation), "test": np.sort(test)}


def fit_baseline(train: pd.DataFrame, features: list, categorical: set) -> drift_stats.Baseline:
    """Drift baseline of the raw training features, via the one shared implementation."""
    columns = {}
    for name in features:
        values = train[name]
        columns[name] = values.astype(object).where(values.notna(), "") if name in categorical \
            else pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return drift_stats.build_baseline(columns, categorical)
    except drift_stats.BaselineError as exc:
        raise DataError(f"drift baseline: {exc}") from None


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number float columns (codes, counts, flags) as integers: same values, and ints format ~4x faster."""
    columns = {}
    for name, values in frame.items():
        if values.dtype.kind == "f":
            finite = values.to_numpy()[np.isfinite(values.to_numpy())]
            if np.array_equal(finite, np.round(finite)) and np.all(np.abs(finite) < 2 ** 53):
                values = values.astype("Int64") if len(finite) < len(values) else values.astype(np.int64)
        columns[name] = values
    return pd.DataFrame(columns)


def _float_text(values: pd.Series) -> pd.Series:
    """Floats as Python's shortest round-trip text (``repr``), missing as ``nan``: the same bytes under every
    pandas version (pandas 1.2 and 3.1 write some floats with different digits) and exactly the float."""
    return pd.Series(["nan" if math.isnan(v) else repr(float(v)) for v in values.to_numpy()], index=values.index,
                     dtype=object)


def _write_csv(path: Path, frame: pd.DataFrame, header: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Missing values as "nan": XGBoost's native CSV reader (the built-in container's) and pandas both read NaN,
    # XGBoost's missing value; no lineterminator= because the images run older pandas.
    compact = _compact(frame)
    text = pd.DataFrame({name: _float_text(values) if values.dtype.kind == "f" else values
                         for name, values in compact.items()})
    text.to_csv(path, header=header, index=False, na_rep="nan")


def preprocess(frame: pd.DataFrame, spec: dict, output) -> dict:
    """Split, fit encoding and baseline on train, write all outputs; returns the row counts per split."""
    output = Path(output)
    features = feature_columns(spec, frame.columns)
    categorical = set(spec["categorical"])
    y = labels(frame, spec)
    parts = split_indices(y, spec)
    train = frame.iloc[parts["train"]]
    baseline = fit_baseline(train, features, categorical)
    encoder = encoding.fit(features, {f.name: f.categories for f in baseline.features if f.kind == "categorical"})
    encoded = {}
    for name, rows in parts.items():
        matrix = encoding.encode(frame.iloc[rows], encoder)  # unseen categories in validation/test: DataError
        table = pd.DataFrame(matrix, columns=features)
        table.insert(0, spec["label"], y[rows])
        encoded[name] = table
    _write_csv(output / "train" / "train.csv", encoded["train"], header=False)
    _write_csv(output / "validation" / "validation.csv", encoded["validation"], header=False)
    test = encoded["test"]
    for attribute in spec.get("protected_attributes", []):
        test[PROTECTED_PREFIX + attribute] = frame[attribute].iloc[parts["test"]].astype(str).to_numpy()
    _write_csv(output / "test" / "test.csv", test, header=True)
    encoding.save(encoder, output / "encoder")
    (output / "baseline").mkdir(parents=True, exist_ok=True)
    (output / "baseline" / BASELINE_FILE).write_text(baseline.to_json())
    return {name: len(rows) for name, rows in parts.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline_code.data.preprocess", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    frame = read_batch(args.input, spec)
    if spec["label"] not in frame.columns:
        raise DataError(f"column {spec['label']!r}: rule 'label present': missing")
    counts = preprocess(frame, spec, args.output)
    print(f"preprocess: train {counts['train']}, validation {counts['validation']}, test {counts['test']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
