"""A LINEAR shift of ``s`` percent waits through ceil(100 / s) bakes: when ``s`` does not divide 100 the last step
moves the remainder, and it bakes too. The endpoint's MaximumExecutionTimeoutInSeconds must cover every bake."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from mlops_constructs.deploy.guarded_endpoint import GuardedEndpoint
from mlops_constructs.deploy.limits import PROVISIONING_ALLOWANCE_SECONDS, bake_intervals, execution_timeout_seconds
from tests.conftest import new_app


@pytest.mark.parametrize(("step", "bakes"), [(30, 4), (40, 3), (15, 7), (25, 4), (50, 2)])
def test_a_linear_shift_bakes_once_per_step_including_a_partial_last_step(step, bakes):
    assert bake_intervals("LINEAR", step) == bakes
    assert execution_timeout_seconds("LINEAR", step, 600, 100) == bakes * 600 + 100 + PROVISIONING_ALLOWANCE_SECONDS


def test_canary_bakes_twice_and_all_at_once_once():
    assert bake_intervals("CANARY", 10) == 2
    assert bake_intervals("ALL_AT_ONCE", None) == 1


def test_the_synthesized_timeout_covers_a_step_that_does_not_divide_100():
    stack = Stack(new_app(), "Test")
    GuardedEndpoint(
        stack, "Endpoint", model_name="m", endpoint_name="m-prod",
        model_package_arn="arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1",
        artifact_bucket=s3.Bucket(stack, "Artifacts"), key=kms.Key(stack, "Key"),
        image_repository_arns=["arn:aws:ecr:eu-west-1:111111111111:repository/m"],
        alarm_topic=sns.Topic(stack, "Topic"),
        instance_count=4, traffic_shift="LINEAR", step_percent=30, bake_seconds=900, termination_wait_seconds=300)
    (endpoint,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()
    policy = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 30}
    # 30 + 30 + 30 + 10: four bakes of 900 s, the 300 s termination wait, the provisioning allowance.
    assert policy["MaximumExecutionTimeoutInSeconds"] == 4 * 900 + 300 + PROVISIONING_ALLOWANCE_SECONDS
