"""The model card's evaluation section, built by the evaluate step from its own report. Pure Python.

SageMaker's model card JSON schema (snake_case; see the AWS::SageMaker::ModelCard ``Content`` definition in the
CloudFormation registry schema): ``evaluation_details`` is a list of evaluations, each with ``metric_groups`` of
``metric_data`` entries ``{"name", "type": "number"|"string"|"boolean", "value"}``. The rest of the card (owner,
intended use, data version, gate thresholds, limits) is assembled by the build pipeline's RegisterModel step.
"""
from __future__ import annotations

import json
import math

MAX_NAME = 63  # evaluation and metric-group names: pattern .{1,63}
QUALITY_NAMES = ("auc", "precision", "recall", "f1", "accuracy")


def _number(name: str, value) -> dict | None:  # a tuple in isinstance: the XGBoost 1.7-1 image runs Python 3.9
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return {"name": name[:255], "type": "number", "value": float(value)}


def evaluation_details(report: dict, *, dataset: str = "held-out test split") -> list[dict]:
    """``evaluation_details`` from an evaluation.json body (``pipeline_code.training.evaluate``)."""
    quality = report.get("binary_classification_metrics") or {}
    quality_data = [m for m in (_number(n, (quality.get(n) or {}).get("value")) for n in QUALITY_NAMES) if m]
    bias = report.get("bias") or {}
    worst = [m for m in (_number(k, v) for k, v in sorted(bias.items()) if k != "attributes") if m]
    groups = [{"name": "quality", "metric_data": quality_data}]
    if worst:
        groups.append({"name": "bias (worst over protected attributes)", "metric_data": worst})
    for attribute, result in sorted((bias.get("attributes") or {}).items()):
        data = [m for m in (_number(k, result.get(k)) for k in
                            ("positive_rate_difference", "equal_opportunity_difference", "disparate_impact")) if m]
        if data:
            groups.append({"name": f"bias: {attribute}"[:MAX_NAME], "metric_data": data})
    champion = report.get("champion") or {}
    observation = (f"{report.get('test_rows', '?')} rows, decision threshold {report.get('decision_threshold', '?')}"
                   f"; champion check: {champion.get('reason', 'passed' if champion.get('passed') else 'n/a')}")
    return [{"name": "test set", "evaluation_observation": observation[:2096], "datasets": [dataset[:1024]],
             "metric_groups": groups}]


def evaluation_details_json(report: dict) -> str:
    """The same, as the compact JSON text the RegisterModel step splices into the card."""
    return json.dumps(evaluation_details(report), separators=(",", ":"), sort_keys=True)
