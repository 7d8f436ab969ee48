"""``mlops validate`` and ``mlops schema``."""
from __future__ import annotations

import json
import sys

from mlops_config import ConfigError, ModelConfig, PlatformSettings, load_config


def register(subparsers) -> None:
    validate = subparsers.add_parser("validate", help="Validate a config directory (exit 1 on errors).")
    validate.add_argument("config_dir", nargs="?", default="config")
    validate.add_argument("--data", help="also check a model against this CSV sample (columns, header, values)")
    validate.add_argument("--model", help="the model --data belongs to; default: the only model")
    validate.set_defaults(func=run_validate)
    schema = subparsers.add_parser("schema", help="Print the JSON Schema of platform and model configs.")
    schema.set_defaults(func=run_schema)
    register_docs(subparsers)


def run_validate(args) -> int:
    try:
        config = load_config(args.config_dir)
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        return 1
    print(f"{args.config_dir}: valid; models: {', '.join(config.names)}")
    return validate_data(config, args) if args.data else 0


def validate_data(config, args) -> int:
    """``--data``: the model's config against a CSV sample; exit 1 on any problem."""
    from pathlib import Path

    from mlops_cli import data_check
    from mlops_cli.data_sample import SampleError, read_sample

    if args.model is None and len(config.names) != 1:
        print(f"--data needs --model: one of {config.names}", file=sys.stderr)
        return 1
    try:
        model = config.model(args.model or config.names[0])
        sample = read_sample(args.data)
    except (ConfigError, SampleError) as error:
        print(f"Invalid data sample:\n{error}", file=sys.stderr)
        return 1
    problems = data_check.structural_problems(model, config.model_files[model.name], sample)
    values = None if problems else data_check.value_problems(model, Path(args.data))
    if problems or values:
        print("Invalid data sample:\n" + "\n".join(problems or values), file=sys.stderr)
        return 1
    note = data_check.VALUE_CHECKS_NEED if values is None else "values pass the pipeline's validate step"
    print(f"{args.data}: matches {model.name} ({len(sample.rows)} rows; {note})")
    return 0


def run_schema(args) -> int:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "MLOps platform configuration",
        "properties": {
            "platform.yaml": PlatformSettings.model_json_schema(),
            "models/<name>.yaml": ModelConfig.model_json_schema(),
        },
    }
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0


def register_docs(subparsers) -> None:
    docs = subparsers.add_parser("config-docs", help="Print docs/config.md, generated from the config models.")
    docs.set_defaults(func=lambda args: print(render_config_docs(), end="") or 0)


def _pretty(annotation) -> str:
    """A readable type: ``list[str]``, ``int | None``, ``'LINEAR' | 'CANARY'``, ``Strategy``."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _pretty(args[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_pretty(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_pretty(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _nested_models(annotation):
    """(suffix, model) for each config model inside a field's type: ``.``, ``[].`` or ``.<name>.``."""
    import typing

    from pydantic import BaseModel

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield ".", annotation
    elif origin is list:
        for _, model in _nested_models(args[0]):
            yield "[].", model
    elif origin is dict:
        for _, model in _nested_models(args[1]):
            yield ".<name>.", model
    else:
        for arg in args:
            yield from _nested_models(arg)


def _default(field) -> str:
    from pydantic import TypeAdapter

    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    return f"`{json.dumps(TypeAdapter(field.annotation).dump_python(value, mode='json'))}`"


def _constraints(field) -> str:
    parts = []
    for meta in field.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(meta, name, None)
            if value is not None:
                parts.append(f"{name} `{value}`")
    return ", ".join(parts).replace("|", "\\|")


def _model_rows(model, prefix: str, rows: list) -> None:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = list(_nested_models(field.annotation))
        description = field.description or (nested[0][1].__doc__ or "").strip().splitlines()[0] if nested else (
            field.description or "")
        constraints = _constraints(field)
        rows.append(f"| `{path}` | {_pretty(field.annotation)} | {_default(field)} | "
                    f"{description.replace('|', '/')}{'; ' + constraints if constraints else ''} |")
        for suffix, nested_model in nested:
            _model_rows(nested_model, f"{path}{suffix}", rows)


def render_config_docs() -> str:
    """Markdown reference of every config field, its type, default and rule, generated from the pydantic models."""
    sections = [
        "# Configuration reference",
        "",
        "Generated by `mlops config-docs` from the pydantic models; `make test` fails when it is stale.",
        "`mlops validate config` checks a directory; `mlops schema` prints the JSON Schema. Unknown fields are",
        "errors. Every error names the file, the field path, the bad value and what is allowed.",
        "",
    ]
    for title, model in (("config/platform.yaml", PlatformSettings), ("config/models/<name>.yaml", ModelConfig)):
        rows: list[str] = []
        _model_rows(model, "", rows)
        doc = (model.__doc__ or "").strip().splitlines()[0]
        sections += [f"## `{title}`", "", doc, "", "| field | type | default | meaning |", "|---|---|---|---|",
                     *rows, ""]
    sections += [
        "## Cross-field rules",
        "",
        "- The model's `name` must match its file name, and names must be unique across files.",
        ("- `deployment.strategy`: LINEAR steps are 10-50% of capacity, CANARY 1-50%; bake 0-3600 s; a LINEAR step "
         "must move at least one instance."),
        ("- `deployment.mode: serverless` has no data capture (`data_capture_percent: 0`), no strategy and needs "
         "`serverless`; `mode: batch` needs `batch` and has no strategy; autoscaling is realtime-only and must "
         "contain `initial_instance_count`."),
        "- `training.algorithm: custom` needs `training.image`; tuning is XGBoost-only.",
        "- `quality_gate.bias` needs `data.protected_attributes`; metric names must be known.",
        "- `deployment.known_cases.file` must exist, relative to the config directory.",
        "- `retraining.on_drift` needs a drift or quality monitor.",
        ("- Realtime `deployment.strategy`: CANARY needs `initial_instance_count` >= 2; no LINEAR/CANARY on Inf1; "
         "bakes + termination wait + 1200 s provisioning must fit SageMaker's 28800 s execution timeout."),
        ("- Schedules are parsed against AWS's grammar: `retraining.schedule` and `deployment.batch.schedule` are "
         "EventBridge Scheduler expressions (`at(...)`, `rate(...)`, six-field `cron(...)`), `monitoring.schedule` "
         "an EventBridge rule expression (`rate(...)`, `cron(...)`)."),
        "- No two models' `data.input_prefix`/`data.new_data_prefix` may overlap.",
        "- `mlops validate config --model NAME --data FILE.csv` also checks the model against a data sample.",
        "",
    ]
    return "\n".join(sections)
