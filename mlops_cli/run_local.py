"""``mlops run-local``: validate → preprocess → train → evaluate → gate on a local CSV, with the cloud's scripts.

The steps run with the library versions of the model's XGBoost image (``step_images.json``): in-process when
this interpreter has them, else in the image's step environment (``make step-env``), launched as the pipeline
launches them (the code zip, its SHA-256 check, ``pipeline_code.<step>`` and the same arguments). When neither
is available it stops and says which versions differ, unless ``--local-versions`` accepts this environment's
versions; ``OUT/run.json`` records the versions the steps ran with and the model's and metrics' hashes.
Exit codes: 0 the gates pass, 3 a gate fails, 2 bad input (config, data or arguments; message, no traceback).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mlops_cli import step_env
from mlops_config import ConfigError, load_config
from mlops_constructs.build.job_spec import job_spec
from mlops_constructs.build.sagemaker_pipeline import code_bootstrap
from mlops_constructs.build.sagemaker_pipeline.step_images import (
    StepImage,
    differences,
    installed_versions,
    step_image,
)
from mlops_contracts import BASELINE_FILE, CODE_ZIP_NAME, DATA_VERSION_FILE, EVALUATION_FILE, STEP_MODULES
from pipeline_code.code_bundle import build_code_zip, file_sha256
from pipeline_code.common import DataError, write_json
from pipeline_code.data import preprocess, validate
from pipeline_code.training import evaluate, train
from pipeline_code.training.evaluate import TEST_SCORES_FILE
from pipeline_code.training.gate import describe_failures, evaluate_gates

PIPELINE_CODE_DIR = Path(evaluate.__file__).resolve().parents[1]
RUN_FILE = "run.json"

EXIT_PASSED, EXIT_BAD_INPUT, EXIT_GATE_FAILED = 0, 2, 3
SERVED_DIR = "served"  # OUT/served/model.tar.gz: the model as the endpoint serves it (``mlops predict --model OUT``)


def register(subparsers) -> None:
    parser = subparsers.add_parser("run-local", help="Run the model build steps locally on a CSV.")
    parser.add_argument("model", help="model name (config/models/<model>.yaml)")
    parser.add_argument("--config-dir", default="config")
    parser.add_argument("--data", required=True, help="training data CSV")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, help="override training.seed (split and training)")
    parser.add_argument("--step-python", help="interpreter to run the steps with; default: this one when it has "
                        "the image's versions, else the image's step environment (make step-env)")
    parser.add_argument("--local-versions", action="store_true",
                        help="run with this environment's library versions even where they differ from the "
                             "image's (the model may differ from SageMaker's; run.json records it)")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class StepRunner:
    """Where the steps run: ``python`` None means in-process. ``found`` holds the versions they run with."""

    image: StepImage
    python: Path | None
    found: dict

    @property
    def differences(self) -> list[str]:
        return differences(self.image, ".".join(self.found["python"].split(".")[:2]), self.found["libraries"])

    def describe(self) -> str:
        where = f"step environment {self.python}" if self.python else f"this interpreter ({sys.executable})"
        return f"steps run in {where}: python={self.found['python']} " + " ".join(
            f"{name}={version}" for name, version in sorted(self.found["libraries"].items()))


def this_interpreter(image: StepImage) -> dict:
    version = ".".join(map(str, sys.version_info[:3]))
    return {"python": version, "libraries": installed_versions(sorted(image.libraries))}


def choose_runner(image: StepImage, step_python=None, local_versions: bool = False) -> StepRunner:
    """The interpreter that has the image's versions; StepEnvError (which says what differs) when none has."""
    if step_python:
        chosen = StepRunner(image, Path(step_python), step_env.probe(step_python, image))
        if chosen.differences and not local_versions:
            raise step_env.StepEnvError(
                f"--step-python {step_python} differs from model image xgboost {image.version}: "
                f"{'; '.join(chosen.differences)}; pass --local-versions to run with it anyway")
        return chosen
    here = StepRunner(image, None, this_interpreter(image))
    if not here.differences or local_versions:
        return here
    python = step_env.env_python(image)
    if python:
        return StepRunner(image, python, step_env.probe(python, image))
    raise step_env.StepEnvError(
        f"model image xgboost {image.version} runs {image.summary()}; this environment differs: "
        f"{'; '.join(here.differences)}, so its model would not be SageMaker's. Build the image's environment "
        f"with `make step-env IMAGE={image.version}` (the steps then run there), or pass --local-versions to "
        "run with this environment's versions anyway (recorded in OUT/run.json)")


def _steps(spec_path: Path, data_dir: Path, work: Path) -> list:
    prep = work / "preprocess"
    return [
        ("validate", validate.main, ["--input", data_dir, "--output", work / "validate"]),
        ("preprocess", preprocess.main, ["--input", data_dir, "--output", prep]),
        ("train", train.main, ["--train", prep / "train", "--validation", prep / "validation",
                               "--model-dir", work / "model"]),
        ("evaluate", evaluate.main, ["--model", work / "model", "--test", prep / "test",
                                     "--baseline", prep / "baseline", "--output", work / "evaluate",
                                     "--encoder", prep / "encoder", "--package", work / SERVED_DIR]),
    ]


def _launch(runner: StepRunner, code, name: str, argv: list[str]) -> None:
    """One step as the pipeline launches it: ``python -c BOOTSTRAP <zip> <sha256> pipeline_code.<step> ARGS``."""
    command = [str(runner.python), *code_bootstrap.ENTRYPOINT[1:],
               *code_bootstrap.container_arguments(str(code.path.parent), code.sha256, STEP_MODULES[name], argv)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode == 2 and result.stderr.startswith("ERROR: "):
        raise DataError(result.stderr.strip().splitlines()[-1].removeprefix("ERROR: "))
    if result.returncode != 0:
        raise RuntimeError(f"step {name} exited {result.returncode}: {result.stderr.strip()[-2000:]}")


def run_pipeline(model_name: str, config_dir, data, out, seed: int | None = None, echo=print, *,
                 step_python=None, local_versions: bool = False) -> int:
    """Run every step; returns the exit code. Outputs land in ``out`` only once evaluation has succeeded."""
    try:
        config = load_config(config_dir)
        model = config.model(model_name)
        spec = job_spec(model)
    except ConfigError as exc:
        echo(f"bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    image = step_image(model.training.xgboost_version)
    try:
        runner = choose_runner(image, step_python, local_versions)
    except step_env.StepEnvError as exc:
        echo(f"bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if runner.differences:
        echo(f"WARNING: --local-versions: the steps run with versions other than image xgboost {image.version}'s "
             f"({'; '.join(runner.differences)}); the model may differ from the one SageMaker trains",
             file=sys.stderr)
    echo(runner.describe())
    if seed is not None:
        spec["seed"] = seed
        spec["hyperparameters"]["seed"] = str(seed)
    data, out = Path(data), Path(out)
    if not data.is_file():
        echo(f"bad input: --data {data}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    for stale in ("model", "baseline", "encoder", SERVED_DIR, EVALUATION_FILE, TEST_SCORES_FILE, "gate.json", RUN_FILE,
                  "work"):
        target = out / stale
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    work = out / "work"
    (work / "input").mkdir(parents=True)
    shutil.copyfile(data, work / "input" / data.name)
    spec_path = work / "spec.json"
    write_json(spec_path, spec)
    steps = _steps(spec_path, work / "input", work)
    code = build_code_zip(PIPELINE_CODE_DIR, work / "code" / CODE_ZIP_NAME)
    for number, (name, step, args) in enumerate(steps, start=1):
        started = time.perf_counter()
        echo(f"[{number}/{len(steps) + 1}] {name} ...", flush=True)
        argv = ["--spec", str(spec_path), *map(str, args)]
        try:
            _launch(runner, code, name, argv) if runner.python else step(argv)
        except DataError as exc:
            echo(f"bad input: {name}: {exc}", file=sys.stderr)
            shutil.rmtree(work / "model", ignore_errors=True)
            return EXIT_BAD_INPUT
        echo(f"[{number}/{len(steps) + 1}] {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    evaluation = json.loads((work / "evaluate" / EVALUATION_FILE).read_text())
    verdict = evaluate_gates(evaluation, spec["gates"])
    shutil.copytree(work / "model", out / "model")
    shutil.copytree(work / "preprocess" / "encoder", out / "encoder")
    (out / "baseline").mkdir()
    shutil.copyfile(work / "evaluate" / BASELINE_FILE, out / "baseline" / BASELINE_FILE)
    shutil.copyfile(work / "evaluate" / EVALUATION_FILE, out / EVALUATION_FILE)
    shutil.copyfile(work / "evaluate" / TEST_SCORES_FILE, out / TEST_SCORES_FILE)
    shutil.copytree(work / SERVED_DIR, out / SERVED_DIR)
    write_json(out / "gate.json", verdict)
    write_json(out / RUN_FILE, {
        "model": model.name, "config_hash": config.config_hash(model.name), "seed": spec["seed"],
        "data_version": json.loads((work / "validate" / DATA_VERSION_FILE).read_text())["data_version"],
        "code_sha256": code.sha256,
        "step_image": image.version, "image_versions": {"python": image.python, **image.libraries},
        "ran_with": runner.found, "matches_image": not runner.differences, "differences": runner.differences,
        "model_sha256": file_sha256(out / "model" / train.MODEL_FILE), "evaluation_sha256": file_sha256(out / EVALUATION_FILE),
    })
    for gate in verdict["gates"]:
        mark = "pass" if gate["passed"] else "FAIL"
        echo(f"    {mark} {gate['name']}: {gate['value']:.4f} {gate['comparison']} {gate['threshold']:g}")
    if not verdict["passed"]:
        echo("\n".join(describe_failures(verdict)), file=sys.stderr)
        return EXIT_GATE_FAILED
    echo(f"[{len(steps) + 1}/{len(steps) + 1}] gate passed; outputs in {out}")
    return EXIT_PASSED


def run(args) -> int:
    return run_pipeline(args.model, args.config_dir, args.data, args.out, args.seed,
                        step_python=args.step_python, local_versions=args.local_versions)
