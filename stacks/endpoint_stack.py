"""One model's guarded endpoint in one stage, deployed by the model's CD pipeline.

A plain template: no assets and no cross-stack references. Every input is a CfnParameter that the CD pipeline
passes in a template-configuration file (see ``mlops_cli.deploy_commands``).
"""
from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, DefaultStackSynthesizer, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.config import ModelConfig
from mlops_constructs.deploy_pipeline import deploy_check_role_name, integration_test_role_name
from mlops_constructs.guarded_endpoint import (
    GuardedEndpoint,
    ScalingSpec,
    ServerlessSpec,
    TrafficShift,
    VariantSpec,
)
from mlops_constructs.nag import acknowledge
from pipeline_code import contracts

# Parameter names: the contract between this stack and the CD pipeline's Resolve step.
PARAM_PACKAGE = "ModelPackageArn"
PARAM_CHAMPION_PACKAGE = "ChampionModelPackageArn"
PARAM_DATA_BUCKET = "DataBucketName"
PARAM_ARTIFACT_BUCKET = "ArtifactBucketName"
PARAM_KEY = "KeyArn"
PARAM_TOPIC = "TopicArn"
PARAM_TOOLING_ACCOUNT = "ToolingAccountId"
OUTPUT_ENDPOINT_CONFIG = "EndpointConfigName"
PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]+/\d+$"


def endpoint_stack_name(prefix: str, model_name: str, stage: str) -> str:
    """``<prefix>-<model>-<stage>``: deployed by the model's CD pipeline, never by ``cdk deploy``."""
    return f"{prefix}-{model_name}-{stage}"


def has_champion(model: ModelConfig) -> bool:
    """A/B or shadow setups keep the first variant on the champion package; the new package is the challenger."""
    deployment = model.deployment
    return len(deployment.variants) > 1 or deployment.shadow_variant is not None


class EndpointStack(Stack):
    """The guarded endpoint ``contracts.endpoint_name(model, stage)`` for a realtime or serverless model.

    Props:
        model: validated model config; deployment.mode must be realtime or serverless (required).
        stage: stage name, e.g. ``staging`` (required).
        trust_tooling_account: add the roles the tooling account's integration test and post-deploy check
            assume (for stages in their own account); default ``False``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, model: ModelConfig, stage: str,
                 trust_tooling_account: bool = False, **kwargs) -> None:
        if model.deployment.mode not in ("realtime", "serverless"):
            raise ValueError(f"EndpointStack {construct_id}: model {model.name} has deployment.mode "
                             f"{model.deployment.mode!r}; endpoints serve 'realtime' or 'serverless' only")
        super().__init__(
            scope, construct_id,
            description=f"Guarded {model.deployment.mode} endpoint of model {model.name} ({stage})",
            # No assets here, and CodePipeline passes every parameter: no bootstrap-version rule either.
            synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
            **kwargs,
        )
        deployment = model.deployment
        package = self._param(PARAM_PACKAGE, "Approved model package served by the endpoint (the challenger in A/B)",
                              pattern=PACKAGE_ARN_PATTERN)
        champion = self._param(PARAM_CHAMPION_PACKAGE, "Model package of the first (champion) variant",
                               pattern=PACKAGE_ARN_PATTERN) if has_champion(model) else None
        data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", self._param(
            PARAM_DATA_BUCKET, "The model's data bucket (capture destination)").value_as_string)
        artifact_bucket = s3.Bucket.from_bucket_name(self, "ArtifactBucket", self._param(
            PARAM_ARTIFACT_BUCKET, "The model's artifact bucket (model.tar.gz)").value_as_string)
        key = kms.Key.from_key_arn(self, "Key", self._param(
            PARAM_KEY, "The model's KMS key", pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$"
        ).value_as_string)
        topic = sns.Topic.from_topic_arn(self, "Topic", self._param(
            PARAM_TOPIC, "The model's SNS topic, notified by the rollback alarms").value_as_string)
        serverless = deployment.mode == "serverless"
        strategy = deployment.effective_strategy
        self.endpoint = GuardedEndpoint(
            self,
            "Endpoint",
            model_name=model.name,
            endpoint_name=contracts.endpoint_name(model.name, stage),
            model_package_arn=package.value_as_string,
            champion_model_package_arn=champion.value_as_string if champion else None,
            artifact_bucket=artifact_bucket,
            key=key,
            image_repository_arns=[serving_repository_arn(self, model)],
            alarm_topic=topic,
            capture_bucket=data_bucket if deployment.data_capture_percent and not serverless else None,
            capture_percent=deployment.data_capture_percent or 100,
            variants=[VariantSpec(v.name, v.weight) for v in deployment.variants],
            shadow_variant=VariantSpec(deployment.shadow_variant.name, deployment.shadow_variant.weight)
            if deployment.shadow_variant else None,
            instance_type=deployment.instance_type,
            instance_count=deployment.initial_instance_count,
            traffic_shift=None if serverless else TrafficShift(
                strategy.type, strategy.step_percent, strategy.bake_seconds, strategy.termination_wait_seconds),
            scaling=ScalingSpec(deployment.autoscaling.min_instances, deployment.autoscaling.max_instances,
                                deployment.autoscaling.target_invocations_per_instance)
            if deployment.autoscaling else None,
            serverless=ServerlessSpec(deployment.serverless.memory_mb, deployment.serverless.max_concurrency)
            if serverless else None,
            count_rejections=model.training.algorithm == "xgboost",  # the platform's serving code logs them
        )
        if trust_tooling_account:
            tooling = self._param(PARAM_TOOLING_ACCOUNT, "Account of the CD pipeline", pattern=r"^\d{12}$")
            self._integration_test_role(tooling)
            self._deploy_check_role(tooling)
        Tags.of(self).add("mlops:model", model.name)
        Tags.of(self).add("mlops:stage", stage)
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint.attr_endpoint_name)
        CfnOutput(self, OUTPUT_ENDPOINT_CONFIG, value=self.endpoint.endpoint_config.attr_endpoint_config_name)

    def _deploy_check_role(self, tooling: CfnParameter) -> iam.Role:
        """Lets the CD pipeline's post-deploy check (tooling account) describe this endpoint, and nothing else."""
        name = self.endpoint.endpoint_name
        role = iam.Role(self, "DeployCheckRole", role_name=deploy_check_role_name(name),
                        assumed_by=iam.AccountPrincipal(tooling.value_as_string),
                        description=f"The CD pipeline checks which endpoint config {name} runs")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint"],
            resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=name)]))
        acknowledge(role, "The check policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        return role

    def _integration_test_role(self, tooling: CfnParameter) -> iam.Role:
        """Lets the CD pipeline's integration test (in the tooling account) describe and invoke this endpoint."""
        name = self.endpoint.endpoint_name
        role = iam.Role(self, "IntegrationTestRole", role_name=integration_test_role_name(name),
                        assumed_by=iam.AccountPrincipal(tooling.value_as_string),
                        description=f"The CD pipeline's integration test calls {name}")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
            resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=name)]))
        acknowledge(role, "The test policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        return role

    def _param(self, name: str, description: str, pattern: str | None = None) -> CfnParameter:
        return CfnParameter(self, name, type="String", description=description, allowed_pattern=pattern,
                            min_length=1)



def serving_repository_arn(stack: Stack, model: ModelConfig) -> str:
    """Built-in XGBoost is served from a regional AWS-owned account; custom images from this account."""
    if model.training.algorithm == "custom":
        return stack.format_arn(service="ecr", resource="repository", resource_name=model.training.image.repository)
    return f"arn:{stack.partition}:ecr:{stack.region}:*:repository/sagemaker-xgboost"
