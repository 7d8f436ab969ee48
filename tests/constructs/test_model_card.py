"""The model card attached at registration: its content, once the run's values are spliced in, must follow
SageMaker's model card schema (the AWS::SageMaker::ModelCard ``Content`` definition in the CloudFormation registry
schema bundled with cfn-lint), use the field CreateModelPackage and CfnModelPackage name ``ModelCard``, and carry
what the config and the run know."""
from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import cfnlint
import numpy as np
import pytest
from cfnlint.jsonschema import StandardValidator

import mlops_contracts as contracts
from pipeline_code.training import evaluate
from pipeline_code.training import model_card as card_runtime
from tests.support.pipeline_definition_helpers import definition_of, step_named

FRAUD = "mlops-fraud-detection"
DATA_VERSION = "d" * 64
EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-detection-build/execution/abc123"
MODEL_DATA = "s3://artifacts/pipelines/abc123/Train/model/model.tar.gz"
SCHEMAS = Path(cfnlint.__file__).parent / "data/schemas"


def _registry_schema(resource_type: str) -> dict:
    providers = json.loads((SCHEMAS / "providers/us-east-1.json").read_text())
    return json.loads((SCHEMAS / f"resources/{providers[resource_type]}.json").read_text())


def _report() -> dict:
    """evaluation.json as the evaluate step writes it, from its own metric functions on a scored test set."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    scores = np.clip(y * 0.6 + rng.random(400) * 0.5, 0, 1)
    body = {"binary_classification_metrics": evaluate.quality_metrics(y, scores, 0.5), "decision_threshold": 0.5,
            "test_rows": 400, "bias": evaluate.bias_metrics(y, scores, 0.5, {
                "customer_age_band": rng.choice(["18-25", "26-35", "65+"], 400)}),
            "champion": {"passed": 1.0, "reason": "no approved champion"}}
    body[contracts.MODEL_CARD_EVALUATION_PATH] = card_runtime.evaluation_details_json(body)
    return body


def _run_value(expression: dict, parameters: dict, report: dict):
    """What SageMaker Pipelines substitutes for an expression in this test's run."""
    if "Get" in expression:
        name = expression["Get"]
        if name.startswith("Parameters."):
            return parameters[name.split(".", 1)[1]]
        return {"Execution.PipelineExecutionArn": EXECUTION,
                "Steps.Train.ModelArtifacts.S3ModelArtifacts": MODEL_DATA}[name]
    getter = expression["Std:JsonGet"]
    source = getter["PropertyFile"]["Get"]
    if source.endswith("Validate.PropertyFiles.DataVersion"):
        return {"data_version": DATA_VERSION}[getter["Path"]]
    assert source.endswith("Evaluate.PropertyFiles.Evaluation")
    return report[getter["Path"]]


def _content(definition: dict, report: dict) -> str:
    register = step_named(definition, "Register")
    content = register["Arguments"]["ModelCard"]["ModelCardContent"]
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    return "".join(v if isinstance(v, str) else str(_run_value(v, parameters, report))
                   for v in content["Std:Join"]["Values"])


def _pascal(value, free: bool = False):
    """snake_case card keys -> the registry schema's PascalCase (custom_details / metadata keys are free-form)."""
    if isinstance(value, dict):
        return {(k if free else re.sub(r"(?:^|_)([a-z])", lambda m: m.group(1).upper(), k)):
                _pascal(v, k in ("custom_details", "metadata")) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


@pytest.fixture(scope="module")
def card(example_app) -> dict:
    return json.loads(_content(definition_of(example_app.templates[FRAUD]), _report()))


def test_the_card_follows_the_model_card_schema(card):
    schema = _registry_schema("AWS::SageMaker::ModelCard")
    validator = StandardValidator({"$ref": "#/definitions/Content", "definitions": schema["definitions"]})
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_pascal(card))]
    assert errors == []


def test_the_card_is_the_simplified_package_card(card):
    """ModelPackageModelCard: no model_package_details; model_overview is model_creator and model_artifact."""
    assert "model_package_details" not in card
    assert set(card["model_overview"]) == {"model_creator", "model_artifact"}


def test_the_field_is_modelcard_in_the_api_and_in_cloudformation(example_app):
    api = botocore.session.get_session().get_service_model("sagemaker")
    create = api.operation_model("CreateModelPackage").input_shape.members["ModelCard"]
    assert set(create.members) == {"ModelCardContent", "ModelCardStatus"}
    assert contracts.MODEL_CARD_STATUS in create.members["ModelCardStatus"].enum
    cfn = _registry_schema("AWS::SageMaker::ModelPackage")["definitions"]["ModelCard"]
    assert set(cfn["required"]) == {"ModelCardContent", "ModelCardStatus"}
    register = step_named(definition_of(example_app.templates[FRAUD]), "Register")
    assert set(register["Arguments"]["ModelCard"]) == set(cfn["required"])


def test_the_card_holds_what_the_config_and_the_run_know(card, example_config):
    model = next(m for m in example_config.models if m.name == "fraud-detection")
    assert card["model_overview"] == {"model_creator": model.owner, "model_artifact": [MODEL_DATA]}
    assert card["intended_uses"]["intended_uses"] == model.intended_use
    assert card["additional_information"]["caveats_and_recommendations"] == model.data.notes
    details = card["additional_information"]["custom_details"]
    assert details["data_version"] == DATA_VERSION and details["pipeline_execution"] == EXECUTION
    for metric, floor in model.quality_gate.min_metrics.items():  # thresholds as run (the parameter defaults)
        assert float(details[f"gate_min_{metric}"]) == floor
    assert float(details[f"gate_bias_{model.quality_gate.bias.metric}_limit"]) == model.quality_gate.bias.limit
    assert DATA_VERSION in card["training_details"]["training_observations"]
    hyperparameters = {h["name"] for h in card["training_details"]["training_job_details"][
        "user_provided_hyper_parameters"]}
    assert {"max_depth", "eta"} <= hyperparameters
    groups = {g["name"]: g for g in card["evaluation_details"][0]["metric_groups"]}
    assert {m["name"] for m in groups["quality"]["metric_data"]} == {"auc", "precision", "recall", "f1", "accuracy"}
    assert "bias: customer_age_band" in groups and "bias (worst over protected attributes)" in groups


def test_non_finite_metrics_are_left_out_not_written_as_nan():
    report = {"binary_classification_metrics": {"auc": {"value": float("nan")}, "recall": {"value": 0.5}},
              "bias": {"max_positive_rate_difference": float("inf"), "attributes": {}}}
    text = card_runtime.evaluation_details_json(report)
    assert "NaN" not in text and "Infinity" not in text
    [quality] = json.loads(text)[0]["metric_groups"]
    assert quality["metric_data"] == [{"name": "recall", "type": "number", "value": 0.5}]
