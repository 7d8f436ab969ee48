"""The CLI imports downward only: contracts, config, runtime and construct-level pure modules, never ``stacks``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("stacks",)


def forbidden_imports(source: str) -> list[str]:
    """Every import of a forbidden package anywhere in ``source``: module level, in functions, relative or not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def test_no_cli_module_imports_stacks():
    modules = sorted((ROOT / "mlops_cli").rglob("*.py"))
    assert len(modules) > 10  # the scan reads the CLI, not an empty folder
    offenders = {str(m.relative_to(ROOT)): hits for m in modules if (hits := forbidden_imports(m.read_text()))}
    assert offenders == {}


@pytest.mark.parametrize("source", [
    "import stacks",
    "import stacks.endpoint_stack as es",
    "from stacks import endpoint_stack",
    "from stacks.deploy_props import captures_data",
    "def resolve():\n    if True:\n        from stacks import endpoint_stack as es\n",
    "class C:\n    def m(self):\n        import os, stacks.model_stack\n",
])
def test_the_scan_finds_imports_of_stacks_wherever_they_stand(source):
    assert forbidden_imports(source)


@pytest.mark.parametrize("source", [
    "import mlops_contracts as contracts",
    "from mlops_config import load_model",
    "from mlops_cli.endpoint_checks import CheckFailed",
    "stacks = sorted(names)",
    "import stacksmith",
])
def test_the_scan_passes_downward_imports(source):
    assert forbidden_imports(source) == []
