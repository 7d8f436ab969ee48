"""Drift checks of hours too large for one invocation: batches for a Step Functions Distributed Map, mergeable
counts from each child, and the reduce step that adds them up. Pure logic; the Lambda handler holds the I/O.

One code path: a child counts its batch with ``DriftWindow.add_stream`` (as the single invocation does for the
whole hour) and returns ``DriftWindow.counts_state``; the reduce step adds the children's states into one window
per variant with ``merge_state`` and scores it with ``DriftWindow.report``. Counts are integers, so the merged
report equals the single pass's byte for byte.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import mlops_contracts as contracts
from monitoring_code.drift_detect import DriftWindow
from monitoring_code.monitoring_window import hour_path
from pipeline_code.training.drift_stats import Baseline

# Capture bytes one child decodes: at the ~50 MB/CPU-s measured in docs/performance.md, about 20 s of work for a
# 2,048 MB Lambda, far inside its timeout even at a quarter of that speed.
BATCH_BYTES = 1024 ** 3
# An hour above this many capture bytes is fanned out (when a state machine is configured): about 40 s of decoding
# for one invocation; a smaller hour is checked in that one invocation.
FANOUT_BYTES = 2 * 1024 ** 3


def fanout_prefix(endpoint: str, hour) -> str:
    return f"{contracts.MONITORING_REPORTS_PREFIX}/{endpoint}/{contracts.DRIFT_FANOUT_PREFIX}/{hour_path(hour)}"


def plan_batches(objects: dict[str, list[dict]], batch_bytes: int = BATCH_BYTES) -> list[dict]:
    """Map items: each variant's objects (``{"Key", "Size"}``) grouped, in key order, into batches of at most
    ``batch_bytes`` (an object larger than that is a batch of its own: a child streams it in bounded memory)."""
    if batch_bytes < 1:
        raise ValueError(f"batch_bytes must be positive, got {batch_bytes}")
    batches = []
    for variant, listed in sorted(objects.items()):
        keys, size = [], 0
        for obj in sorted(listed, key=lambda o: o["Key"]):
            if keys and size + obj["Size"] > batch_bytes:
                batches.append({"variant": variant, "keys": keys, "bytes": size})
                keys, size = [], 0
            keys.append(obj["Key"])
            size += obj["Size"]
        if keys:
            batches.append({"variant": variant, "keys": keys, "bytes": size})
    return batches


def count_batch(baseline: Baseline, streams: Iterable, *, categorical_codes: bool = True) -> dict:
    """A child's work: every stream (one capture object each) counted into one window; its mergeable state.
    ``categorical_codes``: as ``DriftWindow``'s (categoricals arrive as encoder.json codes, not names)."""
    window = DriftWindow(baseline, categorical_codes=categorical_codes)
    for stream in streams:
        window.add_stream(stream)
    return window.counts_state()


def merged_windows(baselines: dict[str, Baseline], outputs: Iterable[dict]) -> dict[str, DriftWindow]:
    """One window per variant, holding the sum of the children's states (``{"variant", "state"}`` each).

    A variant with a baseline but no child output (an hour without its captures) gets an empty window, as in the
    single pass."""
    windows = {variant: DriftWindow(baseline) for variant, baseline in baselines.items()}
    for output in outputs:
        windows[output["variant"]].merge_state(output["state"])
    return windows


def result_writer_outputs(read_json, manifest: dict) -> Iterator[dict]:
    """The children's outputs from the ResultWriter's manifest and result files (``read_json(bucket, key)``).

    Raises RuntimeError when any child failed or is pending: a report from part of the hour would understate it
    (the Map tolerates no failure, so this only guards against a changed definition)."""
    files = manifest.get("ResultFiles", {})
    unfinished = {status: len(entries) for status, entries in files.items() if status != "SUCCEEDED" and entries}
    if unfinished:
        raise RuntimeError(f"the map run {manifest.get('MapRunArn')} left result files {unfinished}: no report "
                           "from part of the hour")
    for entry in files.get("SUCCEEDED", []):
        for execution in read_json(manifest["DestinationBucket"], entry["Key"]):
            output = execution["Output"]
            yield json.loads(output) if isinstance(output, str) else output
