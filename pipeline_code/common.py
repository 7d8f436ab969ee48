"""What every build step shares: the job spec, reading CSV batches, writing JSON, and the data error."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

EXIT_BAD_INPUT = 2
PROTECTED_PREFIX = "protected:"  # test.csv carries raw protected attributes under this prefix


class DataError(ValueError):
    """Bad input data or arguments: the step stops with exit code 2 and this message, no traceback."""


def load_spec(path) -> dict:
    """Read the job spec written by ``mlops_constructs.build.job_spec``."""
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read job spec {path}: {exc}") from None
    missing = [k for k in ("label", "positive_class", "features", "categorical", "seed") if k not in spec]
    if missing:
        raise DataError(f"job spec {path} lacks {missing}")
    return spec


def feature_columns(spec: dict, header) -> list:
    """Feature columns in model order; 'all_but_label' means every column but the label, in file order."""
    if spec["features"] == "all_but_label":
        return [c for c in header if c != spec["label"]]
    return list(spec["features"])


def string_columns(spec: dict) -> list:
    """Columns read as text: categoricals, protected attributes and the label."""
    return sorted(set(spec["categorical"]) | set(spec.get("protected_attributes", [])) | {spec["label"]})


def csv_files(directory) -> list:
    """All ``*.csv`` under a directory (recursively), in sorted relative-path order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"input directory {directory} does not exist")
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(f"no *.csv files under {directory}")
    return files


# pandas < 3 parses some decimals to a neighbouring float by default (237.04511397747197 -> 237.045113977472);
# "round_trip" parses every one exactly. pandas 3 parses exactly by default and deprecates the option.
EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def read_batch(directory, spec: dict) -> pd.DataFrame:
    """Concatenate every CSV under a directory; categoricals, protected attributes and label as text."""
    frames = []
    for path in csv_files(directory):
        if path.stat().st_size == 0:
            raise DataError(f"{path.name}: empty file (no header, no rows)")
        try:
            frame = pd.read_csv(path, dtype={c: str for c in string_columns(spec)}, low_memory=False, **EXACT_FLOATS)
        except pd.errors.EmptyDataError:
            raise DataError(f"{path.name}: empty file (no header, no rows)") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"{path.name}: not a readable CSV: {exc}") from None
        if frame.empty:
            raise DataError(f"{path.name}: has a header but no rows")
        frames.append(frame)
    headers = {tuple(f.columns) for f in frames}
    if len(headers) > 1:
        raise DataError(f"CSV files disagree on columns: {sorted(headers)}")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def write_json(path, body) -> None:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, sort_keys=True, indent=2, allow_nan=True) + "\n")


def run_cli(main, argv=None) -> int:
    """Run a step's ``main``; bad input becomes exit 2 with a one-line message on stderr."""
    try:
        return int(main(argv) or 0)
    except DataError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def env_json(name: str):
    """A JSON value from an environment variable, or None (used only by thin ``__main__`` wrappers)."""
    raw = os.environ.get(name)
    return json.loads(raw) if raw else None
