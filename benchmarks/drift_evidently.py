"""Evidently's DataDriftPreset on the drift benchmark's files. Runs in .venv-evidently (pandas<3), not the
project venv: Evidently 0.7.23 does not import under pandas 3. Called by benchmarks/drift.py; prints JSON.

    .venv-evidently/bin/python benchmarks/drift_evidently.py WORKDIR
"""
from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def decode(files: list[Path], columns: list[str]) -> pd.DataFrame:
    """The capture files' CSV payloads as a frame: json per line, then one read_csv (a fair, simple decoder)."""
    rows = []
    for path in files:
        for line in path.read_text().splitlines():
            if line:
                rows.append(json.loads(line)["captureData"]["endpointInput"]["data"])
    return pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=columns)


def main(workdir: str) -> None:
    work = Path(workdir)
    meta = json.loads((work / "meta.json").read_text())
    columns, categorical = meta["features"], meta["categorical"]
    start_cpu, start = time.process_time(), time.perf_counter()
    current = decode(sorted((work / "capture").glob("*.jsonl")), columns)
    decoded_cpu, decoded = time.process_time(), time.perf_counter()
    reference = pd.read_csv(work / "reference.csv")
    definition = DataDefinition(numerical_columns=[c for c in columns if c not in categorical],
                                categorical_columns=categorical)
    ready_cpu, ready = time.process_time(), time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=Dataset.from_pandas(current, data_definition=definition),
                                               reference_data=Dataset.from_pandas(reference,
                                                                                  data_definition=definition))
    done_cpu, done = time.process_time(), time.perf_counter()
    scores = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = {"method": config["method"], "threshold": config["threshold"],
                                        "value": float(metric["value"]),
                                        "drifted": bool(metric["value"] >= config["threshold"])}
    print(json.dumps({
        "rows": len(current),
        "decode_cpu_s": decoded_cpu - start_cpu, "decode_wall_s": decoded - start,
        "report_cpu_s": done_cpu - ready_cpu, "report_wall_s": done - ready,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "drifted": sorted(c for c, s in scores.items() if s["drifted"]), "scores": scores,
        "threads": os.environ.get("OMP_NUM_THREADS"),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
