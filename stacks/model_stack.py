"""The per-model platform stack: everything one model needs outside its serving endpoints."""
from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs._private.rule_targets import TopicTarget
from mlops_constructs._private.secure_bucket import SecureBucket
from mlops_constructs.build.build_triggers import BuildTriggers
from mlops_constructs.build.model_build_ci import ModelBuildCI
from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.deploy.batch_scoring import BatchScoring
from mlops_constructs.deploy.deploy_pipeline import DeployTarget, ModelDeployPipeline
from mlops_constructs.deploy.endpoint_access import alarm_event_pattern, endpoint_serving_role, role_arn
from mlops_constructs.monitor.model_monitoring import ModelMonitoring
from mlops_contracts import TAG_MODEL, endpoint_name, serving_role_name
from stacks.build_props import build_ci_props, build_network, build_pipeline_props, build_triggers_props, import_network
from stacks.deploy_props import (
    batch_scoring_props,
    captures_data,
    counts_rejections,
    deploy_source_props,
    deploy_targets,
    serves_endpoints,
    serving_repository,
)
from stacks.monitor_props import is_monitored, monitored_endpoint_account, monitoring_props


class ModelStack(Stack):
    """One model's platform in the tooling account, composed in build -> deploy -> watch order.

    Handles on what it creates: ``core``; ``build``, ``build_ci``, ``build_triggers``;
    ``serving_image_repository`` (the serving image's ECR repository, imported); for an endpoint model
    ``serving_roles`` (same-account stages), ``stage_alarm_rules`` (stages in other accounts),
    ``deploy_artifact_store`` (none without such stages) and ``deploy``; for a batch model ``batch_scoring``;
    ``monitoring`` (none for an unmonitored model). The endpoints themselves are stacks of their own
    (``EndpointStack``), deployed by ``deploy``.

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
                if platform.in_other_account(name) and model.deployment.mode == "realtime"
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
        self.serving_image_repository = serving_repository(self, "ServingImageRepository", model)
        self.serving_roles: dict[str, iam.Role] = {}
        self.stage_alarm_rules: dict[str, events.Rule] = {}
        self.deploy_artifact_store: SecureBucket | None = None
        self.deploy: ModelDeployPipeline | None = None
        self.batch_scoring: BatchScoring | None = None
        if serves_endpoints(model):
            self.deploy = self._deploy_pipeline(model, platform)
            CfnOutput(self, "DeployPipelineName", value=self.deploy.pipeline.pipeline_name)
        else:
            self.batch_scoring = BatchScoring(
                self, "BatchScoring", model_package_group_name=self.core.model_package_group_name,
                data_bucket=self.core.data_bucket, artifact_bucket=self.core.artifact_bucket, key=self.core.key,
                topic=self.core.topic, image_repositories=[self.serving_image_repository],
                **batch_scoring_props(model))
            CfnOutput(self, "ScoresTable",
                      value=f"{self.batch_scoring.database_name}.{self.batch_scoring.table_name}")
        # [monitoring]
        self.monitoring: ModelMonitoring | None = None
        if is_monitored(model):
            self.monitoring = self._monitoring(model, platform)
            CfnOutput(self, "MonitoringDashboardName", value=self.monitoring.dashboard.dashboard.dashboard_name)
        Tags.of(self).add(TAG_MODEL, model.name)
        CfnOutput(self, "DataBucketName", value=self.core.data_bucket.bucket_name)
        CfnOutput(self, "ArtifactBucketName", value=self.core.artifact_bucket.bucket_name)
        CfnOutput(self, "ModelPackageGroupName", value=self.core.model_package_group_name)
        CfnOutput(self, "TopicArn", value=self.core.topic.topic_arn)

    def _monitoring(self, model: ModelConfig, platform: PlatformSettings) -> ModelMonitoring:
        """Drift and quality checks of the prod endpoint, in whatever account it runs (a role there lets the
        monitors read it)."""
        props = monitoring_props(model)
        account = monitored_endpoint_account(model, platform)
        return ModelMonitoring(
            self, "Monitoring", **props,
            data_bucket=self.core.data_bucket, artifact_bucket=self.core.artifact_bucket, key=self.core.key,
            topic=self.core.topic,
            endpoint_role_arn=role_arn(self, contracts.monitor_read_role_name(props["endpoint_name"]), account)
            if account else None,
        )

    def _deploy_pipeline(self, model: ModelConfig, platform: PlatformSettings) -> ModelDeployPipeline:
        """The CD pipeline of the endpoint stacks, and what each stage's endpoint needs from this stack."""
        core, targets_by_stage = self.core, deploy_targets(model, platform)
        for target in targets_by_stage.values():
            if target.account is None:
                # Same account: the serving role lives here, so the endpoint stack needs no IAM at all.
                self.serving_roles[target.stage] = endpoint_serving_role(
                    self, f"{target.stage.capitalize()}ServingRole", endpoint_name=target.endpoint_name,
                    endpoint_stack_name=target.stack_name, key=core.key, artifact_bucket=core.artifact_bucket,
                    capture_bucket=core.data_bucket if captures_data(model) else None,
                    image_repositories=[self.serving_image_repository])
            else:
                self.stage_alarm_rules[target.stage] = self._stage_in_other_account(model, target)
        # Deploy actions in other accounts read the pipeline's artifact store whole: give them a store that holds
        # pipeline artifacts only, never the model artifact bucket's code/ and ci/.
        if any(t.account for t in targets_by_stage.values()):
            self.deploy_artifact_store = SecureBucket(self, "DeployArtifactStore", encryption_key=core.key,
                                                      access_logs=core.access_log_bucket)
        return ModelDeployPipeline(
            self, "Deploy", model_name=model.name, model_package_group_name=core.model_package_group_name,
            staging=targets_by_stage["staging"], prod=targets_by_stage["prod"], **deploy_source_props(platform.source),
            artifact_bucket=core.artifact_bucket, data_bucket=core.data_bucket, key=core.key, topic=core.topic,
            artifact_store=self.deploy_artifact_store,
            stage_image_repositories=[self.serving_image_repository]
            if self.deploy_artifact_store and model.training.algorithm == "custom" else None,
        )

    def _stage_in_other_account(self, model: ModelConfig, target: DeployTarget) -> events.Rule:
        """A stage in another account: its access stack's roles use the key, and it forwards the endpoint's alarm
        state changes to this account's default bus, where a rule notifies the model's topic."""
        self.core.allow_stage_endpoint(
            role_arn(self, serving_role_name(target.endpoint_name), target.account),
            role_arn(self, contracts.deploy_role_name(target.endpoint_name), target.account),
            log_group_name=contracts.endpoint_log_group_name(target.endpoint_name)
            if counts_rejections(model) else None)
        stage, sid = target.stage.capitalize(), f"{target.stack_name}-alarms"
        events.CfnEventBusPolicy(self, f"{stage}AlarmsIn", event_bus_name="default", statement_id=sid, statement={
            "Sid": sid, "Effect": "Allow", "Principal": {"AWS": f"arn:{self.partition}:iam::{target.account}:root"},
            "Action": "events:PutEvents",
            "Resource": self.format_arn(service="events", resource="event-bus", resource_name="default")})
        return events.Rule(self, f"{stage}Alarms", description=f"Alarm state changes of {target.stack_name} in "
                           f"{target.account}", event_pattern=alarm_event_pattern(target.stack_name, target.account),
                           targets=[TopicTarget(self.core.topic)])
