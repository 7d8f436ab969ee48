"""The model card each package carries from registration: CreateModelPackage's ``ModelCard`` (a
``ModelPackageModelCard``: ``ModelCardContent`` JSON text and ``ModelCardStatus``).

The content follows SageMaker's model card JSON schema as simplified for packages: no ``model_package_details``,
and ``model_overview`` holds only ``model_creator`` and ``model_artifact``. What the config knows (owner, intended
use, data-set notes, hyperparameters) is literal; what only the run knows (data version, git commit, code hash,
model artifact, gate thresholds as run, evaluation and bias results) is spliced in with ``Std:Join`` from pipeline
parameters, step properties and the evaluate step's ``model_card_evaluation`` (``pipeline_code.training.model_card``).
"""
from __future__ import annotations

import json
import re
from typing import Any

import mlops_contracts as c
from mlops_config.model import QUALITY_METRICS, ModelConfig
from mlops_constructs.build.sagemaker_pipeline import expressions as ex

_SLOT = re.compile(r'"@@raw(\d+)@@"|@@(\d+)@@')


class _Slots:
    """Placeholders for run-time values: ``text(expr)`` inside a JSON string, ``raw(expr)`` as a JSON value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def text(self, value: Any) -> str:
        self.values.append(value)
        return f"@@{len(self.values) - 1}@@"

    def raw(self, value: Any) -> str:
        self.values.append(value)
        return f"@@raw{len(self.values) - 1}@@"


def card_content(model: ModelConfig, *, model_data_url: Any, training_image: Any, config_hash: str,
                 hyperparameters: dict[str, Any]) -> dict:
    """``ModelCardContent`` as a ``Std:Join`` expression (or a plain string when nothing is run-time)."""
    slots = _Slots()
    gate = model.quality_gate
    thresholds = {f"gate_min_{m}": slots.text(ex.param(c.min_metric_parameter(m)))
                  for m in QUALITY_METRICS if m in gate.min_metrics}
    if gate.bias:
        thresholds[f"gate_bias_{gate.bias.metric}_limit"] = slots.text(ex.param(c.PARAM_BIAS_LIMIT))
    data_version = slots.text(ex.json_get("Validate", "DataVersion", "data_version"))
    git_commit = slots.text(ex.param(c.PARAM_GIT_COMMIT))
    ethics = (f"Bias is measured on {', '.join(model.data.protected_attributes)} (which need not be model "
              f"features); the gate limits {gate.bias.metric} (see custom details)." if gate.bias else
              f"Protected attributes measured: {', '.join(model.data.protected_attributes) or 'none configured'}; "
              "no bias gate is configured.")
    card = {
        "model_overview": {"model_creator": model.owner, "model_artifact": [slots.text(model_data_url)]},
        "intended_uses": {
            "purpose_of_model": (model.description or f"{model.problem_type} model {model.name}")[:2048],
            "intended_uses": (model.intended_use or model.description or "not stated in the model config")[:2048],
        },
        "business_details": {"business_stakeholders": model.owner},
        "training_details": {
            "training_observations": f"trained on data version {data_version} at git commit {git_commit} "
                                     f"with seed {model.training.seed}",
            "training_job_details": {
                "training_datasets": [slots.text(ex.param(c.PARAM_INPUT_DATA))],
                "training_environment": {"container_image": [slots.text(training_image)]},
                "user_provided_hyper_parameters": [{"name": k, "value": str(v)}
                                                  for k, v in sorted(hyperparameters.items())],
            },
        },
        "evaluation_details": slots.raw(ex.json_get("Evaluate", "Evaluation", c.MODEL_CARD_EVALUATION_PATH)),
        "additional_information": {
            "caveats_and_recommendations": (model.data.notes or "No data-set notes in the model config.")[:2048],
            "ethical_considerations": ethics[:2048],
            "custom_details": {
                "data_version": data_version,
                "git_commit": git_commit,
                "code_sha256": slots.text(ex.param(c.PARAM_CODE_SHA256)),
                "config_sha256": config_hash,
                "pipeline_execution": slots.text(ex.EXECUTION_ARN),
                "decision_threshold": str(gate.decision_threshold),
                "must_beat_champion": str(gate.must_beat_champion).lower(),
                **thresholds,
            },
        },
    }
    return _join(json.dumps(card, separators=(",", ":")), slots.values)


def _join(text: str, values: list[Any]) -> Any:
    pieces: list[Any] = []
    position = 0
    for match in _SLOT.finditer(text):
        pieces.append(text[position:match.start()])
        pieces.append(values[int(match.group(1) or match.group(2))])
        position = match.end()
    pieces.append(text[position:])
    pieces = [p for p in pieces if p != ""]
    return ex.join(pieces) if len(pieces) > 1 or not isinstance(pieces[0], str) else pieces[0]


def model_card(model: ModelConfig, **kwargs) -> dict:
    """CreateModelPackage's ``ModelCard``: the content above, status ``contracts.MODEL_CARD_STATUS``."""
    return {"ModelCardContent": card_content(model, **kwargs), "ModelCardStatus": c.MODEL_CARD_STATUS}
