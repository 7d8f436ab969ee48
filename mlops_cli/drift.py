"""``mlops drift``: the drift detector's code on local capture files, against a baseline from ``mlops run-local``.

Exit codes: 0 no drift (or too few rows for a verdict), 1 drift (of a feature or of the predictions), 2 unusable
baseline or capture paths. Files are read in bounded pieces, so memory stays flat whatever their size.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlops_contracts import BASELINE_FILE
from monitoring_code.drift_detect import VERDICT_DRIFT, DriftWindow, wrong_width_message
from pipeline_code.training.drift_stats import SCORERS, Baseline, BaselineError


def register(subparsers) -> None:
    parser = subparsers.add_parser("drift", help="Check capture files for drift against a training baseline.")
    parser.add_argument("--baseline", required=True, type=Path,
                        help=f"baseline directory (OUT/baseline of `mlops run-local`), its parent, or {BASELINE_FILE}")
    parser.add_argument("--capture", required=True, nargs="+", type=Path,
                        help="capture files (JSON Lines) or directories searched for *.jsonl")
    parser.add_argument("--metric", default="psi", choices=sorted(SCORERS), help="score that decides drift")
    parser.add_argument("--threshold", type=float, default=0.2, help="score above which a feature drifted")
    parser.add_argument("--min-samples", type=int, default=500, help="fewer rows give no verdict")
    parser.add_argument("--categorical-codes", action="store_true",
                        help="payloads hold the encoder.json codes of categoricals (a custom image with input: "
                             "encoded); default: category names, as the served model takes them")
    parser.add_argument("--categorical-names", action="store_true", help=argparse.SUPPRESS)  # now the default
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.set_defaults(func=run)


def baseline_path(path: Path) -> Path:
    """The baseline file for DIR, DIR/baseline.json or DIR/baseline/baseline.json."""
    for candidate in (path, path / BASELINE_FILE, path / "baseline" / BASELINE_FILE):
        if candidate.is_file():
            return candidate
    raise BaselineError(f"no {BASELINE_FILE} at {path}, {path / BASELINE_FILE} or {path / 'baseline' / BASELINE_FILE}")


def capture_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"capture path {path} does not exist")
    return files


def run(args) -> int:
    try:
        baseline = Baseline.from_json(baseline_path(args.baseline).read_bytes())
        files = capture_files(args.capture)
    except (BaselineError, FileNotFoundError) as exc:
        print(f"mlops drift: {exc}", file=sys.stderr)
        return 2
    window = DriftWindow(baseline, categorical_codes=args.categorical_codes)
    for path in files:
        with path.open("rb") as stream:
            window.add_stream(stream)
    report = window.report(metric=args.metric, threshold=args.threshold, min_samples=args.min_samples)
    print(json.dumps(report, indent=2) if args.json else "\n".join(summary(report)))
    return 1 if report["verdict"] == VERDICT_DRIFT else 0


def summary(report: dict) -> list[str]:
    counts = f"{report['files']} files, {report['records']} records, {report['rows']} rows"
    if report.get("blank_lines"):
        counts += f", {report['blank_lines']} blank lines"
    lines = [counts]
    if report["malformed_records"]:  # only counts above zero are problems worth a line
        reasons = ", ".join(f"{reason} {n}" for reason, n in report["malformed_by_reason"].items())
        lines.append(f"malformed: {report['malformed_records']} ({reasons})")
    if wrong_width_message(report):
        lines.append(wrong_width_message(report))
    lines.append(f"verdict: {report['verdict']} ({report['metric']} > {report['threshold']})")
    for name, feature in report["features"].items():
        mark = "DRIFT" if feature["drifted"] else ""
        lines.append(f"  {name:<28} {feature['kind']:<11} psi {feature['psi']!s:<10} js "
                     f"{feature['jensen_shannon']!s:<10} linf {feature['linf']!s:<10} {mark}")
    if report.get("prediction"):
        p = report["prediction"]
        lines.append(f"  {'(prediction)':<28} {'numeric':<11} psi {p['psi']!s:<10} js {p['jensen_shannon']!s:<10} "
                     f"linf {p['linf']!s:<10} {'DRIFT' if p['drifted'] else ''}")
    return lines
