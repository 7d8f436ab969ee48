"""The package import directions drawn in docs/architecture.md ("Import directions"), held against every import.

The allowed directions are read from the page's Mermaid diagram, so the picture is the rule: an import across
packages that the diagram does not draw fails, naming the file. Runtime packages, the config and the CLI must also
never reach CDK, not even through a module they import.
"""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

from pipeline_code.code_bundle import import_closure
from tests.conftest import REPO

CAPABILITIES = ("core", "build", "deploy", "monitor", "govern")
RUNTIME = ("pipeline_code", "monitoring_code", "governance_code", "tooling_code")
CONSTRUCTS = tuple(f"mlops_constructs/{c}" for c in (*CAPABILITIES, "_private"))
# The diagram's node IDs -> the packages they stand for (a subgraph stands for all of its members).
NODES = {"app": ("app.py",), "stacks": ("stacks",), "config": ("mlops_config",), "constructs": CONSTRUCTS,
         **{c: (f"mlops_constructs/{c}",) for c in CAPABILITIES}, "private": ("mlops_constructs/_private",),
         "cli": ("mlops_cli",), "functions": ("functions",), "runtime": RUNTIME, "tooling": ("tooling_code",),
         "pipeline": ("pipeline_code",), "monitoring": ("monitoring_code",), "governance": ("governance_code",),
         "contracts": ("mlops_contracts",)}
ARROW = re.compile(r"\s*(?:-->|-\.->)(?:\|[^|]*\|)?\s*")


def diagram_arrows(page: Path = REPO / "docs" / "architecture.md") -> dict[str, set[str]]:
    """package -> the packages it may import, as the Mermaid diagram under "Import directions" draws them."""
    text = page.read_text()
    block = text[text.index("### Import directions"):]
    block = block[block.index("```mermaid"):block.index("```", len("```mermaid") + block.index("```mermaid"))]
    allowed: dict[str, set[str]] = {unit: set() for units in NODES.values() for unit in units}
    for line in block.splitlines():
        parts = ARROW.split(line.strip())
        for source, target in itertools.pairwise(parts):
            for here in (u for node in source.split("&") for u in NODES[re.match(r"\w+", node.strip())[0]]):
                for node in target.split("&"):
                    allowed[here] |= set(NODES[re.match(r"\w+", node.strip())[0]]) - {here}
    return allowed


ALLOWED = diagram_arrows()
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


def test_the_diagram_draws_the_rules_the_page_states():
    assert ALLOWED["mlops_contracts"] == set() and "stacks" not in ALLOWED["mlops_cli"]
    assert not ALLOWED["mlops_constructs/_private"] & set(CONSTRUCTS)  # shared blocks import no capability
    assert all(not ALLOWED[r] & {"stacks", "mlops_config", *CONSTRUCTS} for r in (*RUNTIME, "functions"))
    assert ALLOWED["mlops_constructs/deploy"] & set(CONSTRUCTS) == {"mlops_constructs/_private", "mlops_constructs/govern"}


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
