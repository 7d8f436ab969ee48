"""Config -> deploy construct props: pure functions, checked without synth; and the limits both sides share."""
from __future__ import annotations

import inspect

import pytest
import yaml
from aws_cdk import Environment, Stack

import mlops_contracts as contracts
from mlops_config import ModelConfig, load_config
from mlops_config.model import DeploymentSettings, Strategy
from mlops_config.platform import SourceSettings
from mlops_constructs.deploy import limits
from mlops_constructs.deploy.batch_scoring import BatchScoring
from mlops_constructs.deploy.deploy_pipeline import ModelDeployPipeline
from mlops_constructs.deploy.guarded_endpoint import GuardedEndpoint, VariantSpec
from stacks import deploy_props
from tests.conftest import CONFIG_DIR, new_app


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_DIR)


def _model(config, name: str) -> ModelConfig:
    return next(m for m in config.models if m.name == name)


def _edited(name: str, **deployment) -> ModelConfig:
    raw = yaml.safe_load((CONFIG_DIR / "models" / f"{name}.yaml").read_text())
    raw["deployment"] = deployment
    return ModelConfig.model_validate(raw)


def test_a_linear_autoscaled_model_maps_to_flat_endpoint_props(config):
    props = deploy_props.guarded_endpoint_props(_model(config, "fraud-detection"))
    assert props == {
        "model_name": "fraud-detection", "variants": [VariantSpec("primary", 1.0)], "shadow_variant": None,
        "instance_type": "ml.m5.xlarge", "instance_count": 4, "capture_percent": 100, "count_rejections": True,
        "traffic_shift": "LINEAR", "step_percent": 25, "bake_seconds": 3600, "termination_wait_seconds": 600,
        "min_instances": 4, "max_instances": 8, "target_invocations_per_instance": 2000,
    }


def test_an_ab_model_keeps_its_variants_and_needs_a_champion(config):
    model = _model(config, "support-assistant")
    props = deploy_props.guarded_endpoint_props(model)
    assert props["variants"] == [VariantSpec("champion", 0.9), VariantSpec("challenger", 0.1)]
    assert (props["traffic_shift"], props["step_percent"], props["bake_seconds"]) == ("CANARY", 10, 900)
    assert props["termination_wait_seconds"] == limits.DEFAULT_TERMINATION_WAIT_SECONDS
    assert model.deployment.has_champion
    assert not _model(config, "fraud-detection").deployment.has_champion


def test_a_shadow_variant_alone_needs_a_champion_too():
    model = _edited("fraud-detection", shadow_variant={"name": "shadow", "weight": 1.0})
    assert model.deployment.has_champion
    assert deploy_props.guarded_endpoint_props(model)["shadow_variant"] == VariantSpec("shadow", 1.0)


def test_a_serverless_model_gets_serverless_sizing_and_no_shift_or_scaling():
    model = _edited("fraud-detection", mode="serverless", data_capture_percent=0,
                    serverless={"memory_mb": 3072, "max_concurrency": 7})
    props = deploy_props.guarded_endpoint_props(model)
    assert (props["serverless_memory_mb"], props["serverless_max_concurrency"]) == (3072, 7)
    assert not {"traffic_shift", "step_percent", "min_instances", "max_instances"} & set(props)
    assert not deploy_props.captures_data(model)
    assert deploy_props.serves_endpoints(model)


def test_a_realtime_model_without_strategy_gets_the_default_shift():
    props = deploy_props.guarded_endpoint_props(_edited("fraud-detection", initial_instance_count=2,
                                                        data_capture_percent=0))
    assert (props["traffic_shift"], props["step_percent"]) == ("ALL_AT_ONCE", None)
    assert (props["bake_seconds"], props["termination_wait_seconds"]) == (
        limits.DEFAULT_BAKE_SECONDS, limits.DEFAULT_TERMINATION_WAIT_SECONDS)
    assert props["capture_percent"] == 100  # capture is off (no bucket); the construct's default share stays


def test_every_mapped_prop_is_a_guarded_endpoint_keyword(config):
    keywords = set(inspect.signature(GuardedEndpoint.__init__).parameters)
    for model in config.models:
        if deploy_props.serves_endpoints(model):
            assert set(deploy_props.guarded_endpoint_props(model)) <= keywords
    batch = _model(config, "employee-attrition")
    assert set(deploy_props.batch_scoring_props(batch)) <= set(inspect.signature(BatchScoring.__init__).parameters)
    assert deploy_props.batch_scoring_props(batch)["schedule"] == "cron(0 6 2 * ? *)"
    assert not deploy_props.serves_endpoints(batch)


def test_deploy_targets_name_stacks_and_endpoints_and_place_other_accounts(config):
    model, platform = _model(config, "fraud-detection"), config.platform
    targets = deploy_props.deploy_targets(model, platform)
    assert set(targets) == set(platform.stages)
    for stage, target in targets.items():
        assert target.stack_name == contracts.endpoint_stack_name(platform.prefix, model.name, stage)
        assert target.endpoint_name == contracts.endpoint_name(model.name, stage)
        assert target.account is None and target.region is None  # the example runs every stage in one account
    elsewhere = platform.model_copy(update={"stages": {
        name: stage.model_copy(update={"account": "222222222222", "region": "eu-west-1"})
        for name, stage in platform.stages.items()}})
    prod = deploy_props.deploy_targets(model, elsewhere)["prod"]
    assert (prod.account, prod.region) == ("222222222222", "eu-west-1")


def test_the_config_validates_with_the_limits_the_construct_uses():
    fields = Strategy.model_fields
    bake = {type(m).__name__: m for m in fields["bake_seconds"].metadata}
    assert (bake["Ge"].ge, bake["Le"].le) == limits.BAKE_SECONDS_RANGE
    wait = {type(m).__name__: m for m in fields["termination_wait_seconds"].metadata}
    assert (wait["Ge"].ge, wait["Le"].le) == limits.TERMINATION_WAIT_RANGE
    assert fields["bake_seconds"].default == limits.DEFAULT_BAKE_SECONDS
    count = {type(m).__name__: m for m in DeploymentSettings.model_fields["initial_instance_count"].metadata}
    assert (count["Ge"].ge, count["Le"].le) == limits.INSTANCE_COUNT_RANGE
    for kind, (low, high) in limits.STEP_PERCENT_RANGE.items():
        assert Strategy(type=kind, step_percent=high).step_percent == high
        with pytest.raises(ValueError, match=f"{kind} steps must be {low}-{high}%"):
            Strategy(type=kind, step_percent=high + 1)


def test_the_deploy_pipeline_reads_the_platform_repository_or_its_zip():
    git = SourceSettings(connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/"
                                        "12345678-1234-1234-1234-123456789012", repository="org/platform",
                         branch="release")
    assert deploy_props.deploy_source_props(git) == {
        "source_connection_arn": git.connection_arn, "source_repository": "org/platform", "source_branch": "release"}
    assert deploy_props.deploy_source_props(SourceSettings()) == {
        "source_connection_arn": None, "source_repository": None, "source_branch": "main"}
    keywords = set(inspect.signature(ModelDeployPipeline.__init__).parameters)
    assert set(deploy_props.deploy_source_props(git)) <= keywords


def test_the_serving_image_comes_from_aws_for_xgboost_and_from_the_tooling_account_for_custom_images(config):
    stack = Stack(new_app(), "T", env=Environment(account="111111111111", region="eu-west-1"))
    xgboost = deploy_props.serving_repository(stack, "Xgboost", _model(config, "fraud-detection"))
    assert stack.resolve(xgboost.repository_arn) == "arn:aws:ecr:eu-west-1:*:repository/sagemaker-xgboost"
    raw = yaml.safe_load((CONFIG_DIR / "models" / "fraud-detection.yaml").read_text())
    raw["training"] = {"algorithm": "custom", "image": {"repository": "team/scorer", "tag": "v1"}}
    custom = deploy_props.serving_repository(stack, "Custom", ModelConfig.model_validate(raw), account="333333333333")
    assert stack.resolve(custom.repository_arn) == "arn:aws:ecr:eu-west-1:333333333333:repository/team/scorer"
    assert custom.repository_name == "team/scorer"
