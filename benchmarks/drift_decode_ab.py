"""A/B of the drift detector's hot path (decode + count): the working tree against a git revision, in one run.

Extracts ``pipeline_code/`` as it was at ``--rev``, then alternates child processes (``--rounds`` each, one core,
single-threaded BLAS) that run ``drift_detect.DriftWindow`` from either tree over the same capture files, timing
only the decode-and-count loop (process CPU time). Checks that both trees give the same report. The files are
those ``benchmarks/drift.py --workdir DIR`` wrote.

    .venv/bin/python benchmarks/drift_decode_ab.py --workdir DIR [--rev 4bbe06d] [--files 30] [--rounds 3]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def extract_revision(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "pipeline_code"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def child(tree: str, workdir: str, files: int) -> None:
    """Child process: one pass of the tree's detector over the files; prints CPU seconds and the report."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, tree)
    from monitoring_code import drift_detect
    from pipeline_code.training import drift_stats

    work = Path(workdir)
    baseline = drift_stats.Baseline.from_json((work / "baseline.json").read_bytes())
    contents = [p.read_bytes() for p in sorted((work / "capture").glob("*.jsonl"))[:files]]
    start = time.process_time()
    window = drift_detect.DriftWindow(baseline)
    for data in contents:
        window.add_file(data)
    report = window.report()
    print(json.dumps({"cpu_s": time.process_time() - start, "report": report}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rev", default="4bbe06d", help="revision to compare with (default: before the speed-up)")
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.files)
        return 0
    with tempfile.TemporaryDirectory(prefix="drift-ab-") as before:
        extract_revision(args.rev, Path(before))
        trees = {"before": before, "now": str(REPO)}
        cpu, reports = dict.fromkeys(trees, 0.0), {}
        for _ in range(args.rounds):
            for label, tree in trees.items():
                result = subprocess.run(
                    [sys.executable, __file__, "--workdir", str(args.workdir), "--files", str(args.files),
                     "--child", tree, str(args.workdir)],
                    env={**os.environ, **ONE_CORE_ENV}, capture_output=True, text=True, check=True)
                out = json.loads(result.stdout.strip().splitlines()[-1])
                cpu[label] += out["cpu_s"]
                reports[label] = out["report"]
    records = reports["now"]["records"] * args.rounds
    print(json.dumps({"rev": args.rev, "records": records, "load_avg": [round(x, 2) for x in os.getloadavg()],
                      **{f"{k}_records_per_cpu_s": round(records / v) for k, v in cpu.items()},
                      "speedup": round(cpu["before"] / cpu["now"], 3),
                      "same_report": reports["before"] == reports["now"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
