"""The served package as the Evaluate step builds it: from the CodeUrl zip on sys.path (as code_bootstrap runs the
step), its code/ folder holds exactly the zip's pipeline_code, and the archive is byte-reproducible."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import mlops_contracts as contracts
from pipeline_code.code_bundle import build_code_zip
from pipeline_code.data import encoding
from pipeline_code.endpoint import packaging

REPO = Path(__file__).resolve().parents[2]

STEP = """
import json, sys
sys.path[:0] = [sys.argv[1]]  # as code_bootstrap.BOOTSTRAP puts the verified zip first
import pipeline_code
from pipeline_code.endpoint import packaging
folder = packaging.build_model_dir(sys.argv[2], sys.argv[3], decision_threshold=0.5, model_name="m",
                                   out_dir=sys.argv[4])
print(json.dumps({"archive": getattr(pipeline_code.__loader__, "archive", None)}))
"""


def test_the_package_copies_pipeline_code_from_the_verified_zip(tmp_path):
    code = build_code_zip(REPO / "pipeline_code", tmp_path / contracts.CODE_ZIP_NAME)
    (tmp_path / "xgboost-model").write_bytes(b"booster bytes")
    encoding.save(encoding.fit(["a", "c"], {"c": ["x", "y"]}), tmp_path / "enc")
    done = subprocess.run([sys.executable, "-c", STEP, str(code.path), str(tmp_path / "xgboost-model"),
                           str(tmp_path / "enc"), str(tmp_path / "model")], cwd=tmp_path, capture_output=True,
                          text=True, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["archive"] == str(code.path)
    copied = tmp_path / "model" / contracts.SERVING_CODE_DIR
    with zipfile.ZipFile(code.path) as bundle:
        entries = {n: bundle.read(n) for n in bundle.namelist() if not n.endswith("/")}
    files = {p.relative_to(copied).as_posix(): p.read_bytes() for p in copied.rglob("*") if p.is_file()
             and p.name != contracts.SERVING_PROGRAM}
    assert files == entries
    assert (tmp_path / "model" / "xgboost-model").read_bytes() == b"booster bytes"


def test_the_archive_is_reproducible_and_unpacks_to_the_same_files(tmp_path):
    (tmp_path / "xgboost-model").write_bytes(b"booster bytes")
    encoding.save(encoding.fit(["a"], {}), tmp_path / "enc")
    folder = packaging.build_model_dir(tmp_path / "xgboost-model", tmp_path / "enc", decision_threshold=0.3,
                                       model_name="m", out_dir=tmp_path / "model")
    first = packaging.write_archive(folder, tmp_path / "1" / packaging.MODEL_ARCHIVE).read_bytes()
    second = packaging.write_archive(folder, tmp_path / "2" / packaging.MODEL_ARCHIVE).read_bytes()
    assert first == second
    with tarfile.open(tmp_path / "1" / packaging.MODEL_ARCHIVE) as tar:
        names = tar.getnames()
    assert names == sorted(names) and "xgboost-model" in names and f"{contracts.SERVING_CODE_DIR}/{contracts.SERVING_PROGRAM}" in names
    assert f"{contracts.SERVING_CODE_DIR}/pipeline_code/endpoint/serving.py" in names and contracts.SERVING_FILE in names
    unpacked = packaging.extract_archive(tmp_path / "1" / packaging.MODEL_ARCHIVE, tmp_path / "x")
    assert json.loads((unpacked / contracts.SERVING_FILE).read_text()) == {"decision_threshold": 0.3, "model": "m"}
