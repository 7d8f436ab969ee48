"""The per-model platform stack: everything one model needs outside its serving endpoints."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from mlops_constructs.config import ModelConfig, PlatformSettings
from mlops_constructs.model_core import ModelCore


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
        )
        # Each capability plugs in below, in its own block, in build -> deploy -> watch order.
        # [model build]
        # [build CI and triggers]
        # [deploy]
        # [monitoring]
        Tags.of(self).add("mlops:model", model.name)
        CfnOutput(self, "DataBucketName", value=self.core.data_bucket.bucket_name)
        CfnOutput(self, "ArtifactBucketName", value=self.core.artifact_bucket.bucket_name)
        CfnOutput(self, "ModelPackageGroupName", value=self.core.model_package_group_name)
        CfnOutput(self, "TopicArn", value=self.core.topic.topic_arn)
