"""Stack modules compose constructs and pure props functions; none imports another stack module (only the
composition root, ``stacks/app_factory.py``, knows every stack)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = "stacks.app_factory"


def _module(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _defines_a_stack(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.ClassDef) and any(
        (isinstance(base, ast.Name) and base.id == "Stack") for base in node.bases) for node in ast.walk(tree))


def stack_module_imports(root: Path) -> dict[str, set[str]]:
    """For each module of ``root/stacks``: the stack modules (modules defining a ``Stack`` subclass) it imports."""
    trees = {_module(p, root): ast.parse(p.read_text()) for p in sorted((root / "stacks").glob("*.py"))}
    stack_modules = {name for name, tree in trees.items() if _defines_a_stack(tree)}
    return {name: _imports(tree) & stack_modules - {name} for name, tree in trees.items()}


def test_only_the_composition_root_imports_stack_modules():
    imports = stack_module_imports(ROOT)
    assert {"stacks.model_stack", "stacks.endpoint_stack", "stacks.stage_access_stack"} <= {
        m for found in imports.values() for m in found}  # the root composes them: the scan sees stack modules
    assert {name: found for name, found in imports.items() if found and name != COMPOSITION_ROOT} == {}


def test_the_scan_catches_a_sideways_import(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "a.py").write_text("from aws_cdk import Stack\nclass A(Stack):\n    pass\n")
    (tmp_path / "stacks" / "b.py").write_text("def f():\n    from stacks.a import A\n")
    assert stack_module_imports(tmp_path) == {"stacks.a": set(), "stacks.b": {"stacks.a"}}
