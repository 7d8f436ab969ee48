"""``mlops validate --data FILE.csv``: a model config checked against a data sample.

Structural checks use the standard library: every column the config names (label, features, categoricals,
protected attributes, per-column rules) must exist, header names must not carry stray whitespace, and text
feature columns must be categorical. With the ``ml`` extra installed, the pipeline's own validate step
(``pipeline_code.data.validate.check``) then checks every value: types, ranges, categories and null fractions.
"""
from __future__ import annotations

from pathlib import Path

from mlops_cli.data_sample import NA_STRINGS, Sample

VALUE_CHECKS_NEED = "value checks (types, ranges, categories, nulls) skipped: pip install -e '.[ml]' to run them"


def structural_problems(model, model_file: Path, sample: Sample) -> list[str]:
    """Every column the config names but the sample lacks, and header whitespace, as ``file: field = value: rule``."""
    header = set(sample.header)
    data = model.data
    where = f"{model_file}: data"
    problems = []
    for name in sample.padded_columns:
        hint = f"; the config names {name.strip()!r}, which therefore matches no column" if name.strip() in (
            _named_columns(model)) else ""
        problems.append(f"{sample.path}: header {name!r} has stray whitespace: the pipeline matches names exactly"
                        f"{hint}")
    if data.label not in header:
        problems.append(f"{where}.label = {data.label!r}: no such column in {sample.path}")
    if isinstance(data.features, list):
        missing = [c for c in data.features if c not in header]
        if missing:
            problems.append(f"{where}.features: {missing} are not columns of {sample.path}")
    for field in ("categorical", "protected_attributes"):
        missing = [c for c in getattr(data, field) if c not in header]
        if missing:
            problems.append(f"{where}.{field}: {missing} are not columns of {sample.path}")
    for column in sorted(data.columns or {}):
        if column not in header:
            problems.append(f"{where}.columns.{column}: a rule for a column that {sample.path} does not have")
    strings = set(data.categorical) | set(data.protected_attributes)
    for column in model.feature_columns(sample.header):
        if column in header and column not in strings:
            text = [v for v in sample.column(column) if v not in NA_STRINGS and not _is_number(v)]
            if text:
                problems.append(f"{where}.categorical: feature {column!r} holds text (e.g. {text[0]!r}); list it "
                                "in data.categorical or drop it from data.features")
    return problems


def _named_columns(model) -> set[str]:
    data = model.data
    named = {data.label, *data.categorical, *data.protected_attributes, *(data.columns or {})}
    return named | (set(data.features) if isinstance(data.features, list) else set())


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def value_problems(model, data_file: Path) -> list[str] | None:
    """The pipeline validate step's own findings on the file; None when its dependencies are not installed."""
    try:
        from pipeline_code.common import read_batch
        from pipeline_code.data.validate import check
    except ModuleNotFoundError:
        return None
    import tempfile

    from mlops_constructs.build.job_spec import job_spec

    spec = job_spec(model)
    with tempfile.TemporaryDirectory(prefix="mlops-validate-") as directory:
        (Path(directory) / "sample.csv").symlink_to(data_file.resolve())
        frame = read_batch(directory, spec)
    return [f"{data_file}: {problem}" for problem in check(frame, spec)]
