"""The per-model platform stack: everything one model needs outside its serving endpoints."""
from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack, Tags
from constructs import Construct

from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.build.build_triggers import BuildTriggers
from mlops_constructs.build.model_build_ci import ModelBuildCI
from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
from mlops_constructs.core.model_core import ModelCore
from mlops_contracts import TAG_MODEL, endpoint_name, serving_role_name
from stacks.build_props import build_ci_props, build_network, build_pipeline_props, build_triggers_props, import_network
from stacks.deploy_wiring import add_deployment
from stacks.monitoring_wiring import add_monitoring


class ModelStack(Stack):
    """Composes one model's core resources; later capabilities plug in beside ``self.core``.

    Props:
        platform: validated platform settings (required).
        model: validated model config (required).
        config_hash: SHA-256 of the config files, recorded on model packages (required).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformSettings,
        model: ModelConfig,
        config_hash: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, description=f"MLOps platform for model {model.name}", **kwargs)
        self.model = model
        self.platform = platform
        self.config_hash = config_hash
        self.core = ModelCore(
            self,
            "Core",
            model_name=model.name,
            owner=model.owner,
            description=model.description,
            notification_emails=list(platform.notifications.emails),
            stage_account_ids=platform.cross_account_ids,
            key_pending_window_days=platform.kms.pending_window_days,
            key_rotation_days=platform.kms.rotation_period_days,
            # With no code connection, CI starts when the source zip lands in the artifact bucket (S3 source).
            artifact_bucket_events=not platform.source.connection_arn,
            capture_writer_role_arns=[
                f"arn:{Aws.PARTITION}:iam::{stage.account}:role/"
                f"{serving_role_name(endpoint_name(model.name, name))}"
                for name, stage in platform.stages.items()
                if stage.account and stage.account != platform.tooling.account and model.deployment.mode == "realtime"
            ],
        )
        # Each capability plugs in below, in its own block, in build -> deploy -> watch order.
        # [model build]
        subnets, security_groups = import_network(self, *build_network(platform))
        self.build = ModelBuildPipeline(
            self,
            "Build",
            **build_pipeline_props(model, config_hash),
            key=self.core.key,
            data_bucket=self.core.data_bucket,
            artifact_bucket=self.core.artifact_bucket,
            model_package_group_name=self.core.model_package_group_name,
            subnets=subnets,
            security_groups=security_groups,
        )
        CfnOutput(self, "BuildPipelineName", value=self.build.pipeline_name)
        # [build CI and triggers]
        self.build_ci = ModelBuildCI(
            self,
            "BuildCI",
            pipeline_name=self.build.pipeline_name,
            artifact_bucket=self.core.artifact_bucket,
            key=self.core.key,
            **build_ci_props(model, platform),
        )
        self.build_triggers = BuildTriggers(
            self,
            "BuildTriggers",
            pipeline_name=self.build.pipeline_name,
            key=self.core.key,
            topic=self.core.topic,
            artifact_bucket=self.core.artifact_bucket,
            model_package_group_name=self.core.model_package_group_name,
            data_bucket=self.core.data_bucket,
            **build_triggers_props(model),
        )
        # [deploy]
        add_deployment(self, model=model, platform=platform, core=self.core)
        # [monitoring]
        self.monitoring = add_monitoring(self, model=model, core=self.core, platform=platform)
        Tags.of(self).add(TAG_MODEL, model.name)
        CfnOutput(self, "DataBucketName", value=self.core.data_bucket.bucket_name)
        CfnOutput(self, "ArtifactBucketName", value=self.core.artifact_bucket.bucket_name)
        CfnOutput(self, "ModelPackageGroupName", value=self.core.model_package_group_name)
        CfnOutput(self, "TopicArn", value=self.core.topic.topic_arn)
