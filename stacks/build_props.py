"""Config to the build constructs' props (``ModelBuildCI``, ``ModelBuildPipeline``): pure functions, testable
without synth, and the one place that imports the configured VPC as CDK interfaces."""
from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.build.code_areas import model_code_areas


def build_ci_props(model: ModelConfig, platform: PlatformSettings) -> dict:
    """The flat ``ModelBuildCI`` props of a model, except the CDK handles (pipeline name, bucket, key)."""
    source = platform.source
    return {
        "model_name": model.name,
        "connection_arn": source.connection_arn,
        "repository": source.repository,
        "branch": source.branch,
        "code_areas": model_code_areas(model.name, algorithm=model.training.algorithm),
        "start_on_change": model.retraining.on_code_change,
    }


def build_network(platform: PlatformSettings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(subnet IDs, security group IDs) the build's jobs run in; both empty without ``vpc`` settings."""
    vpc = platform.vpc
    if not vpc.enabled:
        return (), ()
    return tuple(vpc.subnet_ids), tuple(vpc.security_group_ids)


def import_network(scope: Construct, subnet_ids: tuple[str, ...], security_group_ids: tuple[str, ...]
                   ) -> tuple[list[ec2.ISubnet], list[ec2.ISecurityGroup]]:
    """The configured subnets and security groups as CDK interfaces (imports: nothing is created)."""
    subnets = [ec2.Subnet.from_subnet_id(scope, f"BuildSubnet{i}", s) for i, s in enumerate(subnet_ids)]
    groups = [ec2.SecurityGroup.from_security_group_id(scope, f"BuildSecurityGroup{i}", g, mutable=False)
              for i, g in enumerate(security_group_ids)]
    return subnets, groups
