"""The [deploy] capability of a ModelStack: the CD pipeline for endpoints, or scheduled batch scoring."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs._private.rule_targets import TopicTarget
from mlops_constructs._private.secure_bucket import SecureBucket
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.deploy.batch_scoring import BatchScoring
from mlops_constructs.deploy.deploy_pipeline import DeployTarget, ModelDeployPipeline
from mlops_constructs.deploy.endpoint_access import (
    deploy_role_name,
    endpoint_log_group_name,
    endpoint_serving_role,
    role_arn,
)
from stacks.endpoint_stack import captures_data, counts_rejections, endpoint_stack_name, serving_repository_arn
from stacks.stage_access_stack import alarm_event_pattern


def deploy_targets(model: ModelConfig, platform: PlatformSettings) -> dict[str, DeployTarget]:
    """Each stage's endpoint stack; ``account`` and ``region`` only for a stage in another account."""
    targets_by_stage = {}
    for stage, settings in platform.stages.items():
        other = settings.account if settings.account and settings.account != platform.tooling.account else None
        targets_by_stage[stage] = DeployTarget(
            stage=stage, stack_name=endpoint_stack_name(platform.prefix, model.name, stage),
            endpoint_name=contracts.endpoint_name(model.name, stage), account=other,
            region=settings.region if other else None)
    return targets_by_stage


def add_deployment(stack: Stack, *, model: ModelConfig, platform: PlatformSettings, core: ModelCore) -> None:
    """Add the model's deployment machinery to ``stack`` according to ``model.deployment.mode``."""
    if model.deployment.mode in ("realtime", "serverless"):
        targets_by_stage = deploy_targets(model, platform)
        for target in targets_by_stage.values():
            if target.account is None:
                # Same account: the serving role lives here, so the endpoint stack needs no IAM at all.
                endpoint_serving_role(
                    stack, f"{target.stage.capitalize()}ServingRole", endpoint_name=target.endpoint_name,
                    endpoint_stack_name=target.stack_name, key=core.key, artifact_bucket=core.artifact_bucket,
                    capture_bucket=core.data_bucket if captures_data(model) else None,
                    image_repository_arns=[serving_repository_arn(stack, model)])
            else:
                # Another account: its access stack's roles use the key, and it forwards the endpoint's alarm
                # state changes to this account's default bus.
                core.allow_stage_endpoint(
                    role_arn(stack, contracts.serving_role_name(target.endpoint_name), target.account),
                    role_arn(stack, deploy_role_name(target.endpoint_name), target.account),
                    log_group_name=endpoint_log_group_name(target.endpoint_name) if counts_rejections(model) else None)
                events.CfnEventBusPolicy(stack, f"{target.stage.capitalize()}AlarmsIn", event_bus_name="default",
                                         statement_id=f"{target.stack_name}-alarms", statement={
                                             "Sid": f"{target.stack_name}-alarms", "Effect": "Allow",
                                             "Principal": {"AWS": f"arn:{stack.partition}:iam::{target.account}:root"},
                                             "Action": "events:PutEvents",
                                             "Resource": stack.format_arn(service="events", resource="event-bus",
                                                                          resource_name="default")})
                events.Rule(stack, f"{target.stage.capitalize()}Alarms",
                            description=f"Alarm state changes of {target.stack_name} in {target.account}",
                            event_pattern=alarm_event_pattern(target.stack_name, target.account),
                            targets=[TopicTarget(core.topic)])
        # Deploy actions in other accounts read the pipeline's artifact store whole: give them a store that holds
        # pipeline artifacts only, never the model artifact bucket's code/ and ci/.
        store = SecureBucket(stack, "DeployArtifactStore", encryption_key=core.key,
                             access_logs=core.access_log_bucket) if any(
            t.account for t in targets_by_stage.values()) else None
        deploy = ModelDeployPipeline(
            stack, "Deploy", model_name=model.name, model_package_group_name=core.model_package_group_name,
            staging=targets_by_stage["staging"], prod=targets_by_stage["prod"], source=platform.source,
            artifact_bucket=core.artifact_bucket, data_bucket=core.data_bucket, key=core.key, topic=core.topic,
            artifact_store=store,
            stage_image_repository_arns=[serving_repository_arn(stack, model)]
            if store and model.training.algorithm == "custom" else None,
        )
        CfnOutput(stack, "DeployPipelineName", value=deploy.pipeline.pipeline_name)
    elif model.deployment.mode == "batch":
        batch = model.deployment.batch
        scoring = BatchScoring(
            stack, "BatchScoring", model_name=model.name, model_package_group_name=core.model_package_group_name,
            data_bucket=core.data_bucket, artifact_bucket=core.artifact_bucket, key=core.key, topic=core.topic,
            schedule=batch.schedule, input_prefix=batch.input_prefix, output_prefix=batch.output_prefix,
            image_repository_arns=[serving_repository_arn(stack, model)], instance_type=batch.instance_type,
            instance_count=batch.instance_count,
        )
        CfnOutput(stack, "ScoresTable", value=f"{scoring.database_name}.{scoring.table_name}")
