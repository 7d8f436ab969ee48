"""Entry point of the ``mlops`` console script. Each subcommand lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules; each exposes ``register(subparsers)`` and sets ``func`` (returning an exit code).
COMMAND_MODULES = [
    "mlops_cli.config_commands",
    "mlops_cli.synth_summary",
    "mlops_cli.deploy_commands",
    "mlops_cli.governance",
    "mlops_cli.run_local",
    "mlops_cli.pipeline_commands",
    "mlops_cli.drift",
    "mlops_cli.predict",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description="MLOps platform tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
