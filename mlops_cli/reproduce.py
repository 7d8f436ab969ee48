"""``mlops reproduce``: re-run a model's build locally from a registered package's record, then compare hashes.

The record is a model package (``--package ARN``: its ``mlops:*`` metadata and the evaluation.json its
ModelQuality statistics point to) or a local run's ``OUT/run.json`` (``--record``). The build re-runs through
``mlops run-local`` with this checkout's code and config, the given data, and the recorded image's versions.
Before it runs, the pinned inputs are checked (code SHA-256, config hash, image and its versions); after, the data
version, the model file's SHA-256 and the metrics' SHA-256. The verdict is ``identical`` or one line per difference.

The metrics hash covers evaluation.json without its ``champion`` part: the champion lookup needs the Model
Registry as it was at build time, so a local run never makes it.
Exit codes: 0 identical, 1 something differs, 2 bad input (record, config, data, environment).
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlops_contracts as c
from mlops_cli import run_local
from mlops_config import ConfigError, load_config
from mlops_constructs.build.sagemaker_pipeline.step_images import step_image, step_images
from pipeline_code.code_bundle import build_code_zip

EXIT_IDENTICAL, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2


def metrics_sha256(evaluation: dict) -> str:
    """SHA-256 of evaluation.json's canonical JSON without ``champion`` (see the module docstring)."""
    body = {k: v for k, v in evaluation.items() if k != "champion"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class BuildRecord:
    """What a build pinned and produced. Empty strings where the record does not say."""

    source: str
    model: str
    git_commit: str
    config_hash: str
    code_sha256: str
    data_version: str
    step_image: str
    step_libraries: str
    model_sha256: str
    evaluation: dict
    local_versions: bool = False  # a local run made with --local-versions: re-run the same way
    seed: int | None = None  # a local run's seed (it may override the config's); a package's is its config's


def record_from_run(path: Path) -> BuildRecord:
    """A local run's ``run.json`` and the evaluation.json beside it."""
    run = json.loads(path.read_text())
    image = step_image(run["step_image"])
    return BuildRecord(
        source=str(path), model=run["model"], git_commit="", config_hash=run["config_hash"], code_sha256=run["code_sha256"],
        data_version=run["data_version"], step_image=image.version,
        step_libraries=" ".join([f"python={run['image_versions']['python']}", *(
            f"{n}={v}" for n, v in sorted(run["image_versions"].items()) if n != "python")]),
        model_sha256=run["model_sha256"],
        evaluation=json.loads((path.parent / c.EVALUATION_FILE).read_text()),
        local_versions=not run["matches_image"], seed=run["seed"])


def record_from_package(arn: str, sagemaker, s3) -> BuildRecord:
    """A registered package: its metadata and the evaluation.json of its ModelQuality statistics."""
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    meta = package.get("CustomerMetadataProperties", {})
    uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return BuildRecord(
        source=arn, model=package["ModelPackageGroupName"], git_commit=meta.get(c.META_GIT_COMMIT, ""), config_hash=meta.get(c.META_CONFIG_HASH, ""),
        code_sha256=meta.get(c.META_CODE_SHA256, ""), data_version=meta.get(c.META_DATA_VERSION, ""),
        step_image=meta.get(c.META_STEP_IMAGE, ""), step_libraries=meta.get(c.META_STEP_LIBRARIES, ""),
        model_sha256=meta.get(c.META_MODEL_SHA256, "") or evaluation.get(c.MODEL_SHA256_KEY, ""),
        evaluation=evaluation)


def input_differences(record: BuildRecord, model_name: str, config_dir) -> list[str]:
    """What this checkout would build differently before anything runs: code, config, image and its versions."""
    found = []
    config = load_config(config_dir)
    model = config.model(model_name)
    code = build_code_zip(run_local.PIPELINE_CODE_DIR, Path(tempfile.mkdtemp()) / c.CODE_ZIP_NAME).sha256
    commit = f" (check out commit {record.git_commit})" if record.git_commit else ""
    if record.code_sha256 and record.code_sha256 != code:
        found.append(f"code: recorded sha256 {record.code_sha256}, this checkout {code}{commit}")
    here = config.config_hash(model_name)
    if record.config_hash and record.config_hash != here:
        found.append(f"config: recorded hash {record.config_hash}, this checkout {here}{commit}")
    if record.step_image and record.step_image != model.training.xgboost_version:
        found.append(f"image: recorded xgboost {record.step_image}, config {model.training.xgboost_version}")
    if record.step_image in step_images() and record.step_libraries:
        now = step_image(record.step_image).summary()
        if record.step_libraries != now:
            found.append(f"image versions: recorded '{record.step_libraries}', step_images.json now '{now}'")
    return found


def output_differences(record: BuildRecord, run: dict, evaluation: dict) -> list[str]:
    """Data version, model hash and metrics (hash, and each metric value that moved)."""
    found = []
    if record.data_version and record.data_version != run["data_version"]:
        found.append(f"data version: recorded {record.data_version}, --data gives {run['data_version']}")
    if record.model_sha256 != run["model_sha256"]:
        found.append(f"model sha256: recorded {record.model_sha256 or '(none)'}, reproduced {run['model_sha256']}")
    if metrics_sha256(record.evaluation) != metrics_sha256(evaluation):
        found.append(f"metrics sha256: recorded {metrics_sha256(record.evaluation)}, reproduced "
                     f"{metrics_sha256(evaluation)}")
        found += [f"  {path}: recorded {a}, reproduced {b}"
                  for path, a, b in _changed_values(record.evaluation, evaluation)]
    return found


def _changed_values(before, after, path: str = "") -> list[tuple[str, object, object]]:
    if isinstance(before, dict) and isinstance(after, dict):
        return [change for key in sorted(set(before) | set(after)) if key != "champion" or path
                for change in _changed_values(before.get(key), after.get(key), f"{path}.{key}".lstrip("."))]
    return [] if before == after else [(path, before, after)]


def reproduce(model_name: str, record: BuildRecord, data, out, config_dir="config", echo=print, **runner) -> int:
    """Re-run and compare; returns the exit code."""
    try:
        inputs = input_differences(record, model_name, config_dir)
    except (ConfigError, KeyError) as exc:
        echo(f"bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in inputs:
        echo(f"pinned input differs: {line}")
    if record.local_versions:
        echo("the record was made with --local-versions: re-running with this environment's versions")
    code = run_local.run_pipeline(model_name, config_dir, data, out, seed=record.seed, echo=echo,
                                  local_versions=record.local_versions, **runner)
    if code not in (run_local.EXIT_PASSED, run_local.EXIT_GATE_FAILED):
        return EXIT_BAD_INPUT
    out = Path(out)
    run = json.loads((out / run_local.RUN_FILE).read_text())
    outputs = output_differences(record, run, json.loads((out / c.EVALUATION_FILE).read_text()))
    if not inputs and not outputs:
        echo(f"identical: model sha256 {run['model_sha256']}, metrics sha256 {metrics_sha256(record.evaluation)} "
             f"({record.source})")
        return EXIT_IDENTICAL
    echo(f"differs from {record.source}:")
    for line in inputs + outputs:
        echo(f"- {line}" if not line.startswith("  ") else line)
    return EXIT_DIFFERENT


def run(args) -> int:
    """``mlops reproduce <package ARN or OUT/run.json> --local DATA_CSV [--out DIR] [--config-dir DIR]``."""
    source = args.model_package_arn
    try:
        if source.endswith(".json") and Path(source).is_file():
            record = record_from_run(Path(source))
        else:
            record = record_from_package(source, _client(args, "sagemaker"), _client(args, "s3"))
    except (OSError, KeyError, ValueError) as exc:
        print(f"bad input: cannot read the record {source}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = args.out or tempfile.mkdtemp(prefix="mlops-reproduce-")
    return reproduce(record.model, record, args.local, out, args.config_dir)


def _client(args, service: str):
    import boto3

    return boto3.session.Session(region_name=getattr(args, "region", None)).client(service)
