"""The example app: each model's CI and triggers follow its config and point at its own build pipeline."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

import mlops_contracts as contracts
from mlops_contracts import model_stack_name

MODELS = ["fraud-detection", "employee-attrition", "support-assistant"]


@pytest.mark.parametrize("name", MODELS)
def test_schedule_follows_retraining_schedule(example_app, example_config, name):
    model = example_config.model(name)
    template = example_app.template(model_stack_name(example_config.platform.prefix, name))
    schedules = {k: v for k, v in template.find_resources("AWS::Scheduler::Schedule").items()
                 if k.startswith("BuildTriggersRetraining")}  # other capabilities schedule other things
    if model.retraining.schedule is None:
        assert schedules == {}
        return
    [schedule] = schedules.values()
    assert schedule["Properties"]["ScheduleExpression"] == model.retraining.schedule
    assert schedule["Properties"]["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": contracts.PARAM_TRIGGER, "Value": "schedule"}]}


def test_examples_retrain_fraud_monthly_and_attrition_quarterly(example_config):
    assert example_config.model("fraud-detection").retraining.schedule == "cron(0 3 1 * ? *)"
    assert example_config.model("employee-attrition").retraining.schedule == "cron(0 4 1 1,4,7,10 ? *)"


@pytest.mark.parametrize("name", MODELS)
def test_new_data_rule_exists_only_when_on_new_data(example_app, example_config, name):
    model = example_config.model(name)
    template = example_app.template(model_stack_name(example_config.platform.prefix, name))
    marker_rules = template.find_resources("AWS::Events::Rule", {"Properties": {"EventPattern": {
        "detail": {"object": {"key": [{"wildcard": f"{model.data.new_data_prefix}*/_SUCCESS"}]}}}}})
    assert len(marker_rules) == (1 if model.retraining.on_new_data else 0)


@pytest.mark.parametrize("name", MODELS)
def test_everything_starts_the_models_own_sagemaker_pipeline(example_app, example_config, name):
    template = example_app.template(model_stack_name(example_config.platform.prefix, name))
    [pipeline] = template.find_resources("AWS::SageMaker::Pipeline").values()
    pipeline_name = pipeline["Properties"]["PipelineName"]
    template.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": contracts.ci_project_name(name, "run"),
        "Environment": Match.object_like({"EnvironmentVariables": Match.array_with([
            {"Name": contracts.ENV_PIPELINE_NAME, "Type": "PLAINTEXT", "Value": pipeline_name}])})})
    arn = Match.object_like({"Fn::Join": ["", Match.array_with([f":pipeline/{pipeline_name}"])]})
    template.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like({
        "detail": {"pipelineArn": [arn], "currentPipelineExecutionStatus": ["Failed"]}})})
