"""``mlops drift`` on local files laid out like ``mlops run-local`` output."""
from __future__ import annotations

import json

import pytest

import mlops_contracts as contracts
from mlops_cli.main import main
from tests.support.monitoring_data import capture_file, fraud_baseline


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run-local")
    baseline = fraud_baseline(rows=8000)
    (out / "baseline").mkdir()
    (out / "baseline" / contracts.BASELINE_FILE).write_text(baseline.to_json())
    (out / "capture" / "primary").mkdir(parents=True)
    (out / "capture" / "primary" / "drifted.jsonl").write_text(capture_file(1500, seed=3, drift=1.0,
                                                                            baseline=baseline, raw=True))
    (out / "stable.jsonl").write_text(capture_file(1500, seed=4, drift=0.0, baseline=baseline, raw=True) + "{trunc\n")
    return out


def test_json_report_flags_drift_and_exits_1(run_dir, capsys):
    code = main(["drift", "--baseline", str(run_dir), "--capture", str(run_dir / "capture"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["verdict"] == "drift"
    assert report["records"] == 1500 and report["malformed_records"] == 0
    assert report["features"]["amount"]["drifted"] is True
    assert report["features"]["hour_of_day"]["drifted"] is False
    assert set(report["features"]["channel"]) >= {"jensen_shannon", "linf", "psi", "score", "drifted"}


def test_stable_file_exits_0_and_counts_malformed(run_dir, capsys):
    code = main(["drift", "--baseline", str(run_dir / "baseline"), "--capture", str(run_dir / "stable.jsonl"),
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["verdict"] == "no_drift"
    assert report["malformed_records"] == 1 and report["drifted_features"] == []


def test_text_summary_names_drifted_features(run_dir, capsys):
    main(["drift", "--baseline", str(run_dir), "--capture", str(run_dir / "capture")])
    out = capsys.readouterr().out
    assert "verdict: drift" in out
    assert next(line for line in out.splitlines() if line.strip().startswith("amount")).endswith("DRIFT")


def test_missing_baseline_exits_2_naming_the_paths_tried(tmp_path, capsys):
    code = main(["drift", "--baseline", str(tmp_path), "--capture", str(tmp_path)])
    assert code == 2
    assert f"no baseline.json at {tmp_path}" in capsys.readouterr().err


def test_missing_capture_path_exits_2(run_dir, capsys):
    code = main(["drift", "--baseline", str(run_dir), "--capture", str(run_dir / "nope.jsonl")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
