"""ModelStack keeps a handle on each construct it creates, and those handles are what the templates hold."""
from __future__ import annotations

from mlops_constructs.deploy.batch_scoring import BatchScoring
from mlops_constructs.deploy.deploy_pipeline import ModelDeployPipeline
from mlops_constructs.monitor.model_monitoring import ModelMonitoring
from mlops_contracts import deploy_pipeline_name


def test_an_endpoint_model_in_one_account_has_its_pipeline_and_serving_roles_here(example_app):
    stack = example_app.stacks["mlops-fraud-detection"]
    assert isinstance(stack.deploy, ModelDeployPipeline) and stack.batch_scoring is None
    assert isinstance(stack.monitoring, ModelMonitoring)
    assert set(stack.serving_roles) == {"staging", "prod"} and stack.stage_alarm_rules == {}
    assert stack.deploy_artifact_store is None
    roles = example_app.templates["mlops-fraud-detection"]["Resources"]
    for stage, role in stack.serving_roles.items():
        props = roles[stack.get_logical_id(role.node.default_child)]["Properties"]
        assert props["RoleName"] == f"fraud-detection-{stage}-serving"


def test_a_batch_model_has_batch_scoring_and_no_deploy_pipeline(example_app):
    stack = example_app.stacks["mlops-employee-attrition"]
    assert isinstance(stack.batch_scoring, BatchScoring)
    assert (stack.deploy, stack.monitoring, stack.serving_roles, stack.stage_alarm_rules) == (None, None, {}, {})


def test_stages_in_other_accounts_route_their_alarms_here_and_get_their_own_artifact_store(pinned_app):
    stack = pinned_app.stacks["mlops-fraud-detection"]
    assert stack.serving_roles == {}  # their access stacks hold them
    assert set(stack.stage_alarm_rules) == {"staging", "prod"}
    resources = pinned_app.templates["mlops-fraud-detection"]["Resources"]
    for stage, rule in stack.stage_alarm_rules.items():
        pattern = resources[stack.get_logical_id(rule.node.default_child)]["Properties"]["EventPattern"]
        assert pattern["detail"] == {"alarmName": [{"prefix": f"mlops-fraud-detection-{stage}-"}]}
        assert pattern["account"] == [{"staging": "111111111111", "prod": "222222222222"}[stage]]
    store = stack.get_logical_id(stack.deploy_artifact_store.node.default_child)
    (pipeline,) = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"
                   and r["Properties"].get("Name") == deploy_pipeline_name("fraud-detection")]
    assert [s["ArtifactStore"]["Location"] for s in pipeline["Properties"]["ArtifactStores"]] == [{"Ref": store}]
