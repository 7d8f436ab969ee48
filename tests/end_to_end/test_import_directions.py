"""The package import directions of docs/architecture.md ("Import directions"), read from every import statement.

An arrow there is an entry here; a new import across packages that the page does not draw fails, naming the file.
Runtime packages, the config and the CLI must also never reach CDK, not even through a module they import.
"""
from __future__ import annotations

import ast
from pathlib import Path

from pipeline_code.code_bundle import import_closure
from tests.conftest import REPO

CAPABILITIES = ("core", "build", "deploy", "monitor", "govern")
RUNTIME = ("pipeline_code", "monitoring_code", "governance_code", "tooling_code")
CONSTRUCTS = tuple(f"mlops_constructs/{c}" for c in (*CAPABILITIES, "_private"))
# unit -> the units it may import (besides itself); mlops_contracts imports nothing of ours.
ALLOWED: dict[str, set[str]] = {
    "app.py": {"stacks", "mlops_config", "mlops_contracts"},
    "stacks": {*CONSTRUCTS, "mlops_config", "mlops_contracts", *RUNTIME},
    **{c: {"mlops_constructs/_private", "mlops_config", "mlops_contracts", *RUNTIME} for c in CONSTRUCTS},
    "mlops_config": {*CONSTRUCTS, "mlops_contracts", *RUNTIME},
    "mlops_cli": {*CONSTRUCTS, "mlops_config", "mlops_contracts", *RUNTIME},
    "functions": {"mlops_contracts", *RUNTIME},
    "monitoring_code": {"pipeline_code", "mlops_contracts"},
    "governance_code": {"mlops_contracts"},
    "tooling_code": {"pipeline_code", "mlops_contracts"},
    "pipeline_code": {"mlops_contracts"},
    "mlops_contracts": set(),
}
ALLOWED["mlops_constructs/deploy"] |= {"mlops_constructs/govern"}  # the CD pipeline records the registry lifecycle
WITHOUT_CDK = ("mlops_contracts", "mlops_config", "mlops_cli", "functions", *RUNTIME)
CDK = ("aws_cdk", "constructs", "cdk_nag")


def unit_of(dotted: str) -> str | None:
    """The package a module belongs to in the diagram (a construct capability counts on its own)."""
    parts = dotted.split(".")
    if parts[0] == "mlops_constructs" and len(parts) > 1 and parts[1] in (*CAPABILITIES, "_private"):
        return f"mlops_constructs/{parts[1]}"
    if parts[0] == "app":
        return "app.py"
    return parts[0] if parts[0] in {u.split("/")[0] for u in ALLOWED} | {"mlops_constructs"} else None


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def sources() -> list[Path]:
    roots = [REPO / u.split("/")[0] for u in ALLOWED if u != "app.py"]
    return [REPO / "app.py", *sorted({p for root in roots for p in root.rglob("*.py")})]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_every_import_across_packages_is_an_arrow_of_the_architecture_page():
    crossings = []
    for path in sources():
        here = unit_of(module_name(path))
        for dotted in imports_of(path):
            there = unit_of(dotted)
            if there and there != here and there not in ALLOWED[here]:
                crossings.append(f"{path.relative_to(REPO)} ({here}) imports {dotted} ({there})")
    assert crossings == [], "imports the architecture page does not allow:\n" + "\n".join(sorted(crossings))


def test_runtime_config_and_cli_never_reach_cdk_even_indirectly():
    for path in sources():
        if unit_of(module_name(path)) not in WITHOUT_CDK:
            continue
        reached = [p for p in import_closure(REPO, [path])
                   if any(d.split(".")[0] in CDK for d in imports_of(p))]
        assert reached == [], f"{path.relative_to(REPO)} reaches CDK through {[str(p.relative_to(REPO)) for p in reached]}"


def test_the_contracts_module_imports_only_the_standard_library():
    import sys

    imported = {d.split(".")[0] for d in imports_of(REPO / "mlops_contracts" / "__init__.py")}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
