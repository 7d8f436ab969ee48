"""Drift detector benchmark: 1M capture records (20-feature CSV payloads, some features drifted on purpose).

Measures, on one core (CPU affinity 1, single-threaded BLAS/OpenMP), in separate child processes so that peak
RSS is each detector's own: records/s and peak RSS of our detector (``monitoring_code.drift_detect``, the code the
Lambda runs), then Evidently 0.7.23's DataDriftPreset on the same files and the same reference data, in
.venv-evidently (pandas<3; created here on first use). Prints a JSON summary and a Markdown table.

    .venv/bin/python benchmarks/drift.py [--records 1000000] [--files 100] [--workdir DIR] [--no-evidently]
        [--memory] [--memory-only]

``--memory`` adds the bounded-memory cases: one file of ``--records`` compact records and one file of at least
1 GiB in the spaced JSON form, each through ``mlops drift`` (the CLI) and through the Lambda's code path
(``analyze_variant`` reading a botocore StreamingBody), each in its own child process: peak RSS and records/CPU-s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
EVIDENTLY_VENV = REPO / ".venv-evidently"
EVIDENTLY_PINS = ["pandas==2.3.3", "evidently==0.7.23"]
ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "NUMEXPR_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}
NUMERIC = [f"f{i:02d}" for i in range(18)]
CATEGORICAL = ["c0", "c1"]
FEATURES = NUMERIC + CATEGORICAL
# Drifted on purpose: mean shifts, a scale change and a category-mix change. Every other feature is stable.
DRIFTED = {"f00": "mean +0.5 sd", "f01": "scale x1.6", "f02": "mean +0.6 sd", "f07": "scale x0.6",
           "c0": "mix shifts to the rarest categories"}
LINE = ('{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{}",'
        '"encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
        '"data":"{}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"e-{}","inferenceId":"{}",'
        '"inferenceTime":"2026-11-01T12:00:00Z"}},"eventVersion":"0"}}')


def frame(rng: np.random.Generator, n: int, drift: bool) -> pd.DataFrame:
    """Numeric features of several shapes, two categorical features as model-input codes."""
    data = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 3
        values = (rng.normal(50 + i, 5 + i, n) if kind == 0 else
                  rng.lognormal(3 + 0.1 * i, 0.6, n) if kind == 1 else rng.poisson(3 + i, n).astype(float))
        if drift and name in ("f00", "f02"):
            values = values + (0.5 if name == "f00" else 0.6) * values.std()
        if drift and name in ("f01", "f07"):
            values = values.mean() + (values - values.mean()) * (1.6 if name == "f01" else 0.6)
        data[name] = np.round(values, 4)
    shares = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    data["c0"] = rng.choice(6, n, p=shares[::-1] if drift else shares).astype(float)
    data["c1"] = rng.choice(4, n, p=[0.7, 0.2, 0.07, 0.03]).astype(float)
    return pd.DataFrame(data)


def scores(f: pd.DataFrame) -> np.ndarray:
    z = 0.02 * (f["f00"] - 50) + 0.01 * (f["f01"] - 20) - 0.3 * f["c0"]
    return (1 / (1 + np.exp(-z.to_numpy()))).round(5)


def generate(work: Path, records: int, files: int, seed: int = 7) -> None:
    """reference.csv (training sample), baseline.json (its baseline) and capture/*.jsonl."""
    from pipeline_code.training import drift_stats

    rng = np.random.default_rng(seed)
    reference = frame(rng, 200_000, drift=False)
    reference.to_csv(work / "reference.csv", index=False)
    # The baseline holds category names "0".."5" (sorted, so category i is code i); the capture holds codes.
    columns = {n: reference[n].to_numpy() for n in NUMERIC}
    columns.update({n: reference[n].astype(int).astype(str).to_numpy() for n in CATEGORICAL})
    baseline = drift_stats.build_baseline(columns, set(CATEGORICAL), predictions=scores(reference))
    (work / "baseline.json").write_text(baseline.to_json())
    (work / "meta.json").write_text(json.dumps({"features": FEATURES, "categorical": CATEGORICAL,
                                                "records": records, "drifted": sorted(DRIFTED)}))
    capture = work / "capture"
    capture.mkdir()
    per_file = -(-records // files)
    for index, start in enumerate(range(0, records, per_file)):
        n = min(per_file, records - start)
        current = frame(rng, n, drift=True)
        payloads = current.to_csv(header=False, index=False, float_format="%.6g").splitlines()
        outputs = scores(current).astype(str)
        lines = [LINE.format(p, o, start + i, start + i) for i, (p, o) in enumerate(zip(payloads, outputs))]
        (capture / f"part-{index:04d}.jsonl").write_text("\n".join(lines) + "\n")


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_detector(workdir: str) -> None:
    """Child process: our detector over every capture file; prints JSON."""
    one_core()
    from monitoring_code import drift_detect
    from pipeline_code.training import drift_stats

    work = Path(workdir)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start_cpu, start = time.process_time(), time.perf_counter()
    baseline = drift_stats.Baseline.from_json((work / "baseline.json").read_bytes())
    window = drift_detect.DriftWindow(baseline)
    for path in sorted((work / "capture").glob("*.jsonl")):
        window.add_file(path.read_bytes())
    report = window.report(metric="psi", threshold=0.2, min_samples=500)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    print(json.dumps({
        "records": report["records"], "rows": report["rows"], "malformed": report["malformed_records"],
        "cpu_s": cpu, "wall_s": wall, "records_per_cpu_s": report["records"] / cpu,
        "records_per_wall_s": report["records"] / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_after_imports_mb": rss_before,
        "drifted": sorted(report["drifted_features"]),
        "scores": {n: f["psi"] for n, f in report["features"].items()},
    }))


def generate_single(path: Path, records: int, *, spaced: bool, min_bytes: int = 0, seed: int = 11) -> dict:
    """One capture file of ``records`` records (more, until it holds ``min_bytes``), written 100k at a time."""
    rng = np.random.default_rng(seed)
    written = size = 0
    with path.open("w") as out:
        while written < records or size < min_bytes:
            n = 100_000
            current = frame(rng, n, drift=True)
            payloads = current.to_csv(header=False, index=False, float_format="%.6g").splitlines()
            outputs = scores(current).astype(str)
            lines = [LINE.format(p, o, written + i, written + i) for i, (p, o) in enumerate(zip(payloads, outputs))]
            text = "\n".join(lines) + "\n"
            if spaced:  # Python's json.dumps separators: the form the issue measured at 4.4 GB peak
                text = text.replace('":"', '": "').replace('","', '", "').replace('":{', '": {').replace('},"', '}, "')
            out.write(text)
            written, size = written + n, size + len(text)
    return {"records": written, "bytes": size}


def run_memory_child(kind: str, workdir: str, capture: str) -> None:
    """Child process: one large file through the CLI or the Lambda path; prints peak RSS and rates."""
    import contextlib
    import io

    one_core()
    start_cpu = time.process_time()
    if kind == "cli":
        from mlops_cli.main import main as cli

        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = cli(["drift", "--baseline", workdir, "--capture", capture, "--json"])
        report = json.loads(printed.getvalue())
        assert code in (0, 1), code
    else:
        from botocore.response import StreamingBody

        from functions.drift_detector import handler
        from pipeline_code.training.drift_stats import Baseline

        size = os.path.getsize(capture)

        class LocalS3:  # get_object as boto3 returns it: a StreamingBody over the object's bytes
            def get_object(self, Bucket, Key):
                return {"Body": StreamingBody(open(Key, "rb"), size)}

        baseline = Baseline.from_json((Path(workdir) / "baseline.json").read_bytes())
        report = handler.analyze_variant(LocalS3(), "bucket", baseline, [{"Key": capture, "Size": size}],
                                         metric="psi", threshold=0.2, min_samples=500)
    cpu = time.process_time() - start_cpu
    print(json.dumps({"path": kind, "records": report["records"], "cpu_s": cpu,
                      "records_per_cpu_s": report["records"] / cpu, "drifted": sorted(report["drifted_features"]),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def memory_cases(work: Path, records: int) -> list[dict]:
    cases = []
    for name, spaced, min_bytes in (("single_file_compact", False, 0), ("gib_file_spaced", True, 1024 ** 3)):
        path = work / f"{name}.jsonl"
        if not path.exists():
            started = time.perf_counter()
            meta = generate_single(path, records if not min_bytes else 0, spaced=spaced, min_bytes=min_bytes)
            print(f"generated {name}: {meta} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for kind in ("cli", "lambda"):
            result = child([sys.executable, str(Path(__file__).resolve()), "--memory-child", kind, str(work),
                            str(path)])
            cases.append({"case": name, "file_mb": path.stat().st_size / 1024 ** 2, **result})
    return cases


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_PINS], check=True)
    return python


def child(command: list[str]) -> dict:
    env = {**os.environ, **ONE_CORE_ENV}
    prefix = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if _has("taskset") else []
    result = subprocess.run(prefix + command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{command[1]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _has(tool: str) -> bool:
    return any((Path(p) / tool).exists() for p in os.environ.get("PATH", "").split(os.pathsep))


def calibration() -> float:
    """CPU seconds of a fixed pure-Python loop: compares this machine with others."""
    start = time.process_time()
    sum(range(10_000_000))
    return time.process_time() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--memory", action="store_true", help="add the large single-file cases")
    parser.add_argument("--memory-only", action="store_true", help="only the large single-file cases")
    parser.add_argument("--detector-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.detector_child:
        run_detector(args.detector_child)
        return 0
    if args.memory_child:
        run_memory_child(*args.memory_child)
        return 0
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "meta.json").exists():
            started = time.perf_counter()
            generate(work, args.records, args.files)
            print(f"generated {args.records} records in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        memory = memory_cases(work, args.records) if args.memory or args.memory_only else []
        if args.memory_only:
            print(json.dumps(memory, indent=1))
            print("\n".join(memory_table(memory)))
            return 0
        ours = child([sys.executable, str(Path(__file__).resolve()), "--detector-child", str(work)])
        evidently = None
        if not args.no_evidently:
            evidently = child([str(ensure_evidently()), str(REPO / "benchmarks" / "drift_evidently.py"), str(work)])
        summary = summarize(ours, evidently, calibration())
        summary["memory"] = memory
        print(json.dumps(summary, indent=1))
        print("\n".join(table(summary) + memory_table(memory)))
    return 0


def summarize(ours: dict, evidently: dict | None, calibration_s: float) -> dict:
    summary = {"calibration_cpu_s": calibration_s, "planted_drift": sorted(DRIFTED), "ours": ours}
    if evidently:
        ev_total = evidently["decode_cpu_s"] + evidently["report_cpu_s"]
        summary.update(evidently=evidently, speedup_total=ev_total / ours["cpu_s"],
                       speedup_vs_report_only=evidently["report_cpu_s"] / ours["cpu_s"],
                       same_flags=ours["drifted"] == evidently["drifted"])
    return summary


def table(s: dict) -> list[str]:
    o = s["ours"]
    ours = (f"| ours (drift_detect) | {o['records']} | {o['cpu_s']:.2f} | {o['records_per_cpu_s']:,.0f} | "
            f"{o['wall_s']:.2f} | {o['peak_rss_mb']:.0f} | {', '.join(o['drifted'])} |")
    lines = ["| | records | CPU s | records/CPU-s | wall s | peak RSS MB | flagged |", "|---|---|---|---|---|---|---|",
             ours]
    if "evidently" in s:
        e = s["evidently"]
        total = e["decode_cpu_s"] + e["report_cpu_s"]
        lines.append(f"| Evidently DataDriftPreset (decode + report) | {e['rows']} | {total:.2f} "
                     f"({e['decode_cpu_s']:.1f} + {e['report_cpu_s']:.1f}) | {e['rows'] / total:,.0f} | "
                     f"{e['decode_wall_s'] + e['report_wall_s']:.2f} | {e['peak_rss_mb']:.0f} | "
                     f"{', '.join(e['drifted'])} |")
        lines.append(f"\nspeed-up: {s['speedup_total']:.1f}x (vs Evidently's report alone: "
                     f"{s['speedup_vs_report_only']:.1f}x); same features flagged: {s['same_flags']}; "
                     f"planted: {', '.join(s['planted_drift'])}")
    lines.append(f"calibration: sum(range(1e7)) took {s['calibration_cpu_s']:.2f} CPU s on this machine")
    return lines


def memory_table(cases: list[dict]) -> list[str]:
    if not cases:
        return []
    lines = ["", "| case | path | file MB | records | CPU s | records/CPU-s | peak RSS MB | flagged |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for c in cases:
        lines.append(f"| {c['case']} | {c['path']} | {c['file_mb']:,.0f} | {c['records']:,} | {c['cpu_s']:.1f} | "
                     f"{c['records_per_cpu_s']:,.0f} | {c['peak_rss_mb']:.0f} | {', '.join(c['drifted'])} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
