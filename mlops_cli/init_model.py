"""``mlops init NAME --data FILE.csv --label COL [--positive VALUE]``: a model config written from a data set.

Profiles the CSV with the standard library (works right after ``make synth``) and writes
``<config-dir>/models/NAME.yaml``: feature types and categoricals (text columns of at most MAX_CATEGORIES values),
allowed categories, observed ranges, the null-fraction limit with headroom, a suggested AUC floor and the model's
own S3 prefixes, each commented. The file is validated before it is written.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from mlops_cli.data_sample import NA_STRINGS, ColumnProfile, SampleError, profile, read_sample, single_feature_auc

MAX_CATEGORIES = 50  # text columns with more distinct values are left out as identifiers or free text
MIN_AUC_FLOOR = 0.55
# Label value pairs whose positive member is obvious; any other label needs --positive.
POSITIVE_OF_PAIR = {("0", "1"): "1", ("no", "yes"): "yes", ("false", "true"): "true", ("n", "y"): "y"}


def register(subparsers) -> None:
    parser = subparsers.add_parser("init", help="Write config/models/NAME.yaml from a CSV data set.")
    parser.add_argument("name", help="model name: lowercase letters, digits and hyphens")
    parser.add_argument("--data", required=True, help="CSV with a header row, e.g. data/attrition/attrition.csv")
    parser.add_argument("--label", required=True, help="label column (two classes)")
    parser.add_argument("--positive", help="label value that counts as positive; default: inferred for 0/1, "
                                           "No/Yes, false/true")
    parser.add_argument("--owner", default="model-team@example.com", help="owning team's address")
    parser.add_argument("--config-dir", default="config")
    parser.add_argument("--force", action="store_true", help="overwrite an existing model file")
    parser.set_defaults(func=run)


def _q(value) -> str:
    """A YAML scalar or flow sequence (JSON is valid YAML, and quoting keeps 'Yes'/'No' strings)."""
    return json.dumps(value)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _positive_class(label: ColumnProfile, positive: str | None) -> str:
    if label.nulls:
        raise SampleError(f"label {label.name!r}: {label.nulls} of {label.rows} values are null; the label "
                          "must always be present")
    classes = list(label.distinct)
    if len(classes) != 2:
        raise SampleError(f"label {label.name!r}: {label.distinct_count} classes {classes[:5]}; a binary "
                          "classification label has exactly 2")
    if positive is not None:
        if positive not in classes:
            raise SampleError(f"--positive {positive!r}: not a value of {label.name!r}; values are {classes}")
        return positive
    guess = POSITIVE_OF_PAIR.get(tuple(sorted(c.lower() for c in classes)))
    if guess is None:
        raise SampleError(f"label {label.name!r} has values {classes}: say which is positive with --positive")
    return next(c for c in classes if c.lower() == guess)


def _excluded_reason(column: ColumnProfile) -> str | None:
    if column.nulls == column.rows:
        return "every value is null"
    if column.distinct_count == 1:
        return "a single value: carries no signal"
    if column.kind == "text" and column.distinct_count > MAX_CATEGORIES:
        return f"{column.distinct_count} distinct text values: an identifier or free text?"
    if column.kind == "integer" and column.distinct_count == column.rows - column.nulls and column.rows >= 20:
        return "every value distinct: an identifier?"
    return None


def _auc_floor(sample, features: list[ColumnProfile], label: str, positive: str) -> tuple[float, str, float]:
    """(suggested floor, best single feature, its AUC): a model should beat the best single feature."""
    positives = [value == positive for value in sample.column(label)]
    best, best_auc = "", 0.5
    for column in features:
        values = sample.column(column.name)
        if column.kind == "text":  # score a category by its positive rate in the sample
            totals: dict[str, list[int]] = {}
            for value, is_positive in zip(values, positives, strict=True):
                totals.setdefault(value, [0, 0])[is_positive] += 1
            scores = [totals[v][1] / sum(totals[v]) for v in values]
            pairs = list(zip(scores, positives, strict=True))
        else:
            pairs = [(float(v), p) for v, p in zip(values, positives, strict=True) if v not in NA_STRINGS]
        auc = single_feature_auc([s for s, _ in pairs], [p for _, p in pairs])
        if auc is not None and auc > best_auc:
            best, best_auc = column.name, auc
    return max(MIN_AUC_FLOOR, math.floor(best_auc * 100) / 100), best, best_auc


def render(name: str, data_path: str, label_name: str, positive: str | None, owner: str) -> str:
    """The commented YAML of a new model config profiled from ``data_path``; raises SampleError."""
    sample = read_sample(data_path)
    if sample.padded_columns:
        raise SampleError(f"{data_path}: header names {sample.padded_columns} have stray whitespace; the pipeline "
                          "matches names exactly, so fix the header first")
    if label_name not in sample.header:
        raise SampleError(f"--label {label_name!r}: no such column; columns are {sample.header}")
    columns = {column: profile(sample, column) for column in sample.header}
    positive = _positive_class(columns[label_name], positive)
    features, excluded = [], {}
    for column in sample.header:
        if column == label_name:
            continue
        reason = _excluded_reason(columns[column])
        if reason:
            excluded[column] = reason
        else:
            features.append(columns[column])
    if not features:
        raise SampleError(f"{data_path}: no usable feature columns ({excluded})")
    categorical = [c.name for c in features if c.kind == "text"]
    worst_nulls = max(c.null_fraction for c in features)
    null_limit = min(1.0, math.ceil((2 * worst_nulls + 0.01) * 100) / 100)
    floor, best, best_auc = _auc_floor(sample, features, label_name, positive)

    lines = [
        f"# Written by `mlops init {name} --data {data_path} --label {label_name}`: {len(sample.rows)} rows profiled.",
        "# Every value below was derived from that sample; review each before the first deploy.",
        "# Field reference: docs/config.md. Check: mlops validate config --model NAME --data FILE.csv",
        f"name: {name}",
        f"owner: {_q(owner)}  # replace with the owning team's address",
        f"description: {_q(f'Binary classifier of {label_name} (from {Path(data_path).name}).')}",
        "data:",
        "  # Own prefixes in the model's data bucket: no other model may share them.",
        f"  input_prefix: {name}/training/",
        f"  new_data_prefix: {name}/incoming/",
        f"  ground_truth_prefix: ground-truth/{name}/",
        f"  label: {_q(label_name)}",
        f"  positive_class: {_q(positive)}",
        f"  features:  # {len(features)} columns in file order" + (f"; left out: {len(excluded)}" if excluded else ""),
    ]
    lines += [f"    - {_q(c.name)}" for c in features]
    lines += [f"    # left out {_q(column)}: {reason}" for column, reason in excluded.items()]
    lines += [f"  categorical: {_q(categorical)}  # text columns of at most {MAX_CATEGORIES} values",
              "  protected_attributes: []  # columns for bias checks, e.g. [Gender]; then add quality_gate.bias",
              f"  max_null_fraction: {null_limit:g}  # worst observed {worst_nulls:.4f}, doubled plus 0.01",
              "  columns:  # checked on every batch; ranges are the observed ones: widen to what is plausible"]
    for column in features:
        note = f"  # nulls {column.null_fraction:.4f}" if column.nulls else ""
        if column.kind == "text":
            lines.append(f"    {_q(column.name)}: {{type: categorical, allowed: {_q(list(column.distinct))}}}{note}")
        else:
            lines.append(f"    {_q(column.name)}: {{type: {column.kind}, min: {_number(column.minimum)}, "
                         f"max: {_number(column.maximum)}}}{note}")
    lines += [
        "training:",
        "  algorithm: xgboost",
        '  hyperparameters: {objective: "binary:logistic", eval_metric: auc, num_round: 200, max_depth: 4, eta: 0.1}',
        "  instance_type: ml.m5.large",
        "  seed: 42",
        "quality_gate:",
        f"  # The best single feature ({best}) reaches AUC {best_auc:.3f} on this sample; a model must beat it.",
        f"  min_metrics: {{auc: {floor:g}}}",
        "  decision_threshold: 0.5",
        "retraining:",
        "  schedule: null          # e.g. cron(0 4 1 * ? *): six fields, UTC (EventBridge Scheduler)",
        "  on_new_data: true       # a drop under new_data_prefix starts the build pipeline",
        "  on_drift: true",
        "  on_code_change: true",
        "deployment:",
        "  mode: realtime",
        "  instance_type: ml.m5.large",
        "  initial_instance_count: 2",
        "  # strategy: {type: LINEAR, step_percent: 50, bake_seconds: 600}   # blue/green shifting; default ALL_AT_ONCE",
        "monitoring:",
        "  schedule: rate(1 hour)",
        "  drift: {metric: psi, threshold: 0.2, min_samples: 500}",
        "",
    ]
    return "\n".join(lines)


def run(args) -> int:
    import yaml
    from pydantic import ValidationError

    from mlops_config import ConfigError
    from mlops_config.errors import describe_validation_error
    from mlops_config.model import ModelConfig

    target = Path(args.config_dir) / "models" / f"{args.name}.yaml"
    if target.exists() and not args.force:
        print(f"mlops init: {target} exists; pass --force to overwrite", file=sys.stderr)
        return 1
    try:
        text = render(args.name, args.data, args.label, args.positive, args.owner)
        data = yaml.safe_load(text)
        ModelConfig.model_validate(data)
    except SampleError as error:
        print(f"mlops init: {error}", file=sys.stderr)
        return 1
    except ValidationError as error:
        print(f"mlops init: the generated config is invalid:\n{describe_validation_error(target, error, data)}",
              file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    try:
        from mlops_config import load_config

        load_config(args.config_dir)
    except ConfigError as error:
        print(f"mlops init: wrote {target}, but the config directory does not validate:\n{error}", file=sys.stderr)
        return 1
    print(f"wrote {target}\nnext: mlops validate {args.config_dir} --model {args.name} --data {args.data}")
    return 0
