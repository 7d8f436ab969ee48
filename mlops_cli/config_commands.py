"""``mlops validate`` and ``mlops schema``."""
from __future__ import annotations

import json
import sys

from mlops_constructs.config import ConfigError, ModelConfig, PlatformSettings, load_config


def register(subparsers) -> None:
    validate = subparsers.add_parser("validate", help="Validate a config directory (exit 1 on errors).")
    validate.add_argument("config_dir", nargs="?", default="config")
    validate.set_defaults(func=run_validate)
    schema = subparsers.add_parser("schema", help="Print the JSON Schema of platform and model configs.")
    schema.set_defaults(func=run_schema)


def run_validate(args) -> int:
    try:
        config = load_config(args.config_dir)
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        return 1
    print(f"{args.config_dir}: valid; models: {', '.join(config.names)}")
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
