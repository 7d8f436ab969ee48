"""Validate step: check a batch against the model's schema and record the data version.

``python3 -m pipeline_code.data.validate --spec S --input DIR --output DIR [--s3-versions FILE]``

Checks every ``*.csv`` under ``--input``: the label is present with exactly two classes (the positive class and
one other); feature columns exist; numeric features hold numbers; null rates stay within ``max_null_fraction``
(an all-null column is always an error); optional per-column rules (type, min, max, allowed categories). All
violations are reported together, each naming column, rule and counts; then the step exits 2.
On success it writes ``OUTPUT/data_version.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_contracts import DATA_VERSION_FILE
from pipeline_code.common import (
    DataError,
    csv_files,
    env_json,
    feature_columns,
    load_spec,
    read_batch,
    run_cli,
    write_json,
)

S3_VERSIONS_ENV = "MLOPS_S3_VERSIONS"  # optional JSON {key: version id}, set by the pipeline when known


def _examples(values) -> str:
    return ", ".join(repr(v) for v in list(dict.fromkeys(values))[:3])


def _label_problems(frame: pd.DataFrame, spec: dict) -> list:
    label, positive = spec["label"], str(spec["positive_class"])
    if label not in frame.columns:
        return [f"column {label!r}: rule 'label present': missing; columns are {list(frame.columns)}"]
    values = frame[label]
    problems = []
    nulls = int(values.isna().sum())
    if nulls:
        problems.append(f"column {label!r}: rule 'label not null': {nulls} of {len(values)} rows are null")
    classes = sorted(values.dropna().unique().tolist())
    if len(classes) > 2:
        problems.append(f"column {label!r}: rule 'binary label': {len(classes)} classes {classes[:5]}; allowed 2")
    elif positive not in classes or len(classes) < 2:
        counts = values.value_counts().to_dict()
        problems.append(f"column {label!r}: rule 'both classes': needs positive class {positive!r} and one other; "
                        f"found counts {counts}")
    return problems


def _numeric_problems(column: str, values: pd.Series, rule: dict) -> list:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        kind = rule.get("type", "numeric")
        message = (f"column {column!r}: rule 'type {kind}': {int(bad.sum())} of {len(values)} values are not "
                   f"numbers (e.g. {_examples(values[bad])})")
        return [message]
    problems = []
    present = numbers.dropna()
    if rule.get("type") == "integer" and not np.all(np.mod(present, 1) == 0):
        count = int((np.mod(present, 1) != 0).sum())
        problems.append(f"column {column!r}: rule 'type integer': {count} values are not whole numbers")
    for bound, test in (("min", present < rule.get("min", -np.inf)), ("max", present > rule.get("max", np.inf))):
        if test.any():
            problems.append(f"column {column!r}: rule '{bound} {rule[bound]:g}': {int(test.sum())} of {len(values)} "
                            f"values outside (e.g. {_examples(present[test])})")
    return problems


def _allowed_problems(column: str, values: pd.Series, allowed: list) -> list:
    outside = values.notna() & ~values.astype(str).isin([str(a) for a in allowed])
    if not outside.any():
        return []
    message = (f"column {column!r}: rule 'allowed categories': {int(outside.sum())} of {len(values)} values not in "
               f"{list(allowed)} (e.g. {_examples(values[outside])})")
    return [message]


def check(frame: pd.DataFrame, spec: dict) -> list:
    """Every violation of the spec in a batch, as messages naming column, rule and counts (empty = valid)."""
    problems = _label_problems(frame, spec)
    features = feature_columns(spec, frame.columns)
    wanted = list(dict.fromkeys(features + list(spec.get("protected_attributes", []))))
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        problems.append(f"columns {missing}: rule 'columns present': missing; columns are {list(frame.columns)}")
    limit = float(spec.get("max_null_fraction", 0.0))
    rules = spec.get("columns") or {}
    for column in [c for c in wanted if c in frame.columns]:
        values = frame[column]
        nulls = int(values.isna().sum())
        if nulls == len(values):
            problems.append(f"column {column!r}: rule 'not all null': all {nulls} values are null")
            continue
        if column in features and nulls / len(values) > limit:
            problems.append(f"column {column!r}: rule 'max_null_fraction {limit:g}': {nulls} of {len(values)} "
                            f"values are null ({nulls / len(values):.4f})")
        rule = rules.get(column, {})
        categorical = column in spec["categorical"] or rule.get("type") == "categorical"
        if not categorical and (column in features or rule):
            problems += _numeric_problems(column, values, rule)
        if rule.get("allowed"):
            problems += _allowed_problems(column, values, rule["allowed"])
    return problems


def data_version(directory, s3_versions: dict | None = None) -> dict:
    """Manifest hash of the inputs: SHA-256 over sorted (relative path, SHA-256 of content) pairs."""
    directory = Path(directory)
    files = []
    for path in csv_files(directory):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        files.append({"path": path.relative_to(directory).as_posix(), "sha256": digest.hexdigest()})
    manifest = "\n".join(f"{f['path']}\t{f['sha256']}" for f in files)
    version = {"data_version": hashlib.sha256(manifest.encode()).hexdigest(), "files": files}
    if s3_versions:
        version["s3_versions"] = dict(sorted(s3_versions.items()))
    return version


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline_code.data.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--s3-versions", help="JSON file {key: version id}; default: $" + S3_VERSIONS_ENV)
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    frame = read_batch(args.input, spec)
    problems = check(frame, spec)
    if problems:
        raise DataError(f"{len(problems)} validation problem(s):\n  " + "\n  ".join(problems))
    versions = json.loads(Path(args.s3_versions).read_text()) if args.s3_versions else None
    if versions is None:
        versions = env_json(S3_VERSIONS_ENV)
    record = data_version(args.input, versions)
    record["rows"] = len(frame)
    write_json(Path(args.output) / DATA_VERSION_FILE, record)
    print(f"validate: {len(frame)} rows valid; data version {record['data_version'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
