"""Config to ModelBuildCI / ModelBuildPipeline props: pure mapping, no synth."""
from __future__ import annotations

import inspect

import pytest

from mlops_config import load_config
from mlops_config.platform import SourceSettings, VpcSettings
from mlops_constructs.build.code_areas import model_code_areas
from mlops_constructs.build.model_build_ci import ModelBuildCI
from stacks.build_props import build_ci_props, build_network
from tests.conftest import CONFIG_DIR

CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012"


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_DIR)


def test_ci_props_are_keywords_of_the_construct(config):
    keywords = {n for n, p in inspect.signature(ModelBuildCI.__init__).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    for model in config.models:
        assert set(build_ci_props(model, config.platform)) <= keywords


def test_ci_props_carry_the_source_and_the_models_code_areas(config):
    source = SourceSettings(connection_arn=CONNECTION, repository="acme/mlops", branch="release")
    platform = config.platform.model_copy(update={"source": source})
    for model in config.models:
        props = build_ci_props(model, platform)
        assert (props["connection_arn"], props["repository"], props["branch"]) == (CONNECTION, "acme/mlops", "release")
        assert props["model_name"] == model.name
        assert props["code_areas"] == model_code_areas(model.name, algorithm=model.training.algorithm)
        assert props["start_on_change"] is model.retraining.on_code_change


def test_without_a_connection_ci_reads_the_s3_source(config):
    props = build_ci_props(config.models[0], config.platform.model_copy(update={"source": SourceSettings()}))
    assert props["connection_arn"] is None and props["repository"] is None


def test_build_network_is_the_configured_subnets_and_groups(config):
    assert build_network(config.platform.model_copy(update={"vpc": VpcSettings()})) == ((), ())
    vpc = VpcSettings(subnet_ids=["subnet-0a", "subnet-0b"], security_group_ids=["sg-01"])
    assert build_network(config.platform.model_copy(update={"vpc": vpc})) == (("subnet-0a", "subnet-0b"), ("sg-01",))


def test_pipeline_props_are_keywords_of_the_construct_and_carry_the_training_choice(config):
    from mlops_constructs.build.job_spec import job_spec
    from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
    from stacks.build_props import build_pipeline_props

    keywords = {n for n, p in inspect.signature(ModelBuildPipeline.__init__).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    for model in config.models:
        props = build_pipeline_props(model, "c0ffee")
        assert set(props) <= keywords
        assert props["model_name"] == model.name and props["job_spec"] == job_spec(model)
        assert props["data_prefixes"] == [model.data.input_prefix, model.data.new_data_prefix]
        assert props["xgboost_version"] == model.training.xgboost_version
        assert props["tuned"] is (model.training.tuning is not None)
        if model.training.algorithm == "custom":
            assert (props["training_image_repository"], props["training_image_tag"]) == (
                model.training.image.repository, model.training.image.tag)
        else:
            assert props["training_image_repository"] is None and props["training_image_tag"] is None


def test_pipeline_definition_is_the_models_definition_for_the_given_resources(config):
    from mlops_constructs.build.sagemaker_pipeline.build_definition import BuildInputs, BuildResources, build_definition
    from mlops_constructs.build.sagemaker_pipeline.step_images import step_image
    from stacks.build_props import build_pipeline_props

    model = next(m for m in config.models if m.name == "fraud-detection")
    resources = BuildResources(
        role_arn="r", kms_key_arn="k", data_bucket_name="d", artifact_bucket_name="a", model_package_group_name="g",
        code_uri="s3://a/c.zip", code_sha256="0" * 64, spec_uri="s3://a/s.json", spec_file_name="s.json",
        processing_image="p", training_image="t", evaluation_image="e", serving_image="t",
        step_image=step_image(model.training.xgboost_version))
    props = build_pipeline_props(model, "c0ffee")
    expected = build_definition(BuildInputs(model=model, job_spec=props["job_spec"], config_hash="c0ffee",
                                            **{f: getattr(resources, f) for f in resources.__dataclass_fields__}))
    assert props["definition"](resources) == expected
    assert expected["Parameters"][0]["DefaultValue"] == f"s3://d/{model.data.input_prefix}"


def test_triggers_props_start_on_new_data_only_when_asked(config):
    from stacks.build_props import build_triggers_props

    for model in config.models:
        on = model.model_copy(update={"retraining": model.retraining.model_copy(update={"on_new_data": True})})
        off = model.model_copy(update={"retraining": model.retraining.model_copy(update={"on_new_data": False})})
        assert build_triggers_props(on)["new_data_prefix"] == model.data.new_data_prefix
        assert build_triggers_props(off)["new_data_prefix"] is None
        assert build_triggers_props(model)["schedule"] == model.retraining.schedule
