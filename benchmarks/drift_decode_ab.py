"""A/B of the drift detector's hot path (decode + count): the working tree against a git revision, in one run.

Loads ``pipeline_code/capture_decode.py`` as it was at ``--rev`` next to the current one, then alternates the two
(``--rounds`` times each, one core) over the same capture files through ``drift_detect.DriftWindow``, and checks
that both give the same report. The files are those ``benchmarks/drift.py --workdir DIR`` wrote.

    .venv/bin/python benchmarks/drift_decode_ab.py --workdir DIR [--rev 4bbe06d] [--files 20] [--rounds 3]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def load_revision(rev: str):
    """``capture_decode`` as of ``rev``, imported under another module name."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:pipeline_code/capture_decode.py"],
                            capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    name = "capture_decode_at_rev"
    spec = importlib.util.spec_from_file_location(name, handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rev", default="4bbe06d", help="git revision to compare with (default: before issue 6's "
                                                         "speed-up)")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from pipeline_code import drift_detect, drift_stats

    before = load_revision(args.rev)
    baseline = drift_stats.Baseline.from_json((args.workdir / "baseline.json").read_bytes())
    files = [p.read_bytes() for p in sorted((args.workdir / "capture").glob("*.jsonl"))[:args.files]]

    def run(old: bool) -> dict:
        window = drift_detect.DriftWindow(baseline)
        if old:
            schema = window.decoder.schema
            window.decoder = before.CaptureDecoder(
                before.CaptureSchema(schema.features, schema.categorical, schema.categorical_codes))
        for data in files:
            window.add_file(data)
        return window.report()

    cpu, reports = {"before": 0.0, "now": 0.0}, {}
    for _ in range(args.rounds):
        for label in cpu:
            start = time.process_time()
            reports[label] = run(label == "before")
            cpu[label] += time.process_time() - start
    records = reports["now"]["records"] * args.rounds
    print(json.dumps({"rev": args.rev, "records": records, "load_avg": os.getloadavg(),
                      **{f"{k}_records_per_cpu_s": round(records / v) for k, v in cpu.items()},
                      "speedup": round(cpu["before"] / cpu["now"], 3),
                      "same_report": reports["before"] == reports["now"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
