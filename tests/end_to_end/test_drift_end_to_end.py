"""End to end with the build's real outputs: `mlops run-local` trains on synthetic transactions, its served package's
inference handler scores new raw traffic (category names, as clients send it), data capture records request and
reply, and `mlops drift` checks that capture against the baseline, reading the category names natively."""
from __future__ import annotations

import json

import pytest

from mlops_cli.main import main
from monitoring_code.capture_records import capture_line, csv_row
from pipeline_code.endpoint import packaging, serving
from tooling_code.synthetic import transactions


@pytest.fixture(scope="module")
def run_local(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    transactions.generate(20_000, seed=3).to_csv(work / "train.csv", index=False)
    assert main(["run-local", "fraud-detection", "--data", str(work / "train.csv"), "--out", str(work / "out"),
                 "--local-versions"]) == 0
    return work


def capture(run_local, name: str, drift: float, seed: int):
    out = run_local / "out"
    model = serving.load(packaging.extract_archive(out / "served" / packaging.MODEL_ARCHIVE, run_local / "served"))
    frame = transactions.generate(4000, seed=seed, drift=drift)[model.encoder["features"]]
    lines = []
    for i, row in enumerate(frame.itertuples(index=False)):
        payload = csv_row([v if isinstance(v, str) else float(v) for v in row])
        reply = serving.handle(model, payload.encode(), "text/csv", "text/csv")
        assert reply.status == 200, reply.body
        lines.append(capture_line(payload, reply.body, inference_id=str(i)))
    path = run_local / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def drift_report(run_local, path, capsys) -> tuple[int, dict]:
    code = main(["drift", "--baseline", str(run_local / "out"), "--capture", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_traffic_like_training_shows_no_drift_in_features_or_scores(run_local, capsys):
    code, report = drift_report(run_local, capture(run_local, "stable", 0.0, 11), capsys)
    assert code == 0 and report["verdict"] == "no_drift"
    assert report["malformed_records"] == 0 and report["records"] == 4000
    assert report["prediction"]["drifted"] is False


def test_drifted_traffic_flags_the_generator_drifted_features_and_the_scores(run_local, capsys):
    code, report = drift_report(run_local, capture(run_local, "drifted", 1.0, 12), capsys)
    assert code == 1
    assert {"amount", "avg_amount_30d", "channel"} <= set(report["drifted_features"])
    assert set(report["drifted_features"]) <= set(transactions.DRIFTED_FEATURES)
    assert report["prediction"]["drifted"] is True
