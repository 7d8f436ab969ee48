"""The quality gate on evaluation.json: metric floors, the bias limit, the champion comparison.

The local runner uses it; in the cloud, ConditionSteps apply the same thresholds to the same JSON paths.
"""
from __future__ import annotations

import mlops_contracts as contracts
from pipeline_code.training.evaluate import BIAS_KEYS


def evaluate_gates(evaluation: dict, gates: dict) -> dict:
    """Per-gate ``{name, path, value, threshold, comparison, passed}`` and the overall ``passed``."""
    results = []
    metrics = evaluation["binary_classification_metrics"]
    for name, floor in sorted(gates.get("min_metrics", {}).items()):
        value = float(metrics[name]["value"])
        results.append({"name": name, "path": f"binary_classification_metrics.{name}.value", "value": value,
                        "threshold": float(floor), "comparison": ">=", "passed": value >= floor})
    bias = gates.get("bias")
    if bias:
        key = BIAS_KEYS[bias["metric"]]
        value = float(evaluation["bias"][key])
        lower_bound = key.startswith("min_")  # disparate impact: a ratio that must stay high
        passed = value >= bias["limit"] if lower_bound else value <= bias["limit"]
        results.append({"name": f"bias.{bias['metric']}", "path": f"bias.{key}", "value": value,
                        "threshold": float(bias["limit"]), "comparison": ">=" if lower_bound else "<=",
                        "passed": passed})
    if gates.get("must_beat_champion"):
        value = float(evaluation["champion"]["passed"])
        results.append({"name": "champion", "path": contracts.CHAMPION_PASSED_PATH, "value": value, "threshold": 1.0,
                        "comparison": ">=", "passed": value >= 1.0})
    return {"passed": all(r["passed"] for r in results), "gates": results}


def describe_failures(verdict: dict) -> list:
    """One line per failed gate: name, value and threshold."""
    return [f"gate {g['name']}: {g['value']:.4f} is not {g['comparison']} {g['threshold']:g}"
            for g in verdict["gates"] if not g["passed"]]
