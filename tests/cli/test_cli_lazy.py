"""The ``mlops`` entry point loads only the module of the command it runs, and lists every command it knows."""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from mlops_cli import main as cli


def test_every_registered_command_is_in_the_lazy_table():
    registered = {}
    for name in cli.COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(subparsers)
        registered.update(dict.fromkeys(subparsers.choices, name))
    assert registered == cli.COMMANDS


def test_a_command_imports_only_its_own_module():
    code = ("import sys; from mlops_cli import main; code = main.main(['schema']); "
            "print(sorted(m for m in sys.modules if m.startswith(('mlops_cli.', 'boto3', 'pandas', 'numpy'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "['mlops_cli.config_commands', 'mlops_cli.main']"


def test_a_missing_dependency_is_one_line_naming_the_extra(monkeypatch, capsys):
    real_import = importlib.import_module

    def without_boto3(name, *args):
        if name == "mlops_cli.governance":
            raise ModuleNotFoundError("No module named 'boto3'", name="boto3")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_boto3)
    assert cli.main(["lineage", "--table", "t", "arn"]) == 1
    assert capsys.readouterr().err == ("mlops lineage: needs boto3, which is not installed: pip install -e '.[cli]' "
                                       "(or make setup-dev)\n")
