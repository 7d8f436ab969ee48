"""The served model artifact: ``model.tar.gz`` for the XGBoost framework container in script mode.

Layout (SageMaker unpacks it to ``/opt/ml/model``)::

    xgboost-model        the trained booster
    encoder.json         the encoder preprocess fitted (``pipeline_code.data.encoding``)
    serving.json         decision threshold and model name (``contracts.SERVING_FILE``)
    code/serve.py        the entry point: re-exports ``pipeline_code.endpoint.serving``'s model_fn and transform_fn
    code/pipeline_code/  the very package this build ran, and code/mlops_contracts/ (the CodeUrl zip the step verified)

The model package's container sets ``SAGEMAKER_PROGRAM=serve.py`` and
``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code`` (``serving_environment``). Entries are sorted with fixed
times and owners, so the same inputs give the same tar.
"""
from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import mlops_contracts as contracts
import pipeline_code
from pipeline_code.code_bundle import code_files

MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "xgboost-model"
SERVE_SCRIPT = '"""SageMaker script-mode entry point: the platform\'s serving code, shipped with the model."""\n' \
               "from pipeline_code.endpoint.serving import model_fn, transform_fn  # noqa: F401\n"
MODEL_DIR = "/opt/ml/model"


def serving_environment() -> dict[str, str]:
    """The container environment of a packaged model.

    ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY`` select script mode and point it at ``code/``. The
    container then runs ``pip install .`` on that folder; models are network-isolated, so pip must neither
    reach an index (``PIP_NO_INDEX``) nor build in an isolated environment that would need to download
    setuptools. pip reads ``PIP_NO_BUILD_ISOLATION=0`` as ``--no-build-isolation`` (its env-var quirk for
    ``--no-*`` flags). ``make container-check`` (tests/container) runs that install offline with the 3.0-5
    image's pip 25.2 and setuptools 80.9, and shows it failing without this setting.
    """
    return {"SAGEMAKER_PROGRAM": contracts.SERVING_PROGRAM,
            "SAGEMAKER_SUBMIT_DIRECTORY": f"{MODEL_DIR}/{contracts.SERVING_CODE_DIR}",
            "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}


def _copy_package(target: Path) -> None:
    """Copy the running code (the CodeUrl zip on sys.path in a SageMaker job, or ``code_files`` of the
    ``pipeline_code`` folder) to ``target``: the package and the repository modules it imports."""
    archive = getattr(getattr(pipeline_code, "__loader__", None), "archive", None)
    if archive:  # zipimport: the CodeUrl zip whose SHA-256 the bootstrap checked
        with zipfile.ZipFile(archive) as bundle:
            for name in sorted(bundle.namelist()):
                if not name.endswith("/"):
                    path = target / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(bundle.read(name))
        return
    source = Path(pipeline_code.__file__).resolve().parent
    for path in code_files(source):
        destination = target / path.relative_to(source.parent)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def build_model_dir(booster_file, encoder_dir, *, decision_threshold: float, model_name: str, out_dir) -> Path:
    """Assemble the served model's directory (the layout above) and return it."""
    from pipeline_code.data import encoding  # numpy: not needed by the constructs, which import serving_environment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(booster_file, out / MODEL_FILE)
    encoding.save(encoding.load(encoder_dir), out)
    (out / contracts.SERVING_FILE).write_text(json.dumps(
        {"decision_threshold": float(decision_threshold), "model": model_name}, sort_keys=True) + "\n")
    code = out / contracts.SERVING_CODE_DIR
    shutil.rmtree(code, ignore_errors=True)
    _copy_package(code)
    (code / contracts.SERVING_PROGRAM).write_text(SERVE_SCRIPT)
    return out


def write_archive(model_dir, archive_path) -> Path:
    """``model.tar.gz`` of a model directory: sorted entries, fixed mtime/owner, gzip without a timestamp."""
    model_dir, archive_path = Path(model_dir), Path(archive_path)
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(model_dir).as_posix())
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    with open(archive_path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return archive_path


def extract_archive(archive_path, out_dir) -> Path:
    """Unpack a ``model.tar.gz`` (regular files only, no paths outside ``out_dir``) and return ``out_dir``."""
    out = Path(out_dir).resolve()
    with tarfile.open(archive_path) as tar:
        for member in tar.getmembers():
            target = (out / member.name).resolve()
            if not member.isfile() or out not in target.parents:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    return out
