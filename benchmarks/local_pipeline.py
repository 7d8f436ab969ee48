"""Preprocess, train and evaluate on 1M generated transactions (fraud-detection config); seconds per step.

    .venv/bin/python benchmarks/local_pipeline.py [--rows N] [--keep DIR]

Generation and the CSV write of the input are set up outside the timing; each step then runs in-process through
its own ``main`` with the same arguments the SageMaker pipeline passes. Target: preprocess + train + evaluate
<= 60 s on a 2-core machine. Figures go in docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlops_config import load_config
from mlops_constructs.build.job_spec import job_spec
from pipeline_code.common import write_json
from pipeline_code.data import preprocess
from pipeline_code.training import evaluate, train
from tooling_code.synthetic import transactions

TARGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="local-pipeline-"))
    spec = job_spec(load_config(REPO / "config").model("fraud-detection"))
    write_json(work / "spec.json", spec)
    started = time.perf_counter()
    (work / "input").mkdir(parents=True, exist_ok=True)
    transactions.generate(args.rows, seed=1).to_csv(work / "input" / "transactions.csv", index=False)
    print(f"setup: {args.rows:,} rows generated and written in {time.perf_counter() - started:.1f} s "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    prep = work / "preprocess"
    steps = [
        ("preprocess", preprocess.main, ["--input", work / "input", "--output", prep]),
        ("train", train.main, ["--train", prep / "train", "--validation", prep / "validation",
                               "--model-dir", work / "model"]),
        ("evaluate", evaluate.main, ["--model", work / "model", "--test", prep / "test",
                                     "--baseline", prep / "baseline", "--output", work / "evaluate"]),
    ]
    # Wall time depends on what else runs; process CPU time (all threads) shows the work itself. On an idle
    # machine wall time is about CPU time for the single-threaded steps and CPU time / 2 for 2-thread training.
    total = 0.0
    print(f"{'step':<10} {'wall s':>7} {'cpu s':>7}")
    for name, step, step_args in steps:
        begin, cpu = time.perf_counter(), time.process_time()
        step(["--spec", str(work / "spec.json"), *map(str, step_args)])
        seconds = time.perf_counter() - begin
        total += seconds
        print(f"{name:<10} {seconds:7.1f} {time.process_time() - cpu:7.1f}")
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"{'total':<10} {total:7.1f}  wall ({verdict} the {TARGET_SECONDS:.0f} s target; "
          f"load average now {os.getloadavg()[0]:.1f})")
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
