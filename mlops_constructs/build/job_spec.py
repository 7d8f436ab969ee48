"""The job spec: the one JSON document every build step reads (``--spec``), derived from a model's config.

The CDK pipeline ships it next to the scripts; the local runner writes it before the first step. Plain JSON,
sorted keys, no timestamps: the same config always gives the same bytes.
"""
from __future__ import annotations

import json

from mlops_config.model import ModelConfig

SPEC_VERSION = 1
# Shares of the rows that go to train / validation / test (stratified on the label).
SPLIT = {"train": 0.7, "validation": 0.15, "test": 0.15}
# Hyperparameters whose XGBoost defaults changed between the images (1.7: tree_method auto -> exact on small
# data, base_score 0.5; 3.x: hist, base_score estimated from the labels) or depend on the machine (nthread: all
# cores; hist sums gradients per thread). Explicit, so every image and the local run train the same way;
# a model config's own value wins.
EXPLICIT_HYPERPARAMETERS = {"tree_method": "hist", "base_score": "0.5", "nthread": "2"}


def _algorithm_hyperparameters(model: ModelConfig) -> dict[str, str]:
    """Hyperparameters exactly as SageMaker's built-in XGBoost receives them: strings, with the seed and
    ``EXPLICIT_HYPERPARAMETERS`` (built-in XGBoost only: a custom image gets its own hyperparameters)."""
    explicit = EXPLICIT_HYPERPARAMETERS if model.training.algorithm == "xgboost" else {}
    values = {**explicit, **{name: str(value) for name, value in model.training.hyperparameters.items()}}
    values["seed"] = str(model.training.seed)
    return dict(sorted(values.items()))


def job_spec(model: ModelConfig) -> dict:
    """Everything the validate/preprocess/train/evaluate steps need to know about a model, as plain JSON."""
    data = model.data
    gate = model.quality_gate
    columns = {
        name: rule.model_dump(exclude_none=True) for name, rule in sorted((data.columns or {}).items())
    }
    spec = {
        "spec_version": SPEC_VERSION,
        "model": model.name,
        "label": data.label,
        "positive_class": data.positive_class,
        "features": data.features if isinstance(data.features, str) else list(data.features),
        "categorical": sorted(data.categorical),
        "protected_attributes": list(data.protected_attributes),
        "max_null_fraction": data.max_null_fraction,
        "columns": columns,
        "decision_threshold": gate.decision_threshold,
        "seed": model.training.seed,
        "split": dict(SPLIT),
        "hyperparameters": _algorithm_hyperparameters(model),
        "gates": {
            "min_metrics": dict(sorted(gate.min_metrics.items())),
            "bias": gate.bias.model_dump() if gate.bias else None,
            "must_beat_champion": gate.must_beat_champion,
        },
    }
    return json.loads(json.dumps(spec, sort_keys=True))


def job_spec_json(model: ModelConfig) -> str:
    """The spec as canonical JSON text (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(job_spec(model), sort_keys=True, indent=2) + "\n"
