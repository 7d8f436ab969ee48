"""A byte-reproducible zip of the ``pipeline_code`` package: same files, same bytes, same SHA-256.

The zip holds the package and the repository modules it imports (``mlops_contracts``), found by reading every
import statement (``import_closure``), and nothing else: monitoring, governance and tooling code never change
the build's code hash. The same closure narrows each Lambda image (``functions/``) to what its handler imports.

CI builds it from the checked-out commit and the CDK app builds the same zip as the pipeline's default code asset,
so "same code" is one hash wherever the zip was made. Entries are sorted, stamped 1980-01-01 with mode 0644 and
stored uncompressed (deflate output depends on the zlib build, which would make the hash machine-dependent).
Stdlib only: it runs in CodeBuild with nothing installed.
"""
from __future__ import annotations

import ast
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
EXCLUDED_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class CodeZip:
    path: Path
    sha256: str
    entries: int


def package_files(package_dir: Path) -> list[Path]:
    """The package's files (tests and caches left out), sorted by their path inside the zip."""
    files = [p for p in package_dir.rglob("*") if p.is_file()
             and not EXCLUDED_DIRS & set(p.relative_to(package_dir).parts[:-1])
             and not p.name.endswith(EXCLUDED_SUFFIXES)]
    return sorted(files, key=lambda p: p.relative_to(package_dir).as_posix())


def _module_file(root: Path, dotted: str) -> Path | None:
    """The file of module ``dotted`` under ``root`` (``a/b.py`` or ``a/b/__init__.py``); None if not ours."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, root: Path) -> set[str]:
    """Every module ``path`` may import (top-level or inside functions), as dotted names."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_closure(root: Path | str, files) -> list[Path]:
    """``files`` and every repository module they import, transitively, with the ``__init__.py`` of each package
    on the way (Python runs them on import). Modules outside ``root`` (stdlib, numpy) are not followed."""
    root = Path(root).resolve()
    todo, seen = [Path(f).resolve() for f in files], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix != ".py":
            continue
        parts = path.relative_to(root).parts
        for depth in range(1, len(parts)):
            init = root.joinpath(*parts[:depth], "__init__.py")
            if init.is_file():
                todo.append(init)
        for dotted in _imported_modules(path, root):
            module = _module_file(root, dotted) if dotted else None
            if module is not None:
                todo.append(module)
    return sorted(seen, key=lambda p: p.relative_to(root).as_posix())


def code_files(package_dir: Path | str) -> list[Path]:
    """What the job runs: the package's files and the repository modules they import, sorted by zip path."""
    package_dir = Path(package_dir).resolve()
    return import_closure(package_dir.parent, package_files(package_dir))


def build_code_zip(package_dir: Path | str, out_path: Path | str) -> CodeZip:
    """Zip ``package_dir`` and the repository modules it imports (``code_files``) to ``out_path``, each under
    its path from the repository root (``pipeline_code/...``, ``mlops_contracts/...``), so a zip on
    ``sys.path`` imports as the packages. Raises ValueError when the folder is not a Python package."""
    package_dir, out_path = Path(package_dir).resolve(), Path(out_path)
    if not (package_dir / "__init__.py").is_file():
        raise ValueError(f"{package_dir} is not a Python package (no __init__.py); pass the pipeline_code folder")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    files = code_files(package_dir)
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(package_dir.parent).as_posix(), FIXED_TIME)
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # unix, whatever the building OS
            archive.writestr(info, path.read_bytes())
    return CodeZip(out_path, file_sha256(out_path), len(files))


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
