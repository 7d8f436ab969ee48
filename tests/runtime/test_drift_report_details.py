"""What the report and ``mlops drift`` say: zero counts are not problems, a wrong width names both widths, blank
lines are counted, and prediction drift decides the verdict and the exit code."""
from __future__ import annotations

import pytest

import mlops_contracts as contracts
from mlops_cli import drift as drift_cli
from mlops_cli.main import main
from monitoring_code import drift_detect
from monitoring_code.capture_records import capture_line
from tests.support.monitoring_data import capture_file, capture_lines, encoder_for, fraud_baseline
from tooling_code.synthetic import transactions


@pytest.fixture(scope="module")
def baseline():
    return fraud_baseline(rows=6000)


def test_clean_traffic_prints_no_malformed_line_and_reports_no_zero_reasons(baseline):
    window = drift_detect.DriftWindow(baseline)
    window.add_file(capture_file(800, seed=2, drift=0.0, baseline=baseline))
    window.malformed["too_large"] += 0  # a reason touched but never counted
    report = window.report()
    assert report["malformed_by_reason"] == {} and report["wrong_widths"] == {}
    lines = drift_cli.summary(report)
    assert not any("malformed" in line for line in lines), lines
    assert not any("wrong_column_count" in line for line in lines)


def test_wrong_widths_are_named_with_the_expected_width(baseline):
    width = len(baseline.features)
    short = ",".join(["1"] * (width - 2))
    long = ",".join(["1"] * (width + 1))
    text = (capture_file(600, seed=2, drift=0.0, baseline=baseline) + capture_line(short, "0.1") + "\n"
            + capture_line(long, "0.1") + "\n" + capture_line(short, "0.1").replace('":"', '": "') + "\n")
    window = drift_detect.DriftWindow(baseline)
    window.add_file(text)
    report = window.report()
    assert report["malformed_by_reason"] == {"wrong_column_count": 3}
    message = drift_detect.wrong_width_message(report)
    assert message == (f"wrong_column_count: expected {width} fields per row, found {width - 2} in 2 rows, "
                       f"{width + 1} in 1 row")
    assert message in drift_cli.summary(report)
    assert "malformed: 3 (wrong_column_count 3)" in drift_cli.summary(report)


def test_blank_lines_are_counted_and_shown(baseline):
    window = drift_detect.DriftWindow(baseline)
    window.add_file("\n" + capture_file(600, seed=2, drift=0.0, baseline=baseline) + "\n   \n\n")
    report = window.report()
    assert report["blank_lines"] == 4 and report["records"] == 600 and report["malformed_records"] == 0
    assert drift_cli.summary(report)[0].endswith(", 4 blank lines")


def test_prediction_drift_alone_decides_the_verdict_and_the_exit_code(baseline, tmp_path, capsys):
    frame = transactions.generate(1500, seed=8, drift=0.0)
    lines = capture_lines(frame, encoder_for(baseline))
    # Same features as training, but every score near 1: the model's output moved, its inputs did not.
    shifted = [line.replace('"OUTPUT","data":"0.', '"OUTPUT","data":"0.99') for line in lines]
    window = drift_detect.DriftWindow(baseline)
    window.add_file("\n".join(shifted) + "\n")
    report = window.report()
    assert report["drifted_features"] == [] and report["prediction_drifted"] is True
    assert report["verdict"] == drift_detect.VERDICT_DRIFT
    (tmp_path / contracts.BASELINE_FILE).write_text(baseline.to_json())
    (tmp_path / "c.jsonl").write_text("\n".join(shifted) + "\n")
    assert main(["drift", "--baseline", str(tmp_path), "--capture", str(tmp_path / "c.jsonl")]) == 1
    assert "verdict: drift" in capsys.readouterr().out
