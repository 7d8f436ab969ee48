"""pipeline_code.code_bundle: the same package gives the same bytes, wherever and whenever it is zipped."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from pipeline_code.code_bundle import build_code_zip, file_sha256
from tests.conftest import REPO


@pytest.fixture
def package(tmp_path):
    root = tmp_path / "src" / "pipeline_code"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "step.py").write_text("import sys\nprint('step ran with', sys.argv[1:])\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "table.json").write_text('{"a": 1}\n')
    return root


def test_same_files_give_the_same_bytes_despite_times_modes_and_caches(package, tmp_path):
    first = build_code_zip(package, tmp_path / "a.zip")
    os.utime(package / "step.py", (1_900_000_000, 1_900_000_000))
    os.chmod(package / "step.py", 0o755)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "step.cpython-312.pyc").write_bytes(b"\x00cache")
    (package / "tests").mkdir()
    (package / "tests" / "test_step.py").write_text("def test(): pass\n")
    copy = tmp_path / "copy" / "pipeline_code"
    shutil.copytree(package, copy)  # other paths, other inode order
    second = build_code_zip(copy, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first.sha256 == second.sha256 == file_sha256(tmp_path / "b.zip")
    assert first.entries == second.entries == 4


def test_entries_are_sorted_under_the_package_name_with_fixed_stamps(package, tmp_path):
    built = build_code_zip(package, tmp_path / "code.zip")
    with zipfile.ZipFile(built.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["pipeline_code/__init__.py", "pipeline_code/step.py",
                                           "pipeline_code/sub/__init__.py", "pipeline_code/sub/table.json"]
    assert {(i.date_time, i.compress_type, i.external_attr >> 16) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, 0o100644)}


def test_a_change_in_any_file_changes_the_hash(package, tmp_path):
    before = build_code_zip(package, tmp_path / "a.zip").sha256
    (package / "sub" / "table.json").write_text('{"a": 2}\n')
    assert build_code_zip(package, tmp_path / "b.zip").sha256 != before


def test_the_zip_imports_as_the_package(package, tmp_path):
    built = build_code_zip(package, tmp_path / "any-name.zip")
    ran = subprocess.run([sys.executable, "-m", "pipeline_code.step", "x"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(built.path)}, timeout=60, check=False)
    assert ran.stdout == "step ran with ['x']\n", ran.stderr


def test_a_folder_that_is_not_a_package_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"not a Python package \(no __init__.py\); pass the pipeline_code folder"):
        build_code_zip(tmp_path, tmp_path / "x.zip")


def test_the_repository_package_zips_reproducibly(tmp_path):
    first = build_code_zip(REPO / "pipeline_code", tmp_path / "1.zip")
    second = build_code_zip(REPO / "pipeline_code", tmp_path / "2.zip")
    assert first.sha256 == second.sha256
    assert "pipeline_code/code_bundle.py" in zipfile.ZipFile(first.path).namelist()
