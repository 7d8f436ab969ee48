"""cdk-nag rule IDs rendered from ARN expressions, for env-agnostic and pinned stacks alike."""
from __future__ import annotations

import pytest
from aws_cdk import Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from mlops_constructs._private.nag import acknowledge_reviewed_wildcards, flatten_reference
from tests.conftest import new_app

PINNED = Environment(account="333333333333", region="eu-west-1")


def _stack(env: Environment | None = None) -> Stack:
    return Stack(new_app(), "Nag", env=env)


def nag_resource(scope, value: str) -> str:
    """A resource as cdk-nag prints it: resolved in ``scope``'s stack, then flattened (as ``wildcard_review``
    renders the policies it reads)."""
    return flatten_reference(Stack.of(scope).resolve(value))


def wildcard_rule(scope, arn: str) -> str:
    return f"AwsSolutions-IAM5[Resource::{nag_resource(scope, arn)}]"


def _model_arn(stack: Stack) -> str:
    return stack.format_arn(service="sagemaker", resource="model", resource_name="*")


def test_env_agnostic_arn_renders_pseudo_parameters():
    stack = _stack()
    assert wildcard_rule(stack, _model_arn(stack)) == (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/*]")


def test_pinned_arn_renders_literal_partition_region_and_account():
    stack = _stack(PINNED)
    assert wildcard_rule(stack, _model_arn(stack)) == (
        "AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:333333333333:model/*]")


def test_resource_attributes_and_refs_render_as_logical_ids():
    stack = _stack(PINNED)
    bucket = s3.Bucket(stack, "Data")
    bucket_id = stack.get_logical_id(bucket.node.default_child)
    assert nag_resource(bucket, bucket.arn_for_objects("reports/*")) == f"<{bucket_id}.Arn>/reports/*"
    assert nag_resource(stack, f"{bucket.bucket_name}-*") == f"<{bucket_id}>-*"


def test_intrinsics_flatten_like_cdk_nag():
    assert flatten_reference({"Fn::Sub": "arn:${AWS::Partition}:s3:::b/${Prefix}*"}) == (
        "arn:<AWS::Partition>:s3:::b/<Prefix>*")
    assert flatten_reference({"Fn::ImportValue": "Shared:BucketArn"}) == "Shared:BucketArn"
    assert flatten_reference({"Fn::GetAtt": ["Key", "Arn"]}) == "<Key.Arn>"
    assert flatten_reference({"Fn::Select": [0, ["a", "b"]]}) == '{"Fn::Select":[0,["a","b"]]}'


def _synth_with_nag(env: Environment | None, acknowledged: bool) -> None:
    stack = _stack(env)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModel"],
                                                     resources=[_model_arn(stack)]))
    if acknowledged:
        acknowledge_reviewed_wildcards(role, "Models are named by SageMaker at deploy time; the role only "
                                       "describes them.", wildcard_rule(stack, _model_arn(stack)))
    Validations.of(stack.node.root).add_plugins(AwsSolutionsChecks(stack.node.root))
    stack.node.root.synth()


@pytest.mark.parametrize("env", [None, PINNED], ids=["env-agnostic", "pinned"])
def test_rendered_rule_acknowledges_the_finding_nag_reports(env):
    _synth_with_nag(env, acknowledged=True)
    with pytest.raises(RuntimeError, match="ValidationFailed|Validation failed"):
        _synth_with_nag(env, acknowledged=False)


def test_a_reason_shorter_than_the_rule_is_refused_with_the_value():
    stack = _stack()
    with pytest.raises(ValueError, match=r"needs a specific reason \(20 characters or more\), got 'inline ok'"):
        acknowledge_reviewed_wildcards(stack, "inline ok", "NIST.800.53.R5-IAMNoInlinePolicy")
    acknowledge_reviewed_wildcards(stack, "x" * 20, "NIST.800.53.R5-IAMNoInlinePolicy")  # the limit itself passes
