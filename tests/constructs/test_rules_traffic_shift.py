"""A LINEAR shift of ``s`` percent waits through ceil(100 / s) bakes: when ``s`` does not divide 100 the last step
moves the remainder, and it bakes too. The endpoint's MaximumExecutionTimeoutInSeconds must cover every bake."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from mlops_constructs.deploy.guarded_endpoint import GuardedEndpoint
from mlops_constructs.deploy.limits import (
    PROVISIONING_ALLOWANCE_SECONDS,
    bake_intervals,
    execution_timeout_seconds,
    traffic_shift_problems,
)
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
        image_repositories=[ecr.Repository.from_repository_name(stack, "Images", "m")],
        alarm_topic=sns.Topic(stack, "Topic"),
        instance_count=4, traffic_shift="LINEAR", step_percent=30, bake_seconds=900, termination_wait_seconds=300)
    (endpoint,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()
    policy = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 30}
    # 30 + 30 + 30 + 10: four bakes of 900 s, the 300 s termination wait, the provisioning allowance.
    assert policy["MaximumExecutionTimeoutInSeconds"] == 4 * 900 + 300 + PROVISIONING_ALLOWANCE_SECONDS


def _problems(kind="LINEAR", step=10, bake=600, wait=0, count=10, instance_type="ml.m5.large") -> list:
    return traffic_shift_problems(kind=kind, step_percent=step, bake_seconds=bake, termination_wait_seconds=wait,
                                  instance_count=count, instance_type=instance_type)


def test_a_shift_that_needs_exactly_sagemakers_longest_timeout_is_accepted_and_one_second_more_is_not():
    # 10 bakes of 2760 s + 0 s termination wait + 1200 s provisioning = 28,800 s, the limit.
    assert _problems(bake=2760) == []
    (problem,) = _problems(bake=2761)
    assert (problem.field, problem.value) == ("bake_seconds", 2761)
    assert "= 28810 s, beyond SageMaker's 28800 s limit" in problem.rule
    (problem,) = _problems(bake=2760, wait=1)
    assert problem.field == "bake_seconds"


@pytest.mark.parametrize(("kind", "step", "count", "ok"), [
    ("LINEAR", 25, 4, True), ("LINEAR", 25, 3, False), ("LINEAR", 50, 2, True), ("LINEAR", 50, 1, False),
    ("CANARY", 1, 2, True), ("CANARY", 1, 1, False), ("ALL_AT_ONCE", None, 1, True),
])
def test_every_step_must_move_at_least_one_instance(kind, step, count, ok):
    assert (_problems(kind, step, count=count) == []) is ok
    if not ok:
        assert _problems(kind, step, count=count)[0].field in ("instance_count", "kind")


@pytest.mark.parametrize(("field", "value"), [("bake_seconds", -1), ("bake_seconds", 3601),
                                              ("termination_wait_seconds", -1), ("termination_wait_seconds", 3601)])
def test_bake_and_termination_wait_lie_within_an_hour(field, value):
    problems = _problems(**{"bake": value} if field == "bake_seconds" else {"wait": value})
    assert [(p.field, p.value, p.rule) for p in problems] == [(field, value, "must be 0-3600")]
    assert _problems(bake=3600, step=50, count=2) == []  # the edges themselves are allowed


def test_inf1_refuses_every_shift_but_all_at_once():
    assert _problems("ALL_AT_ONCE", None, instance_type="ml.inf1.xlarge") == []
    (problem,) = _problems("CANARY", 5, instance_type="ml.inf1.xlarge")
    assert (problem.field, problem.value) == ("kind", "CANARY")
    assert _problems("CANARY", 5, instance_type="ml.inf2.xlarge") == []


def test_the_limits_module_is_dependency_free_so_the_config_can_load_it_without_cdk():
    import ast
    import sys
    from pathlib import Path

    from mlops_constructs.deploy import limits

    tree = ast.parse(Path(limits.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
