"""Deployment ordering shared by constructs: a resource waits for the policy that holds its role's grants."""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs._private.grants import default_policy, find_default_policy


def depend_on_policy_only(resource: Construct, role: iam.IRole) -> None:
    """CDK makes ``resource`` depend on its role and the role's policy; the role is already referenced (GetAtt),
    so that DependsOn is redundant (cfn-lint W3005). Keep the policy, so nothing runs without permissions.

    This replaces the resource's DependsOn: call it after any other dependency of ``resource`` is known."""
    policy = default_policy(role).node.default_child
    resource.node.default_child.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy)])


def depend_on_policy(resource: Construct, role: iam.IRole) -> None:
    """``resource`` (e.g. a SageMaker model created with ``role``'s ARN) waits for the role's grants, if CDK wrote
    any: an imported role, or one without grants, has no policy to wait for."""
    policy = find_default_policy(role)
    if policy is not None:
        resource.node.add_dependency(policy)
