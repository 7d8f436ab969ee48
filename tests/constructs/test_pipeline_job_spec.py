"""The job spec every build step reads, and the optional data.columns rules it carries."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mlops_config.model import ColumnRule, DataSettings
from mlops_constructs.build.job_spec import job_spec, job_spec_json


def test_spec_carries_algorithm_hyperparameters_as_strings_with_the_seed(example_config):
    model = example_config.model("fraud-detection")
    spec = job_spec(model)
    assert spec["hyperparameters"]["seed"] == str(model.training.seed)
    assert spec["hyperparameters"]["num_round"] == str(model.training.hyperparameters["num_round"])
    assert all(isinstance(v, str) for v in spec["hyperparameters"].values())
    assert spec["gates"]["bias"] == {"metric": "positive_rate_difference", "limit": 0.1}
    assert spec["gates"]["min_metrics"] == dict(model.quality_gate.min_metrics)
    assert spec["columns"]["channel"]["allowed"] == list(model.data.columns["channel"].allowed)
    assert spec["protected_attributes"] == ["customer_age_band"]


def test_spec_json_is_canonical_and_stable(example_config):
    model = example_config.model("employee-attrition")
    text = job_spec_json(model)
    assert text == job_spec_json(model)
    assert json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n" == text
    assert job_spec(model)["features"] == "all_but_label"


@pytest.mark.parametrize("rule, message", [
    ({"type": "categorical", "min": 0}, "min/max apply to numeric"),
    ({"type": "numeric", "allowed": ["a"]}, "allowed applies to categorical"),
    ({"type": "integer", "min": 5, "max": 1}, "must not exceed max"),
])
def test_column_rule_rejects_inconsistent_rules(rule, message):
    with pytest.raises(ValidationError, match=message):
        ColumnRule.model_validate(rule)


def test_column_rule_type_must_agree_with_categorical_list():
    base = {"input_prefix": "a/", "new_data_prefix": "b/", "ground_truth_prefix": "c/", "label": "y",
            "features": ["x", "colour"], "categorical": ["colour"]}
    with pytest.raises(ValidationError, match="must be 'categorical' exactly"):
        DataSettings.model_validate({**base, "columns": {"colour": {"type": "numeric"}}})
    with pytest.raises(ValidationError, match="must be 'categorical' exactly"):
        DataSettings.model_validate({**base, "columns": {"x": {"type": "categorical"}}})
    ok = DataSettings.model_validate({**base, "columns": {"colour": {"type": "categorical", "allowed": ["red"]}}})
    assert ok.columns["colour"].allowed == ["red"]
