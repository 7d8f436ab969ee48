"""Entry point of the ``mlops`` console script. Each subcommand lives in its own module.

Commands load lazily: only the module of the command being run is imported, so a command whose optional
dependencies are missing (``pip install -e '.[cli]'``, ``'.[ml]'`` or ``'.[parquet]'``) cannot break the others, and
says in one line what to install instead of printing a traceback.
"""
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
    "mlops_cli.init_model",
    "mlops_cli.predict",
]

# Which module registers each command, so that running one imports only that module. A command missing here
# still works (every module is then imported); tests/cli/test_cli_lazy.py fails until it is listed.
COMMANDS = {
    "validate": "mlops_cli.config_commands",
    "schema": "mlops_cli.config_commands",
    "config-docs": "mlops_cli.config_commands",
    "init": "mlops_cli.init_model",
    "synth-summary": "mlops_cli.synth_summary",
    "deploy-resolve": "mlops_cli.deploy_commands",
    "endpoint-test": "mlops_cli.deploy_commands",
    "endpoint-check": "mlops_cli.deploy_commands",
    "endpoint-promote": "mlops_cli.deploy_commands",
    "lineage": "mlops_cli.governance",
    "which-model": "mlops_cli.governance",
    "which-decision": "mlops_cli.governance",
    "audit": "mlops_cli.governance",
    "reproduce": "mlops_cli.governance",
    "run-local": "mlops_cli.run_local",
    "pipeline": "mlops_cli.pipeline_commands",
    "drift": "mlops_cli.drift",
    "predict": "mlops_cli.predict",
}

# Optional third-party modules and the pyproject extra that installs them.
EXTRA_OF_MODULE = {
    "boto3": "cli", "botocore": "cli", "aws_lambda_powertools": "cli",
    "numpy": "ml", "pandas": "ml", "sklearn": "ml", "xgboost": "ml", "scipy": "ml", "orjson": "ml",
    "pyarrow": "parquet",
}
OWN_PACKAGES = ("mlops_cli", "mlops_constructs", "pipeline_code", "stacks")


def install_hint(missing: str) -> str:
    """One line saying what to install for a missing top-level module."""
    extra = EXTRA_OF_MODULE.get(missing)
    if extra:
        return f"needs {missing}, which is not installed: pip install -e '.[{extra}]' (or make setup-dev)"
    return f"needs {missing}, which is not installed: make setup-dev"


def _missing_dependency(error: ModuleNotFoundError) -> str | None:
    """The missing third-party top-level module, or None when the error is ours (a real bug: re-raise)."""
    top = (error.name or "").split(".")[0]
    return None if not top or top in OWN_PACKAGES else top


def _import(modules: list[str]) -> tuple[list, dict[str, str]]:
    """The importable command modules, and {module: missing third-party module} for the others."""
    loaded, unavailable = [], {}
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            missing = _missing_dependency(error)
            if missing is None:
                raise
            unavailable[name] = missing
    return loaded, unavailable


def _refuse(command: str, missing: str) -> int:
    print(f"mlops {command}: {install_hint(missing)}", file=sys.stderr)
    return 1


def build_parser(modules: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description="MLOps platform tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    loaded, unavailable = _import(modules or COMMAND_MODULES)
    for module in loaded:
        module.register(subparsers)
    for name, missing in unavailable.items():  # listed in --help with what to install
        for command in [c for c, m in COMMANDS.items() if m == name]:
            subparsers.add_parser(command, help=f"({install_hint(missing)})", add_help=False)
    return parser


def _command_of(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_of(argv)
    module = COMMANDS.get(command)
    if module:
        unavailable = _import([module])[1]
        if unavailable:
            return _refuse(command, unavailable[module])
    args = build_parser([module] if module else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as error:
        missing = _missing_dependency(error)
        if missing is None:
            raise
        return _refuse(args.command, missing)
    except Exception as error:
        if not type(error).__module__.startswith("botocore."):
            raise
        # No credentials, no region, an unreachable endpoint or a refused call: one line, not a traceback.
        print(f"mlops {args.command}: AWS: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
