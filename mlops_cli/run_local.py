"""``mlops run-local``: validate → preprocess → train → evaluate → gate on a local CSV, with the cloud's scripts.

Each step runs in-process through the step's own ``main(argv)``, with the same arguments SageMaker passes.
Exit codes: 0 the gates pass, 3 a gate fails, 2 bad input (config, data or arguments; message, no traceback).
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from mlops_constructs.config import ConfigError, load_config
from mlops_constructs.job_spec import job_spec
from pipeline_code import evaluate, preprocess, train, validate
from pipeline_code.common import DataError, write_json
from pipeline_code.contracts import BASELINE_FILE, EVALUATION_FILE
from pipeline_code.evaluate import TEST_SCORES_FILE
from pipeline_code.gate import describe_failures, evaluate_gates

EXIT_PASSED, EXIT_BAD_INPUT, EXIT_GATE_FAILED = 0, 2, 3
SERVED_DIR = "served"  # OUT/served/model.tar.gz: the model as the endpoint serves it (``mlops predict --model OUT``)


def register(subparsers) -> None:
    parser = subparsers.add_parser("run-local", help="Run the model build steps locally on a CSV.")
    parser.add_argument("model", help="model name (config/models/<model>.yaml)")
    parser.add_argument("--config-dir", default="config")
    parser.add_argument("--data", required=True, help="training data CSV")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, help="override training.seed (split and training)")
    parser.set_defaults(func=run)


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


def run_pipeline(model_name: str, config_dir, data, out, seed: int | None = None, echo=print) -> int:
    """Run every step; returns the exit code. Outputs land in ``out`` only once evaluation has succeeded."""
    try:
        spec = job_spec(load_config(config_dir).model(model_name))
    except ConfigError as exc:
        echo(f"bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if seed is not None:
        spec["seed"] = seed
        spec["hyperparameters"]["seed"] = str(seed)
    data, out = Path(data), Path(out)
    if not data.is_file():
        echo(f"bad input: --data {data}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    for stale in ("model", "baseline", "encoder", SERVED_DIR, EVALUATION_FILE, TEST_SCORES_FILE, "gate.json", "work"):
        target = out / stale
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    work = out / "work"
    (work / "input").mkdir(parents=True)
    shutil.copyfile(data, work / "input" / data.name)
    spec_path = work / "spec.json"
    write_json(spec_path, spec)
    steps = _steps(spec_path, work / "input", work)
    for number, (name, step, args) in enumerate(steps, start=1):
        started = time.perf_counter()
        echo(f"[{number}/{len(steps) + 1}] {name} ...", flush=True)
        try:
            step(["--spec", str(spec_path), *map(str, args)])
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
    for gate in verdict["gates"]:
        mark = "pass" if gate["passed"] else "FAIL"
        echo(f"    {mark} {gate['name']}: {gate['value']:.4f} {gate['comparison']} {gate['threshold']:g}")
    if not verdict["passed"]:
        echo("\n".join(describe_failures(verdict)), file=sys.stderr)
        return EXIT_GATE_FAILED
    echo(f"[{len(steps) + 1}/{len(steps) + 1}] gate passed; outputs in {out}")
    return EXIT_PASSED


def run(args) -> int:
    return run_pipeline(args.model, args.config_dir, args.data, args.out, args.seed)
