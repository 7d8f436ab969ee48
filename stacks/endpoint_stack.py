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
from mlops_constructs.deploy.guarded_endpoint import GuardedEndpoint
from stacks.deploy_props import captures_data, guarded_endpoint_props, serves_endpoints

PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]+/\d+$"


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
        if not serves_endpoints(model):
            raise ValueError(f"EndpointStack {construct_id}: model {model.name} has deployment.mode "
                             f"{model.deployment.mode!r}; endpoints serve 'realtime' or 'serverless' only")
        super().__init__(
            scope, construct_id,
            description=f"Guarded {model.deployment.mode} endpoint of model {model.name} ({stage})",
            # No assets here, and CodePipeline passes every parameter: no bootstrap-version rule either.
            synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
            **kwargs,
        )
        package = self._param(contracts.ENDPOINT_PARAM_PACKAGE,
                              "Approved model package served by the endpoint (the challenger in A/B)",
                              pattern=PACKAGE_ARN_PATTERN)
        champion = self._param(contracts.ENDPOINT_PARAM_CHAMPION_PACKAGE, "Model package of the first (champion) "
                               "variant", pattern=PACKAGE_ARN_PATTERN) if model.deployment.has_champion else None
        data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", self._param(
            contracts.ENDPOINT_PARAM_DATA_BUCKET, "The model's data bucket (capture destination)").value_as_string)
        key = kms.Key.from_key_arn(self, "Key", self._param(
            contracts.ENDPOINT_PARAM_KEY, "The model's KMS key",
            pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$").value_as_string)
        topic = sns.Topic.from_topic_arn(self, "Topic", self._param(
            contracts.ENDPOINT_PARAM_TOPIC, "The model's SNS topic, notified by the rollback alarms").value_as_string) \
            if notify_topic else None
        endpoint_name = contracts.endpoint_name(model.name, stage)
        self.endpoint = GuardedEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            model_package_arn=package.value_as_string,
            champion_model_package_arn=champion.value_as_string if champion else None,
            key=key,
            role=iam.Role.from_role_name(self, "ServingRole", contracts.serving_role_name(endpoint_name),
                                         mutable=False),
            alarm_topic=topic,
            capture_bucket=data_bucket if captures_data(model) else None,
            **guarded_endpoint_props(model),
        )
        if topic is None:
            acknowledge(self.endpoint, "The alarms of an endpoint in a stage account have no SNS action: the "
                        "stage's access stack forwards their state changes to the tooling account, whose rule "
                        "notifies the model's topic.", "NIST.800.53.R5-CloudWatchAlarmAction")
        Tags.of(self).add(contracts.TAG_MODEL, model.name)
        Tags.of(self).add(contracts.TAG_STAGE, stage)
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint.attr_endpoint_name)
        CfnOutput(self, contracts.ENDPOINT_OUTPUT_CONFIG, value=self.endpoint.endpoint_config.attr_endpoint_config_name)
        # Every package this endpoint serves (the CD pipeline's lifecycle recorder marks them Production/Running).
        CfnOutput(self, contracts.ENDPOINT_OUTPUT_PACKAGES, value=Fn.join(",", [package.value_as_string] + (
            [champion.value_as_string] if champion else [])))

    def _param(self, name: str, description: str, pattern: str | None = None) -> CfnParameter:
        return CfnParameter(self, name, type="String", description=description, allowed_pattern=pattern,
                            min_length=1)

