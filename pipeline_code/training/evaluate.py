"""Evaluate step: quality and bias at the decision threshold, champion comparison, prediction baseline.

``python3 -m pipeline_code.training.evaluate --spec S --model DIR --test DIR --baseline DIR --output DIR
[--model-package-group NAME] [--encoder DIR --package DIR]``

``--model`` holds ``model.tar.gz`` (SageMaker training output) or ``xgboost-model``. Writes
``OUTPUT/evaluation.json`` (SageMaker model-quality format plus ``bias`` and ``champion``; paths in
docs/model-build.md), ``OUTPUT/baseline.json`` (the feature baseline plus the score distribution on test) and
``OUTPUT/test_scores.csv`` (one score per test row, as the served model formats it). With ``--encoder`` (the
preprocess step's ``encoder.json``) it also writes ``PACKAGE/model.tar.gz``, the served model
(``pipeline_code.endpoint.packaging``), and scores the test split through that package's loader.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from mlops_contracts import BASELINE_FILE, EVALUATION_FILE, MODEL_CARD_EVALUATION_PATH, MODEL_SHA256_KEY
from pipeline_code.common import (
    EXACT_FLOATS,
    PROTECTED_PREFIX,
    DataError,
    csv_files,
    load_spec,
    run_cli,
    write_json,
)
from pipeline_code.endpoint import packaging, serving
from pipeline_code.training import drift_stats, model_card

MODEL_FILE = "xgboost-model"
TEST_SCORES_FILE = "test_scores.csv"  # one score per test row, formatted as the served model formats it
# evaluation.json paths of the bias gate, by configured metric: worst case over every protected attribute.
BIAS_KEYS = {"positive_rate_difference": "max_positive_rate_difference",
             "equal_opportunity_difference": "max_equal_opportunity_difference",
             "disparate_impact": "min_disparate_impact"}


def quality_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """SageMaker model-quality ``binary_classification_metrics`` at a decision threshold."""
    if len(np.unique(y)) < 2:
        raise DataError("test set: rule 'both classes': AUC needs positive and negative rows")
    predicted = (scores >= threshold).astype(int)
    values = {
        "auc": roc_auc_score(y, scores),
        "precision": precision_score(y, predicted, zero_division=0),
        "recall": recall_score(y, predicted, zero_division=0),
        "f1": f1_score(y, predicted, zero_division=0),
        "accuracy": accuracy_score(y, predicted),
    }
    metrics = {name: {"value": float(v), "standard_deviation": "NaN"} for name, v in values.items()}
    (tn, fp), (fn, tp) = confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    metrics["confusion_matrix"] = {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    return metrics


def group_bias(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> dict:
    """Positive-prediction-rate difference, equal-opportunity difference and disparate impact across groups.

    Differences are max minus min over groups (TPR only over groups with positives); disparate impact is the
    lowest positive rate over the highest (1.0 when no group gets positive predictions).
    """
    rates, tprs, sizes = {}, {}, {}
    for group in sorted(set(groups.tolist())):
        mask = groups == group
        sizes[group] = int(mask.sum())
        rates[group] = float(predicted[mask].mean())
        positives = mask & (y == 1)
        if positives.any():
            tprs[group] = float(predicted[positives].mean())
    top = max(rates.values())
    return {
        "groups": sizes,
        "positive_rates": rates,
        "true_positive_rates": tprs,
        "positive_rate_difference": top - min(rates.values()),
        "equal_opportunity_difference": (max(tprs.values()) - min(tprs.values())) if tprs else 0.0,
        "disparate_impact": (min(rates.values()) / top) if top > 0 else 1.0,
    }


def bias_metrics(y: np.ndarray, scores: np.ndarray, threshold: float, attributes: dict) -> dict:
    """Per-attribute bias and the worst case of each metric across attributes (the gated values)."""
    predicted = (scores >= threshold).astype(int)
    per_attribute = {name: group_bias(y, predicted, np.asarray(values, dtype=object).astype(str))
                     for name, values in attributes.items()}
    worst = {key: 0.0 for key in BIAS_KEYS.values()}
    worst["min_disparate_impact"] = 1.0
    for result in per_attribute.values():
        for metric, key in BIAS_KEYS.items():
            pick = min if key.startswith("min_") else max
            worst[key] = pick(worst[key], result[metric])
    return {**worst, "attributes": per_attribute}


def compare_champion(challenger: dict, champion: dict | None, metric_names: list) -> dict:
    """Passed (1.0) when there is no champion or the challenger is at least as good on every gated metric."""
    if champion is None:
        return {"passed": 1.0, "reason": "no approved champion"}
    rows = {}
    for name in metric_names:
        mine = challenger[name]["value"]
        theirs = champion.get("binary_classification_metrics", {}).get(name, {}).get("value")
        rows[name] = {"challenger": mine, "champion": theirs,
                      "passed": theirs is None or (not math.isnan(float(theirs)) and mine >= float(theirs))}
    return {"passed": 1.0 if all(r["passed"] for r in rows.values()) else 0.0, "metrics": rows}


def fetch_champion(group: str, sagemaker=None, s3=None) -> tuple[dict | None, str | None]:
    """evaluation.json of the group's latest Approved package (ModelMetrics.ModelQuality.Statistics), or None."""
    import boto3

    sagemaker = sagemaker or boto3.client("sagemaker")
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                           SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    packages = listed.get("ModelPackageSummaryList", [])
    if not packages:
        return None, None
    arn = packages[0]["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        raise DataError(f"champion {arn} has no ModelMetrics.ModelQuality.Statistics; cannot compare")
    if not uri.startswith("s3://"):
        raise DataError(f"champion {arn}: statistics URI {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")  # the 1.7-1 image ran Python 3.8 until 2024
    s3 = s3 or boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body), arn


def _read_booster(path: Path) -> xgb.Booster:
    with warnings.catch_warnings():  # xgboost >= 2 guesses the format of a file without extension: intended
        warnings.simplefilter("ignore", UserWarning)
        return xgb.Booster(model_file=str(path))


def booster_file(model_dir, scratch) -> Path:
    """``xgboost-model`` itself, or its bytes unpacked from ``model.tar.gz`` into ``scratch``."""
    model_dir = Path(model_dir)
    if (model_dir / MODEL_FILE).is_file():
        return model_dir / MODEL_FILE
    archive = model_dir / "model.tar.gz"
    if not archive.is_file():
        raise DataError(f"{model_dir}: neither {MODEL_FILE} nor model.tar.gz")
    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == MODEL_FILE and m.isfile()), None)
        if member is None:
            raise DataError(f"{archive}: holds no {MODEL_FILE}")
        target = Path(scratch) / MODEL_FILE
        target.write_bytes(tar.extractfile(member).read())
        return target


def load_booster(model_dir) -> xgb.Booster:
    """The booster from ``xgboost-model`` or from inside ``model.tar.gz``."""
    with tempfile.TemporaryDirectory() as scratch:
        return _read_booster(booster_file(model_dir, scratch))


def evaluate(spec: dict, booster: xgb.Booster, test: pd.DataFrame, baseline: drift_stats.Baseline,
             champion: dict | None = None, champion_arn: str | None = None,
             ) -> tuple[dict, drift_stats.Baseline, np.ndarray]:
    """evaluation.json's body, the baseline with the test score distribution, and the test scores."""
    features = baseline.feature_names
    missing = [c for c in [spec["label"], *features] if c not in test.columns]
    if missing:
        raise DataError(f"test set lacks columns {missing}")
    y = test[spec["label"]].to_numpy(dtype=np.int64)
    scores = serving.predict(booster, test[features].to_numpy(dtype=np.float64))
    threshold = float(spec["decision_threshold"])
    quality = quality_metrics(y, scores, threshold)
    attributes = {a: test[PROTECTED_PREFIX + a].to_numpy() for a in spec.get("protected_attributes", [])}
    gates = spec.get("gates", {})
    names = sorted(gates.get("min_metrics", {})) or ["auc"]
    verdict = compare_champion(quality, champion, names) if gates.get("must_beat_champion") else \
        {"passed": 1.0, "reason": "must_beat_champion is off"}
    if champion_arn:
        verdict["champion_package_arn"] = champion_arn
    body = {"binary_classification_metrics": quality, "decision_threshold": threshold, "test_rows": len(y),
            "bias": bias_metrics(y, scores, threshold, attributes), "champion": verdict}
    body[MODEL_CARD_EVALUATION_PATH] = model_card.evaluation_details_json(body)
    scored = drift_stats.Baseline(baseline.features, drift_stats.feature_baseline("prediction", scores, False),
                                  baseline.row_count)
    return body, scored, scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline_code.training.evaluate", description=__doc__.splitlines()[0])
    for name in ("--spec", "--model", "--test", "--baseline", "--output"):
        parser.add_argument(name, required=True)
    parser.add_argument("--model-package-group", help="registry group of the champion; default: no champion")
    parser.add_argument("--encoder", help="preprocess's encoder folder; with --package, package the served model")
    parser.add_argument("--package", help="where to write the served model.tar.gz (needs --encoder)")
    args = parser.parse_args(argv)
    if bool(args.encoder) != bool(args.package):
        raise DataError("--encoder and --package go together")
    spec = load_spec(args.spec)
    test = pd.concat([pd.read_csv(p, **EXACT_FLOATS) for p in csv_files(args.test)], ignore_index=True)
    try:
        baseline = drift_stats.Baseline.from_json((Path(args.baseline) / BASELINE_FILE).read_text())
    except (OSError, drift_stats.BaselineError) as exc:
        raise DataError(f"baseline: {exc}") from None
    champion, arn = (None, None)
    if args.model_package_group and spec.get("gates", {}).get("must_beat_champion"):
        champion, arn = fetch_champion(args.model_package_group)
    with tempfile.TemporaryDirectory() as scratch:
        model_file = booster_file(args.model, scratch)
        model_sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
        if args.encoder:  # score through the served package's own loader, then ship exactly that package
            served = packaging.build_model_dir(
                model_file, args.encoder, decision_threshold=spec["decision_threshold"],
                model_name=spec.get("model", "model"), out_dir=Path(scratch) / "served")
            booster = serving.load(served).booster
            packaging.write_archive(served, Path(args.package) / packaging.MODEL_ARCHIVE)
        else:
            booster = _read_booster(model_file)
        body, scored, scores = evaluate(spec, booster, test, baseline, champion, arn)
    body[MODEL_SHA256_KEY] = model_sha256  # the registered package records it; `mlops reproduce` too
    (Path(args.output) / TEST_SCORES_FILE).parent.mkdir(parents=True, exist_ok=True)
    (Path(args.output) / TEST_SCORES_FILE).write_text("".join(f"{s}\n" for s in serving.format_scores(scores)))
    write_json(Path(args.output) / EVALUATION_FILE, body)
    (Path(args.output) / BASELINE_FILE).write_text(scored.to_json())
    metrics = body["binary_classification_metrics"]
    print("evaluate: " + ", ".join(f"{k} {metrics[k]['value']:.4f}" for k in ("auc", "precision", "recall", "f1"))
          + f"; champion passed {body['champion']['passed']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
