"""A byte-reproducible zip of the ``pipeline_code`` package: same files, same bytes, same SHA-256.

CI builds it from the checked-out commit and the CDK app builds the same zip as the pipeline's default code asset,
so "same code" is one hash wherever the zip was made. Entries are sorted, stamped 1980-01-01 with mode 0644 and
stored uncompressed (deflate output depends on the zlib build, which would make the hash machine-dependent).
Stdlib only: it runs in CodeBuild with nothing installed.
"""
from __future__ import annotations

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


def build_code_zip(package_dir: Path | str, out_path: Path | str) -> CodeZip:
    """Zip ``package_dir`` to ``out_path`` with the folder name as the top entry (``pipeline_code/...``), so a
    zip on ``sys.path`` imports as the package. Raises ValueError when the folder is not a Python package."""
    package_dir, out_path = Path(package_dir).resolve(), Path(out_path)
    if not (package_dir / "__init__.py").is_file():
        raise ValueError(f"{package_dir} is not a Python package (no __init__.py); pass the pipeline_code folder")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    files = package_files(package_dir)
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            info = zipfile.ZipInfo(f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", FIXED_TIME)
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
