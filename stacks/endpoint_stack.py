"""One model's guarded endpoint in one stage, deployed by the model's CD pipeline.

A plain template: no assets and no cross-stack references. Every input is a CfnParameter that the CD pipeline
passes in a template-configuration file (see ``mlops_cli.deploy_commands``).
"""
from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, DefaultStackSynthesizer, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

import mlops_contracts as contracts
from mlops_config import ModelConfig
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy.deploy_pipeline import SERVING_PACKAGES_OUTPUT
from mlops_constructs.deploy.guarded_endpoint import (
    GuardedEndpoint,
    ScalingSpec,
    ServerlessSpec,
    TrafficShift,
    VariantSpec,
)

# Parameter names: the contract between this stack and the CD pipeline's Resolve step.
PARAM_PACKAGE = "ModelPackageArn"
PARAM_CHAMPION_PACKAGE = "ChampionModelPackageArn"
PARAM_DATA_BUCKET = "DataBucketName"
PARAM_KEY = "KeyArn"
PARAM_TOPIC = "TopicArn"
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

    It holds no IAM resources: the models run as ``<endpoint>-serving``, which the model stack (same account)
    or the stage's access stack (another account) creates, so the deploy role needs no IAM write permission.

    Props:
        model: validated model config; deployment.mode must be realtime or serverless (required).
        stage: stage name, e.g. ``staging`` (required).
        notify_topic: alarms notify the ``TopicArn`` parameter; default ``True``. A stage in another account
            passes ``False``: its access stack forwards alarm state changes to the tooling account instead.
    """

    def __init__(self, scope: Construct, construct_id: str, *, model: ModelConfig, stage: str,
                 notify_topic: bool = True, **kwargs) -> None:
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
        key = kms.Key.from_key_arn(self, "Key", self._param(
            PARAM_KEY, "The model's KMS key", pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$"
        ).value_as_string)
        topic = sns.Topic.from_topic_arn(self, "Topic", self._param(
            PARAM_TOPIC, "The model's SNS topic, notified by the rollback alarms").value_as_string) \
            if notify_topic else None
        serverless = deployment.mode == "serverless"
        strategy = deployment.effective_strategy
        endpoint_name = contracts.endpoint_name(model.name, stage)
        self.endpoint = GuardedEndpoint(
            self,
            "Endpoint",
            model_name=model.name,
            endpoint_name=endpoint_name,
            model_package_arn=package.value_as_string,
            champion_model_package_arn=champion.value_as_string if champion else None,
            key=key,
            role=iam.Role.from_role_name(self, "ServingRole", contracts.serving_role_name(endpoint_name),
                                         mutable=False),
            alarm_topic=topic,
            capture_bucket=data_bucket if captures_data(model) else None,
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
            count_rejections=counts_rejections(model),
        )
        if topic is None:
            acknowledge(self.endpoint, "The alarms of an endpoint in a stage account have no SNS action: the "
                        "stage's access stack forwards their state changes to the tooling account, whose rule "
                        "notifies the model's topic.", "NIST.800.53.R5-CloudWatchAlarmAction")
        Tags.of(self).add(contracts.TAG_MODEL, model.name)
        Tags.of(self).add(contracts.TAG_STAGE, stage)
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint.attr_endpoint_name)
        CfnOutput(self, OUTPUT_ENDPOINT_CONFIG, value=self.endpoint.endpoint_config.attr_endpoint_config_name)
        # Every package this endpoint serves (the CD pipeline's lifecycle recorder marks them Production/Running).
        CfnOutput(self, SERVING_PACKAGES_OUTPUT, value=Fn.join(",", [package.value_as_string] + (
            [champion.value_as_string] if champion else [])))

    def _param(self, name: str, description: str, pattern: str | None = None) -> CfnParameter:
        return CfnParameter(self, name, type="String", description=description, allowed_pattern=pattern,
                            min_length=1)



def captures_data(model: ModelConfig) -> bool:
    """Realtime endpoints capture requests and responses when ``data_capture_percent`` is set."""
    return model.deployment.mode == "realtime" and bool(model.deployment.data_capture_percent)


def counts_rejections(model: ModelConfig) -> bool:
    """The platform's serving code (built-in XGBoost) logs each rejected request: the endpoint stack owns the log
    group and counts them (GuardedEndpoint ``count_rejections``). Custom images keep their own logging."""
    return model.training.algorithm == "xgboost"


def serving_repository_arn(stack: Stack, model: ModelConfig, account: str | None = None) -> str:
    """Built-in XGBoost is served from a regional AWS-owned account; custom images from the tooling account
    (``account``; default this stack's), where the build pipeline's image lives."""
    if model.training.algorithm == "custom":
        return stack.format_arn(service="ecr", resource="repository", resource_name=model.training.image.repository,
                                account=account)
    return f"arn:{stack.partition}:ecr:{stack.region}:*:repository/sagemaker-xgboost"
