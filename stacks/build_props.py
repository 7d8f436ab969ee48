"""Config to the build constructs' props (``ModelBuildCI``, ``ModelBuildPipeline``): pure functions, testable
without synth, and the one place that imports the configured VPC as CDK interfaces."""
from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.build.code_areas import model_code_areas
from mlops_constructs.build.job_spec import job_spec
from mlops_constructs.build.sagemaker_pipeline.build_definition import definition_for


def build_pipeline_props(model: ModelConfig, config_hash: str) -> dict:
    """The flat ``ModelBuildPipeline`` props of a model, except the CDK handles (key, buckets, registry group,
    network). The definition stays a pure function of the config (``definition_for``)."""
    spec, training = job_spec(model), model.training
    custom = training.image if training.algorithm == "custom" else None
    return {
        "model_name": model.name,
        "definition": definition_for(model, spec, config_hash),
        "job_spec": spec,
        "data_prefixes": [model.data.input_prefix, model.data.new_data_prefix],
        "xgboost_version": training.xgboost_version,
        "training_image_repository": custom.repository if custom else None,
        "training_image_tag": custom.tag if custom else None,
        "tuned": training.tuning is not None,
    }


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


def build_triggers_props(model: ModelConfig) -> dict:
    """The ``BuildTriggers`` props of a model's ``retraining`` settings: the new-data prefix when
    ``on_new_data`` is set, and the schedule."""
    retraining = model.retraining
    return {"new_data_prefix": model.data.new_data_prefix if retraining.on_new_data else None,
            "schedule": retraining.schedule}


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
