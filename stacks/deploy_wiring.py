"""The [deploy] capability of a ModelStack: the CD pipeline for endpoints, or scheduled batch scoring."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack

from mlops_constructs.batch_scoring import BatchScoring
from mlops_constructs.config import ModelConfig, PlatformSettings
from mlops_constructs.deploy_pipeline import DeployTarget, ModelDeployPipeline
from mlops_constructs.model_core import ModelCore
from pipeline_code import contracts
from stacks.endpoint_stack import endpoint_stack_name, serving_repository_arn


def add_deployment(stack: Stack, *, model: ModelConfig, platform: PlatformSettings, core: ModelCore) -> None:
    """Add the model's deployment machinery to ``stack`` according to ``model.deployment.mode``."""
    if model.deployment.mode in ("realtime", "serverless"):
        targets = {
            stage: DeployTarget(stage=stage, stack_name=endpoint_stack_name(platform.prefix, model.name, stage),
                                endpoint_name=contracts.endpoint_name(model.name, stage),
                                account=settings.account, region=settings.region)
            for stage, settings in platform.stages.items()
        }
        deploy = ModelDeployPipeline(
            stack, "Deploy", model_name=model.name, model_package_group_name=core.model_package_group_name,
            staging=targets["staging"], prod=targets["prod"], source=platform.source,
            artifact_bucket=core.artifact_bucket, data_bucket=core.data_bucket, key=core.key, topic=core.topic,
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
