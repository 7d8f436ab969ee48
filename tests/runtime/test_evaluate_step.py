"""The evaluate step end to end through its CLI: a real booster, the spec's threshold (not the default) in every
metric of evaluation.json, the score distribution in baseline.json, and bad inputs as exit 2."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, recall_score

from mlops_contracts import BASELINE_FILE, EVALUATION_FILE
from pipeline_code.common import PROTECTED_PREFIX, run_cli
from pipeline_code.training import drift_stats, evaluate
from pipeline_code.training.evaluate import xgb
from tests.support.training_data import labelled_sample, train_booster

THRESHOLD = 0.3


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    """A trained booster and the evaluate step's inputs: spec (threshold 0.3), test set, feature baseline."""
    root = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(11)
    x, y = labelled_sample(rng, 400, noise=0.8, cut=0.4)
    spec = {"label": "label", "positive_class": "1", "features": ["a", "b"], "categorical": [], "seed": 3,
            "decision_threshold": THRESHOLD, "protected_attributes": ["group"],
            "hyperparameters": {"num_round": "15", "max_depth": "2", "objective": "binary:logistic",
                                "eval_metric": "auc"},
            "gates": {"min_metrics": {"recall": 0.5}, "bias": None, "must_beat_champion": False}}
    model = train_booster(root, spec, x, y)
    test_x, test_y = labelled_sample(rng, 300, noise=0.8, cut=0.4)
    test = pd.DataFrame({"label": test_y,
                         "a": test_x[:, 0], "b": test_x[:, 1],
                         PROTECTED_PREFIX + "group": np.where(test_x[:, 1] > 0, "x", "y")})
    (root / "test").mkdir()
    test.to_csv(root / "test" / "test.csv", index=False)
    (root / "baseline").mkdir()
    (root / "baseline" / BASELINE_FILE).write_text(
        drift_stats.build_baseline({"a": x[:, 0], "b": x[:, 1]}, set()).to_json())
    (root / "spec.json").write_text(json.dumps(spec))
    argv = ["--spec", str(root / "spec.json"), "--model", str(model.parent), "--test", str(root / "test"),
            "--baseline", str(root / "baseline"), "--output", str(root / "out")]
    with warnings.catch_warnings():  # xgboost guesses the format of a file without extension: intended
        warnings.simplefilter("ignore", UserWarning)
        scores = xgb.Booster(model_file=str(model)).predict(xgb.DMatrix(test[["a", "b"]].to_numpy()))
    return {"root": root, "argv": argv, "test": test, "scores": scores}


def test_evaluation_json_holds_every_metric_at_the_spec_threshold(step, capsys, monkeypatch):
    # must_beat_champion is off: a registry group on the command line must not be read.
    monkeypatch.setattr(evaluate, "fetch_champion", lambda *a, **k: pytest.fail("champion fetched"))
    assert evaluate.main([*step["argv"], "--model-package-group", "g"]) == 0
    body = json.loads((step["root"] / "out" / EVALUATION_FILE).read_text())
    y, scores = step["test"]["label"].to_numpy(), step["scores"]
    predicted = (scores >= THRESHOLD).astype(int)
    assert predicted.sum() != (scores >= 0.5).sum(), "the fixture must tell 0.3 from the default 0.5"
    (tn, fp), (fn, tp) = confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    metrics = body["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert metrics["recall"]["value"] == pytest.approx(recall_score(y, predicted))
    assert (body["decision_threshold"], body["test_rows"]) == (THRESHOLD, len(y))
    groups = step["test"][PROTECTED_PREFIX + "group"].to_numpy()
    assert body["bias"]["attributes"]["group"]["positive_rates"] == {
        g: pytest.approx(predicted[groups == g].mean()) for g in ("x", "y")}
    assert body["champion"] == {"passed": 1.0, "reason": "must_beat_champion is off"}
    printed = capsys.readouterr().out
    assert f"recall {metrics['recall']['value']:.4f}" in printed and "champion passed 1.0" in printed


def test_baseline_json_gains_the_test_score_distribution(step):
    assert evaluate.main(step["argv"]) == 0
    written = drift_stats.Baseline.from_json((step["root"] / "out" / BASELINE_FILE).read_text())
    expected = drift_stats.feature_baseline("prediction", step["scores"], False)
    assert written.feature_names == ["a", "b"]
    assert written.prediction.edges == pytest.approx(expected.edges)
    assert written.prediction.proportions == pytest.approx(expected.proportions)


@pytest.mark.parametrize("damage", ["baseline", "columns"])
def test_bad_inputs_exit_2_with_the_reason(step, tmp_path, capsys, damage):
    argv = list(step["argv"])
    if damage == "baseline":
        (tmp_path / BASELINE_FILE).write_text('{"version": 99}')
        argv[argv.index("--baseline") + 1] = str(tmp_path)
        reason = "baseline: baseline version 99"
    else:
        (tmp_path / "test.csv").write_text("label,a\n1,0.5\n0,0.1\n")
        argv[argv.index("--test") + 1] = str(tmp_path)
        reason = "test set lacks columns ['b']"
    assert run_cli(evaluate.main, argv) == 2
    assert reason in capsys.readouterr().err
