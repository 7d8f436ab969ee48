"""The served model's cost over a bare ``Booster.predict``, side by side in one run.

Trains fraud-detection's configured XGBoost (its hyperparameters, on synthetic transactions), packages it as the
build does (``pipeline_code.endpoint.packaging``) and loads it as the container does (``serving.model_fn``). Then, on one
core, alternating the two in the same loop so machine noise hits both alike:

- **single record**: ``serving.handle`` on one raw CSV row (parse, encode, predict, format the reply) against
  ``Booster.predict(DMatrix(row))`` on the same row pre-encoded; p50 and p99 latency of each, and their ratio;
- **1,000-record batches**: the same for a 1,000-row raw CSV body against the pre-encoded 1,000 x 12 matrix;
  records per second of each, and their ratio.

    .venv/bin/python benchmarks/serving.py [--requests 3000] [--batches 60] [--json]

Goal (issue 13): the encoder adds at most 20 % to single-record p99.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # as the container sets OMP_NUM_THREADS=1 for serving


def build(work: Path):
    import xgboost as xgb

    from mlops_config import load_config
    from mlops_constructs.build.job_spec import job_spec
    from pipeline_code.data import encoding
    from pipeline_code.endpoint import packaging, serving
    from pipeline_code.training.train import booster_params
    from tooling_code.synthetic import transactions

    spec = job_spec(load_config(REPO / "config").model("fraud-detection"))
    frame = transactions.generate(20_000, seed=1)
    features = list(spec["features"])
    encoder = encoding.fit(features, {c: sorted(frame[c].dropna().astype(str).unique()) for c in spec["categorical"]})
    params, rounds = booster_params(spec["hyperparameters"], spec["seed"])
    label = frame[spec["label"]].astype(int).to_numpy()
    booster = xgb.train(params, xgb.DMatrix(encoding.encode(frame, encoder), label=label), num_boost_round=rounds)
    booster.save_model(str(work / "xgboost-model.json"))
    encoding.save(encoder, work)
    folder = packaging.build_model_dir(work / "xgboost-model.json", work, decision_threshold=0.5,
                                       model_name="fraud-detection", out_dir=work / "model")
    traffic = transactions.generate(5_000, seed=2)[features]
    return serving.model_fn(folder), traffic


def csv_body(frame) -> bytes:
    return frame.to_csv(header=False, index=False).encode()


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import numpy as np
    import xgboost as xgb

    from pipeline_code.data import encoding
    from pipeline_code.endpoint import serving

    with tempfile.TemporaryDirectory() as scratch:
        model, traffic = build(Path(scratch))
    booster = model.booster
    rows = [csv_body(traffic.iloc[[i]]) for i in range(len(traffic))]
    encoded = encoding.encode(traffic, model.encoder)

    def bare(matrix):
        return booster.predict(xgb.DMatrix(matrix, missing=np.nan), validate_features=False)

    for i in range(200):  # warm both paths
        serving.handle(model, rows[i], "text/csv", "text/csv")
        bare(encoded[i:i + 1])
    served_single, bare_single = [], []
    clock = time.perf_counter
    for n in range(args.requests):
        i = n % len(rows)
        start = clock()
        reply = serving.handle(model, rows[i], "text/csv", "text/csv")
        served_single.append(clock() - start)
        start = clock()
        score = bare(encoded[i:i + 1])
        bare_single.append(clock() - start)
        if n < 50:
            assert reply.body.split(",")[0] == str(score[0]), "served and bare scores differ"
    batch_bodies = [csv_body(traffic.iloc[s:s + 1000]) for s in range(0, 4001, 1000)]
    batch_matrices = [encoded[s:s + 1000] for s in range(0, 4001, 1000)]
    served_batch = bare_batch = 0.0
    for n in range(args.batches):
        k = n % len(batch_bodies)
        start = clock()
        reply = serving.handle(model, batch_bodies[k], "text/csv", "text/csv")
        served_batch += clock() - start
        start = clock()
        bare(batch_matrices[k])
        bare_batch += clock() - start
        assert reply.status == 200
    records = args.batches * 1000
    result = {
        "requests": args.requests, "batches": args.batches, "features": len(model.encoder["features"]),
        "trees": booster.num_boosted_rounds(), "xgboost": xgb.__version__,
        "single_p50_us": {"served": percentile(served_single, 50) * 1e6, "bare": percentile(bare_single, 50) * 1e6},
        "single_p99_us": {"served": percentile(served_single, 99) * 1e6, "bare": percentile(bare_single, 99) * 1e6},
        "batch_records_per_s": {"served": records / served_batch, "bare": records / bare_batch},
    }
    result["single_p50_ratio"] = result["single_p50_us"]["served"] / result["single_p50_us"]["bare"]
    result["single_p99_ratio"] = result["single_p99_us"]["served"] / result["single_p99_us"]["bare"]
    result["batch_throughput_ratio"] = result["batch_records_per_s"]["served"] / result["batch_records_per_s"]["bare"]
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"fraud-detection model: {result['trees']} trees, {result['features']} features, xgboost {xgb.__version__}")
    for key, label in (("single_p50_us", "single-record p50"), ("single_p99_us", "single-record p99")):
        print(f"{label:>22}: served {result[key]['served']:8.1f} us   bare {result[key]['bare']:8.1f} us   "
              f"ratio {result[key.replace('_us', '_ratio')]:.3f}")
    rate = result["batch_records_per_s"]
    print(f"{'1,000-record batches':>22}: served {rate['served']:8.0f} rec/s bare {rate['bare']:8.0f} rec/s "
          f"ratio {result['batch_throughput_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
