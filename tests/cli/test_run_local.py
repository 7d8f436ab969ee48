"""``mlops run-local`` end to end: both example models pass their gates, runs are reproducible, bad input is
exit 2 with a clear message and no model, a failed gate is exit 3."""
from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import mlops_contracts as contracts
from mlops_cli.main import main as mlops
from mlops_constructs.build.job_spec import job_spec
from pipeline_code.data import encoding, preprocess
from pipeline_code.training import evaluate
from tooling_code.synthetic import transactions

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
ATTRITION = REPO / "data" / "attrition" / "attrition.csv"

pytestmark = pytest.mark.slow


def run(tmp: Path, model: str, data: Path, *extra: str, config: Path = CONFIG) -> int:
    # --local-versions: these tests check the runner itself with the dev environment's libraries, in-process;
    # make parity checks the image's versions byte for byte.
    return mlops(["run-local", model, "--config-dir", str(config), "--data", str(data), "--out", str(tmp),
                  "--local-versions", *extra])


@pytest.fixture(scope="module")
def attrition_runs(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    return run(first, "employee-attrition", ATTRITION), run(second, "employee-attrition", ATTRITION), first, second


def test_employee_attrition_passes_its_gate_on_the_real_data(attrition_runs, capsys):
    code, _, out, _ = attrition_runs
    assert code == 0
    evaluation = json.loads((out / contracts.EVALUATION_FILE).read_text())
    assert evaluation["binary_classification_metrics"]["auc"]["value"] >= 0.75
    gate = json.loads((out / "gate.json").read_text())
    assert gate["passed"] and [g["name"] for g in gate["gates"]] == ["auc"]
    assert (out / "model" / "xgboost-model").stat().st_size > 0
    baseline = json.loads((out / "baseline" / contracts.BASELINE_FILE).read_text())
    assert baseline["prediction"]["name"] == "prediction" and len(baseline["features"]) == 30
    assert sum(evaluation["binary_classification_metrics"]["confusion_matrix"][a][p]
               for a in "01" for p in "01") == evaluation["test_rows"]


def test_same_seed_gives_byte_identical_model_and_metrics(attrition_runs):
    _, _, first, second = attrition_runs
    for name in ("model/xgboost-model", contracts.EVALUATION_FILE, "gate.json", "baseline/baseline.json",
                 "encoder/encoder.json"):
        assert filecmp.cmp(first / name, second / name, shallow=False), name


def test_another_seed_gives_another_model(attrition_runs, tmp_path):
    _, _, first, _ = attrition_runs
    assert run(tmp_path, "employee-attrition", ATTRITION, "--seed", "8") in (0, 3)
    assert not filecmp.cmp(first / "model" / "xgboost-model", tmp_path / "model" / "xgboost-model", shallow=False)


def test_fraud_detection_passes_all_its_gates_on_generated_transactions(tmp_path, capsys):
    data = tmp_path / "transactions.csv"
    transactions.generate(20_000, seed=1).to_csv(data, index=False)
    assert run(tmp_path / "out", "fraud-detection", data) == 0
    gate = json.loads((tmp_path / "out" / "gate.json").read_text())
    names = {g["name"]: g for g in gate["gates"]}
    assert set(names) == {"auc", "precision", "recall", "bias.positive_rate_difference", "champion"}
    assert names["recall"]["value"] >= 0.95 and names["bias.positive_rate_difference"]["value"] <= 0.1
    progress = capsys.readouterr().out
    assert all(f"] {step} done in" in progress for step in ("validate", "preprocess", "train", "evaluate"))
    # The staging check's known cases: the model reaches the configured recall on them.
    cases = pd.read_csv(CONFIG / "cases" / "fraud-detection-known-fraud.csv")
    matrix = encoding.encode(cases, encoding.load(tmp_path / "out" / "encoder"))
    scores = evaluate.load_booster(tmp_path / "out" / "model").predict(evaluate.xgb.DMatrix(matrix))
    assert (scores >= 0.5).mean() >= 0.95


@pytest.fixture(scope="module")
def attrition() -> pd.DataFrame:
    return pd.read_csv(ATTRITION, dtype=str)


def unseen_category_in_test_split(frame: pd.DataFrame, example_config) -> pd.DataFrame:
    spec = job_spec(example_config.model("employee-attrition"))
    test_rows = preprocess.split_indices(preprocess.labels(frame, spec), spec)["test"]
    frame = frame.copy()
    frame.loc[test_rows[0], "JobRole"] = "Astronaut"
    return frame


BAD_INPUTS = {
    "missing label": (lambda f, c: f.drop(columns=["Attrition"]), "column 'Attrition': rule 'label present'"),
    "wrong type": (lambda f, c: f.assign(DailyRate=["high"] + list(f.DailyRate[1:])),
                   "column 'DailyRate': rule 'type numeric': 1 of 1470 values are not numbers"),
    "all null": (lambda f, c: f.assign(HourlyRate=None), "column 'HourlyRate': rule 'not all null'"),
    "single class": (lambda f, c: f.assign(Attrition="No"), "column 'Attrition': rule 'both classes'"),
    "header only": (lambda f, c: f.head(0), "has a header but no rows"),
    "unseen category": (unseen_category_in_test_split,
                        "column 'JobRole': rule 'known categories': 1 value(s) unseen in training ['Astronaut']"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_exit_2_with_the_rule_and_no_model(case, attrition, example_config, tmp_path, capsys):
    corrupt, message = BAD_INPUTS[case]
    data = tmp_path / "bad.csv"
    corrupt(attrition, example_config).to_csv(data, index=False)
    assert run(tmp_path / "out", "employee-attrition", data) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "model").exists() and not (tmp_path / "out" / "gate.json").exists()


def test_empty_file_and_unknown_model_are_exit_2(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    assert run(tmp_path / "out", "employee-attrition", tmp_path / "empty.csv") == 2
    assert "empty file" in capsys.readouterr().err
    assert run(tmp_path / "out", "no-such-model", ATTRITION) == 2
    assert "no model named 'no-such-model'" in capsys.readouterr().err


def test_a_failed_gate_is_exit_3_naming_gate_value_and_threshold(tmp_path, capsys):
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    path = config / "models" / "employee-attrition.yaml"
    path.write_text(path.read_text().replace("min_metrics: {auc: 0.75}", "min_metrics: {auc: 0.99}"))
    assert run(tmp_path / "out", "employee-attrition", ATTRITION, config=config) == 3
    err = capsys.readouterr().err
    assert "gate auc: 0." in err and "is not >= 0.99" in err
    gate = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert gate["passed"] is False and gate["gates"][0]["threshold"] == 0.99
