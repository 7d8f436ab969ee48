"""The approval trigger: one pipeline start per approved package, whatever EventBridge delivers twice."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import mlops_contracts as contracts
from tests.support.lambda_handlers import load_handler

PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud-detection/7"


def _event(status="Approved", group="fraud-detection", arn=PACKAGE, event_id="e-1") -> dict:
    return {"id": event_id, "source": contracts.EVENT_SOURCE_SAGEMAKER, "detail-type": contracts.DETAIL_PACKAGE_STATE,
            "detail": {"ModelPackageArn": arn, "ModelPackageGroupName": group, "ModelApprovalStatus": status}}


@pytest.fixture
def trigger():
    environment = {contracts.ENV_IDEMPOTENCY_TABLE: "deploy-idempotency",
                   contracts.ENV_PIPELINE_NAME: "fraud-detection-deploy",
                   contracts.ENV_MODEL_PACKAGE_GROUP: "fraud-detection",
                   "POWERTOOLS_METRICS_NAMESPACE": contracts.DEPLOY_METRIC_NAMESPACE}
    with mock_aws(), load_handler("deploy_trigger", environment) as module:
        boto3.client("dynamodb").create_table(
            TableName="deploy-idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        stub = Stubber(module.codepipeline)
        stub.activate()
        yield module, stub
        stub.deactivate()


def test_a_duplicate_approval_event_starts_the_pipeline_once(trigger, lambda_context):
    module, stub = trigger
    expected = module.start_request("fraud-detection-deploy", PACKAGE)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected)
    first = module.handler(_event(event_id="e-1"), lambda_context)
    second = module.handler(_event(event_id="e-2"), lambda_context)  # redelivery: no second response is stubbed
    stub.assert_no_pending_responses()
    assert first == second == {"package": PACKAGE, "execution": "exec-1"}
    assert expected["variables"] == [{"name": "ModelPackageArn", "value": PACKAGE}]


def test_a_different_package_starts_its_own_deployment(trigger, lambda_context):
    module, stub = trigger
    other = PACKAGE.replace("/7", "/8")
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"},
                      module.start_request("fraud-detection-deploy", PACKAGE))
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-2"},
                      module.start_request("fraud-detection-deploy", other))
    module.handler(_event(), lambda_context)
    assert module.handler(_event(arn=other), lambda_context)["execution"] == "exec-2"
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(("event", "reason"), [
    (_event(status="Rejected"), "approval status 'Rejected' is not 'Approved'"),
    (_event(group="other-model"), "package group 'other-model' is not 'fraud-detection'"),
    (_event(arn="not-an-arn"), "is not a model-package ARN"),
    ({"id": "x"}, "event has no detail object"),
])
def test_events_that_are_not_approvals_of_this_model_are_skipped_not_deployed(trigger, event, reason, lambda_context):
    module, stub = trigger
    result = module.handler(event, lambda_context)  # no stubbed response: any pipeline start would raise
    assert reason in result["skipped"]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("stage", ["Staging", "Production"])
def test_a_lifecycle_update_of_a_deployed_package_does_not_deploy_it_again(trigger, stage, lambda_context):
    module, stub = trigger
    event = _event()
    event["detail"]["ModelLifeCycle"] = {"Stage": stage, "StageStatus": "Replaced"}
    result = module.handler(event, lambda_context)  # no start_pipeline_execution response is stubbed
    assert "the package was deployed before" in result["skipped"]
    stub.assert_no_pending_responses()


def test_an_approval_of_a_freshly_registered_package_deploys(trigger, lambda_context):
    module, stub = trigger
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"},
                      module.start_request("fraud-detection-deploy", PACKAGE))
    event = _event()
    event["detail"]["ModelLifeCycle"] = {"Stage": "Registered", "StageStatus": "GatesPassed"}
    assert module.handler(event, lambda_context)["execution"] == "exec-1"
