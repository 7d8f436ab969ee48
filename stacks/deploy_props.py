"""Model config -> props of the deploy constructs. Pure functions: testable without synth.

The constructs take flat typed props and CDK interfaces; the stacks pass the interfaces (key, buckets, topic,
roles) and these functions give everything that comes from the config.
"""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_config.platform import SourceSettings
from mlops_constructs.deploy.deploy_pipeline import DeployTarget
from mlops_constructs.deploy.guarded_endpoint import VariantSpec

ENDPOINT_MODES = ("realtime", "serverless")


def serves_endpoints(model: ModelConfig) -> bool:
    """Realtime and serverless models are served by endpoints (one endpoint stack per stage); batch models not."""
    return model.deployment.mode in ENDPOINT_MODES


def captures_data(model: ModelConfig) -> bool:
    """Realtime endpoints capture requests and responses when ``data_capture_percent`` is set."""
    return model.deployment.mode == "realtime" and bool(model.deployment.data_capture_percent)


def counts_rejections(model: ModelConfig) -> bool:
    """The platform's serving code (built-in XGBoost) logs each rejected request: the endpoint stack owns the log
    group and counts them (GuardedEndpoint ``count_rejections``). Custom images keep their own logging."""
    return model.training.algorithm == "xgboost"


def guarded_endpoint_props(model: ModelConfig) -> dict:
    """GuardedEndpoint's props from the config: variants, sizing, traffic shift, autoscaling, serverless sizing,
    capture share and rejection counting (the stack adds names, packages and CDK interfaces)."""
    deployment = model.deployment
    props = {
        "model_name": model.name,
        "variants": [VariantSpec(v.name, v.weight) for v in deployment.variants],
        "shadow_variant": VariantSpec(deployment.shadow_variant.name, deployment.shadow_variant.weight)
        if deployment.shadow_variant else None,
        "instance_type": deployment.instance_type,
        "instance_count": deployment.initial_instance_count,
        "capture_percent": deployment.data_capture_percent or 100,
        "count_rejections": counts_rejections(model),
    }
    if deployment.mode == "serverless":
        return {**props, "serverless_memory_mb": deployment.serverless.memory_mb,
                "serverless_max_concurrency": deployment.serverless.max_concurrency}
    strategy = deployment.effective_strategy
    props.update(traffic_shift=strategy.type, step_percent=strategy.step_percent, bake_seconds=strategy.bake_seconds,
                 termination_wait_seconds=strategy.termination_wait_seconds)
    if deployment.autoscaling:
        scaling = deployment.autoscaling
        props.update(min_instances=scaling.min_instances, max_instances=scaling.max_instances,
                     target_invocations_per_instance=scaling.target_invocations_per_instance)
    return props


def deploy_targets(model: ModelConfig, platform: PlatformSettings) -> dict[str, DeployTarget]:
    """Each stage's endpoint stack; ``account`` and ``region`` only for a stage in another account."""
    targets_by_stage = {}
    for stage, settings in platform.stages.items():
        other = settings.account if platform.in_other_account(stage) else None
        targets_by_stage[stage] = DeployTarget(
            stage=stage, stack_name=contracts.endpoint_stack_name(platform.prefix, model.name, stage),
            endpoint_name=contracts.endpoint_name(model.name, stage), account=other,
            region=settings.region if other else None)
    return targets_by_stage


def deploy_source_props(source: SourceSettings) -> dict:
    """ModelDeployPipeline's source props: the platform repository through a connection, or the S3 zip."""
    return {"source_connection_arn": source.connection_arn, "source_repository": source.repository,
            "source_branch": source.branch}


def batch_scoring_props(model: ModelConfig) -> dict:
    """BatchScoring's props from the config (the stack adds buckets, key, topic and image repositories)."""
    batch = model.deployment.batch
    return {"model_name": model.name, "schedule": batch.schedule, "input_prefix": batch.input_prefix,
            "output_prefix": batch.output_prefix, "instance_type": batch.instance_type,
            "instance_count": batch.instance_count}


def serving_repository(scope: Construct, construct_id: str, model: ModelConfig,
                       account: str | None = None) -> ecr.IRepository:
    """The repository of the model's serving image. Built-in XGBoost is served from a regional AWS-owned account;
    custom images from the tooling account (``account``; default the scope's), where the build pipeline's image
    lives."""
    stack = Stack.of(scope)
    if model.training.algorithm == "custom":
        name = model.training.image.repository
        arn = stack.format_arn(service="ecr", resource="repository", resource_name=name, account=account)
    else:
        name = "sagemaker-xgboost"
        arn = f"arn:{stack.partition}:ecr:{stack.region}:*:repository/{name}"
    return ecr.Repository.from_repository_attributes(scope, construct_id, repository_arn=arn, repository_name=name)
