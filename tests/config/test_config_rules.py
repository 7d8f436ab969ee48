"""Each config validator at its edges: the value on a limit is accepted, one step past it is refused with a
message naming the field, the value and the rule. Fast: objects are validated directly, no files."""
from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from mlops_config.base import S3Prefix
from mlops_config.model import (
    Autoscaling,
    BiasGate,
    ColumnRule,
    DataSettings,
    DeploymentSettings,
    ModelConfig,
    QualityGate,
    Strategy,
    TrainingSettings,
    TuningRange,
    TuningSettings,
    is_instance_store,
)
from mlops_config.platform import PlatformSettings, SourceSettings, VpcSettings
from tests.conftest import REPO


def refused(model, data: dict, *words: str) -> str:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    message = str(error.value)
    for word in words:
        assert word in message, message
    return message


def test_tuning_range_min_must_be_below_max():
    assert TuningRange(min=0.1, max=0.2).max == 0.2
    refused(TuningRange, {"min": 0.2, "max": 0.2}, "min = 0.2: must be below max (0.2)")
    refused(TuningRange, {"min": 0.3, "max": 0.2}, "must be below max")


def test_parallel_tuning_jobs_may_equal_but_not_exceed_max_jobs():
    ranges = {"eta": {"min": 0.1, "max": 0.3}}
    assert TuningSettings(max_jobs=4, max_parallel_jobs=4, ranges=ranges).max_parallel_jobs == 4
    refused(TuningSettings, {"max_jobs": 4, "max_parallel_jobs": 5, "ranges": ranges},
            "max_parallel_jobs = 5: exceeds max_jobs (4)")


@pytest.mark.parametrize(("instance_type", "nvme"), [
    ("ml.m5d.xlarge", True), ("ml.g5.2xlarge", True), ("ml.m5.xlarge", False), ("ml.c5.large", False),
])
def test_instance_store_families(instance_type, nvme):
    assert is_instance_store(instance_type) is nvme


def test_feature_columns_resolve_all_but_label_in_header_order():
    raw = {"name": "m", "owner": "a@example.com", "description": "d", "problem_type": "binary_classification",
           "data": {"input_prefix": "in/", "new_data_prefix": "new/", "ground_truth_prefix": "gt/", "label": "y"},
           "quality_gate": {"min_metrics": {"auc": 0.5}}}
    model = ModelConfig.model_validate(raw)
    assert model.feature_columns(["a", "y", "b"]) == ["a", "b"]
    raw["data"]["features"] = ["b", "a"]
    assert ModelConfig.model_validate(raw).feature_columns(["a", "y", "b"]) == ["b", "a"]


def test_column_rules():
    assert ColumnRule(type="integer", min=3, max=3).min == 3
    refused(ColumnRule, {"type": "integer", "min": 4, "max": 3}, "min = 4.0: must not exceed max (3.0)")
    refused(ColumnRule, {"type": "categorical", "max": 3}, "min = None", "numeric and integer columns only")
    refused(ColumnRule, {"type": "numeric", "allowed": ["a"]}, "allowed = ['a']", "categorical columns only")


DATA = {"input_prefix": "in/", "new_data_prefix": "new/", "ground_truth_prefix": "gt/", "label": "y",
        "features": ["a", "b"]}


def test_data_settings_rules():
    assert DataSettings.model_validate({**DATA, "categorical": ["b"], "protected_attributes": ["g"],
                                        "columns": {"b": {"type": "categorical"}, "g": {"type": "categorical"},
                                                    "a": {"type": "numeric"}}}).label == "y"
    refused(DataSettings, {**DATA, "features": ["a", "y"]}, "label = 'y': must not be listed in features")
    refused(DataSettings, {**DATA, "features": ["a", "a"]}, "features = ['a']: feature columns repeat")
    refused(DataSettings, {**DATA, "categorical": ["c"]}, "categorical = ['c']: columns are not in features")
    refused(DataSettings, {**DATA, "categorical": ["b"], "columns": {"b": {"type": "numeric"}}},
            "columns.b.type = 'numeric'", "exactly for columns in data.categorical")
    refused(DataSettings, {**DATA, "columns": {"a": {"type": "categorical"}}}, "columns.a.type = 'categorical'")
    refused(DataSettings, {**DATA, "features": "all_but_label", "categorical": ["y"]},
            "label = 'y': the label cannot be categorical or protected")
    refused(DataSettings, {**DATA, "protected_attributes": ["y"]}, "the label cannot be categorical or protected")
    # With all_but_label, categorical columns cannot be checked against a list and are accepted.
    assert DataSettings.model_validate({**DATA, "features": "all_but_label", "categorical": ["c"]}).categorical == ["c"]


def test_training_image_rules():
    image = {"repository": "team/model", "tag": "v1"}
    assert TrainingSettings(algorithm="custom", image=image).image.tag == "v1"
    refused(TrainingSettings, {"algorithm": "custom"}, "image = None: algorithm 'custom' needs image")
    refused(TrainingSettings, {"image": image}, "image is only for algorithm 'custom'")
    refused(TrainingSettings, {"algorithm": "custom", "image": image,
                               "tuning": {"ranges": {"eta": {"min": 0.1, "max": 0.2}}}},
            "tuning = 'custom': tuning is supported for algorithm 'xgboost' only")


@pytest.mark.parametrize("limit", [0.0, 1.0])
def test_bias_limit_may_sit_on_either_end_of_0_1(limit):
    assert BiasGate(limit=limit).limit == limit


@pytest.mark.parametrize("limit", [-0.01, 1.01])
def test_bias_limit_outside_0_1_is_refused(limit):
    refused(BiasGate, {"limit": limit}, f"limit = {limit}: must lie in [0, 1]")


def test_quality_gate_metric_names():
    assert QualityGate(min_metrics={"f1": 0.5, "accuracy": 0.7}).min_metrics == {"f1": 0.5, "accuracy": 0.7}
    refused(QualityGate, {"min_metrics": {"gini": 0.5, "auc": 0.5}}, "unknown metric ['gini']",
            "known metrics are ['auc', 'recall', 'precision', 'f1', 'accuracy']")


@pytest.mark.parametrize(("kind", "low", "high"), [("LINEAR", 10, 50), ("CANARY", 1, 50)])
def test_strategy_steps_on_their_limits_are_accepted_and_past_them_refused(kind, low, high):
    for step in (low, high):
        assert Strategy(type=kind, step_percent=step).step_percent == step
    for step in (low - 1, high + 1, None):
        refused(Strategy, {"type": kind, "step_percent": step}, f"step_percent = {step}",
                f"{kind} steps must be {low}-{high}% of capacity")
    refused(Strategy, {"type": "ALL_AT_ONCE", "step_percent": 10}, "applies to LINEAR and CANARY only")


def test_autoscaling_max_may_equal_but_not_undercut_min():
    assert Autoscaling(min_instances=3, max_instances=3).max_instances == 3
    refused(Autoscaling, {"min_instances": 3, "max_instances": 2}, "max_instances = 2: is below min_instances (3)")


SERVERLESS = {"mode": "serverless", "data_capture_percent": 0, "serverless": {"memory_mb": 2048}}
BATCH = {"schedule": "cron(0 6 1 * ? *)", "input_prefix": "in/", "output_prefix": "out/"}


@pytest.mark.parametrize(("change", "words"), [
    ({**SERVERLESS, "data_capture_percent": 1}, ("data_capture_percent = 1", "has no data capture")),
    ({**SERVERLESS, "strategy": {"type": "LINEAR", "step_percent": 20}}, ("strategy = 'LINEAR'", "no deployment")),
    ({"mode": "serverless", "data_capture_percent": 0}, ("serverless = None", "needs serverless")),
    ({"serverless": {"memory_mb": 2048}}, ("serverless = 'realtime'", "mode 'serverless' only")),
    ({"mode": "batch"}, ("batch = None", "needs batch")),
    ({"batch": BATCH}, ("batch = 'realtime'", "mode 'batch' only")),
    ({"variants": [{"name": "a", "weight": 1}], "shadow_variant": {"name": "a", "weight": 1}},
     ("variants = ['a', 'a']", "variant names repeat")),
    ({"initial_instance_count": 5, "autoscaling": {"min_instances": 2, "max_instances": 4}},
     ("initial_instance_count = 5", "must lie within autoscaling [2, 4]")),
    ({"initial_instance_count": 1, "autoscaling": {"min_instances": 2, "max_instances": 4}},
     ("initial_instance_count = 1", "[2, 4]")),
    ({"mode": "batch", "batch": BATCH, "strategy": {"type": "ALL_AT_ONCE"}}, ("strategy = 'ALL_AT_ONCE'",)),
    ({"initial_instance_count": 3, "strategy": {"type": "LINEAR", "step_percent": 30}},
     ("initial_instance_count = 3", "a LINEAR step of 30% shifts less than one instance; use at least 4 instances")),
])
def test_deployment_rules(change, words):
    refused(DeploymentSettings, change, *words)


@pytest.mark.parametrize("change", [
    SERVERLESS,
    {"mode": "batch", "batch": BATCH, "data_capture_percent": 0},
    {"initial_instance_count": 2, "autoscaling": {"min_instances": 2, "max_instances": 4}},
    {"initial_instance_count": 4, "autoscaling": {"min_instances": 2, "max_instances": 4}},
    # A step of exactly one instance is enough: 4 instances x 25% = 1.
    {"initial_instance_count": 4, "strategy": {"type": "LINEAR", "step_percent": 25}},
    {"initial_instance_count": 2, "strategy": {"type": "CANARY", "step_percent": 10}},
])
def test_deployment_edges_that_are_accepted(change):
    assert DeploymentSettings.model_validate(change).mode == change.get("mode", "realtime")


MODEL = {"name": "m", "owner": "a@example.com", "description": "d", "problem_type": "binary_classification",
         "data": DATA, "quality_gate": {"min_metrics": {"auc": 0.5}}}


def test_cross_field_model_rules():
    refused(ModelConfig, {**MODEL, "quality_gate": {"min_metrics": {"auc": 0.5}, "bias": {"limit": 0.1}}},
            "quality_gate.bias = 'positive_rate_difference': needs data.protected_attributes")
    refused(ModelConfig, {**MODEL, "monitoring": {"drift": None, "quality": None}},
            "retraining.on_drift = True: needs monitoring.drift or monitoring.quality")
    assert ModelConfig.model_validate({**MODEL, "monitoring": {"drift": None, "quality": None},
                                       "retraining": {"on_drift": False}}).monitoring.drift is None
    assert ModelConfig.model_validate({**MODEL, "monitoring": {"drift": None, "quality": {"floor": 0.5}}})
    refused(ModelConfig, {**MODEL, "deployment": {**SERVERLESS, "autoscaling": {"min_instances": 1}}},
            "deployment.autoscaling = 'serverless': autoscaling applies to mode 'realtime' only")


@pytest.mark.parametrize(("value", "ok"), [
    ("a/", True), ("a/b-c_d.e!*'()/", True), ("/a/", False), ("a//b/", False), ("a", False), ("a b/", False),
])
def test_s3_prefixes(value, ok):
    from pydantic import TypeAdapter

    adapter = TypeAdapter(S3Prefix)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError, match="relative S3 key prefix ending in '/'"):
            adapter.validate_python(value)


def test_vpc_rules():
    assert not VpcSettings().enabled
    assert VpcSettings(subnet_ids=["subnet-1"], security_group_ids=["sg-1"]).enabled
    refused(VpcSettings, {"subnet_ids": ["subnet-1", "vpc-2"], "security_group_ids": ["sg-1"]},
            "subnet IDs must start with 'subnet-'; got ['vpc-2']")
    refused(VpcSettings, {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1", "x"]},
            "security group IDs must start with 'sg-'; got ['x']")
    refused(VpcSettings, {"subnet_ids": ["subnet-1"]}, "subnet_ids = ['subnet-1']", "or neither")
    refused(VpcSettings, {"security_group_ids": ["sg-1"]}, "subnet_ids = []", "or neither")


def test_source_connection_and_repository_go_together():
    arn = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0d6b7a1e-1111-2222-3333-444455556666"
    assert SourceSettings(connection_arn=arn, repository="org/repo").repository == "org/repo"
    refused(SourceSettings, {"repository": "org/repo"}, "repository = 'org/repo'", "go together")


STAGES = {"staging": {}, "prod": {}}


def test_platform_rules():
    assert PlatformSettings.model_validate({"stages": {**STAGES, "qa2": {}}}).stages["qa2"].account is None
    refused(PlatformSettings, {"stages": {"prod": {}}}, "must include 'staging' and 'prod'")
    refused(PlatformSettings, {"stages": {**STAGES, "QA": {}}}, "stage name 'QA' must be lowercase letters and digits")
    refused(PlatformSettings, {"stages": {**STAGES, "qa-1": {}}}, "stage name 'qa-1'")
    refused(PlatformSettings, {"stages": {"staging": {"account": "111111111111"}, "prod": {}}},
            "stages.staging = {'account': '111111111111', 'region': None}: give both account and region")
    refused(PlatformSettings, {"stages": {"staging": {"account": "111111111111", "region": "eu-west-1"}, "prod": {}}},
            "tooling = ", "the tooling account and region must be set too")
    refused(PlatformSettings, {"stages": STAGES, "tooling": {"region": "eu-west-1"}},
            "tooling", "give both account and region, or neither")
    for days in (1, 3653):
        settings = PlatformSettings.model_validate({"stages": STAGES, "log_retention_days": days})
        assert settings.log_retention_days == days
    refused(PlatformSettings, {"stages": STAGES, "log_retention_days": 2}, "retention values")
    pinned = PlatformSettings.model_validate({"stages": {
        "staging": {"account": "111111111111", "region": "eu-west-1"},
        "prod": {"account": "222222222222", "region": "eu-west-1"}},
        "tooling": {"account": "333333333333", "region": "eu-west-1"}})
    assert pinned.cross_account_ids == ["111111111111", "222222222222"]


def test_a_stage_is_in_another_account_only_when_pinned_to_one_other_than_tooling():
    """One definition, used by the deploy targets, ModelCore's capture writers, monitoring, governance and the CLI."""
    platform = PlatformSettings.model_validate({"stages": {
        "staging": {"account": "333333333333", "region": "eu-west-1"},  # the tooling account itself
        "prod": {"account": "222222222222", "region": "eu-west-1"},
        "qa": {"account": "222222222222", "region": "eu-west-1"},
        "dev": {}},  # environment-agnostic: deploys with the tooling stacks
        "tooling": {"account": "333333333333", "region": "eu-west-1"}})
    assert {s: platform.in_other_account(s) for s in platform.stages} == {
        "staging": False, "prod": True, "qa": True, "dev": False}
    assert platform.other_accounts == ["222222222222"]
    assert platform.cross_account_ids == ["222222222222", "333333333333"]
    agnostic = PlatformSettings.model_validate({"stages": STAGES})
    assert not any(agnostic.in_other_account(s) for s in agnostic.stages) and agnostic.other_accounts == []
    with pytest.raises(KeyError):
        agnostic.in_other_account("nope")


OTHER_ACCOUNT_SPELLED = re.compile(r"\.account\s*!=\s*[\w.]*tooling\.account|tooling\.account\s*!=\s*\w+\.account")


def test_no_module_but_platform_settings_decides_whether_a_stage_is_in_another_account():
    spelled = [f"{path.relative_to(REPO)}:{n}" for package in ("stacks", "mlops_cli", "mlops_constructs", "mlops_config")
               for path in sorted((REPO / package).rglob("*.py")) if path.name != "platform.py"
               for n, line in enumerate(path.read_text().splitlines(), 1) if OTHER_ACCOUNT_SPELLED.search(line)]
    assert spelled == [], f"use PlatformSettings.in_other_account / other_accounts: {spelled}"
    assert OTHER_ACCOUNT_SPELLED.search("if settings.account and settings.account != platform.tooling.account")
