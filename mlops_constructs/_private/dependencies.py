"""Deployment ordering shared by constructs."""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct


def depend_on_policy_only(resource: Construct, role: iam.Role) -> None:
    """CDK makes ``resource`` depend on its role and the role's policy; the role is already referenced (GetAtt),
    so that DependsOn is redundant (cfn-lint W3005). Keep the policy, so nothing runs without permissions.

    This replaces the resource's DependsOn: call it after any other dependency of ``resource`` is known."""
    policy = role.node.find_child("DefaultPolicy").node.default_child
    resource.node.default_child.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy)])
