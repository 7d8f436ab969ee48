"""A SageMaker endpoint that ships new models with blue/green traffic shifting and alarm-driven rollback."""
from __future__ import annotations

import math
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

import mlops_contracts as contracts
from mlops_config.model import EXECUTION_TIMEOUT_RANGE, PROVISIONING_ALLOWANCE_SECONDS, is_instance_store
from mlops_constructs._private.dependencies import depend_on_policy
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy.endpoint_access import (
    endpoint_log_group_name,
    endpoint_serving_role,
    variant_dashboard_name,
)

MIN_EXECUTION_TIMEOUT, MAX_EXECUTION_TIMEOUT = EXECUTION_TIMEOUT_RANGE  # defined once, with the config rule
STEP_LIMITS = {"LINEAR": (10, 50), "CANARY": (1, 50)}
# With autoscaling the endpoint retains variant properties across updates, except these (UpdateEndpoint
# VariantPropertyType values): A/B weights and data capture follow the deployed config.
NOT_RETAINED_VARIANT_PROPERTIES = ("DesiredWeight", "DataCaptureConfig")


@dataclass(frozen=True)
class TrafficShift:
    """Blue/green traffic routing: ``kind`` LINEAR, CANARY or ALL_AT_ONCE; ``step_percent`` of capacity per step
    (LINEAR 10-50, CANARY 1-50, none for ALL_AT_ONCE); ``bake_seconds`` between steps (0-3600);
    ``termination_wait_seconds`` the old fleet is kept after the shift (0-3600)."""

    kind: str = "ALL_AT_ONCE"
    step_percent: int | None = None
    bake_seconds: int = 600
    termination_wait_seconds: int = 300

    @property
    def bake_intervals(self) -> int:
        """How many bake intervals a full shift waits through."""
        if self.kind == "LINEAR":
            return math.ceil(100 / self.step_percent)
        return 2 if self.kind == "CANARY" else 1

    @property
    def execution_timeout_seconds(self) -> int:
        """MaximumExecutionTimeoutInSeconds covering every bake, the termination wait and provisioning."""
        needed = self.bake_intervals * self.bake_seconds + self.termination_wait_seconds
        return max(MIN_EXECUTION_TIMEOUT, needed + PROVISIONING_ALLOWANCE_SECONDS)


@dataclass(frozen=True)
class VariantSpec:
    """A production or shadow variant: ``name`` and relative traffic ``weight`` (0-1]."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class ScalingSpec:
    """Target tracking on invocations per instance, between ``min_instances`` and ``max_instances``."""

    min_instances: int
    max_instances: int
    target_invocations_per_instance: int = 1000


@dataclass(frozen=True)
class ServerlessSpec:
    """Serverless inference sizing."""

    memory_mb: int = 2048
    max_concurrency: int = 5


class GuardedEndpoint(Construct):
    """Model (from a model-package ARN), endpoint config and endpoint with deployment guardrails.

    Realtime endpoints update blue/green with LINEAR, CANARY or ALL_AT_ONCE traffic routing and roll back
    automatically when an alarm created here fires. Rollback alarms judge the fleet's health only: the 5XX error
    rate and p99 model latency per variant. Model drift and quality are monitoring alarms (``ModelMonitoring``),
    never rollback alarms: a retraining started by drift would otherwise be rolled back by the same alarm while
    it bakes. Serverless endpoints have neither guardrails nor data capture.

    With autoscaling, the endpoint keeps each variant's current instance count across updates
    (``RetainAllVariantProperties``); weights and data capture still come from the new config. Models and endpoint
    configs are RETAIN: after a rollback the endpoint still runs the previous ones, which CloudFormation would
    otherwise delete when it cleans up the replaced resources.

    Props:
        model_name: the model's config name, named in alarm descriptions (required).
        endpoint_name: endpoint name, ``contracts.endpoint_name(model, stage)`` (required).
        model_package_arn: package served by every variant, or only the challengers when
            ``champion_model_package_arn`` is given (required).
        champion_model_package_arn: package of the first production variant in A/B or shadow setups;
            default: ``model_package_arn``.
        artifact_bucket: bucket holding model artifacts, read by the execution role (required without ``role``).
        key: KMS key of artifacts, capture data and the instance volumes (required).
        image_repository_arns: ECR repositories of the serving images, pulled by the execution role (required
            without ``role``).
        role: the models' execution role; default a new ``<endpoint>-serving`` role here. Pass the role that
            the model or stage access stack made, so the endpoint stack holds no IAM resources.
        alarm_topic: topic notified by every alarm; default none (no alarm actions: the alarms' state changes
            reach EventBridge either way).
        capture_bucket: bucket for data capture under ``contracts.CAPTURE_PREFIX``; default none (no capture).
        capture_percent: share of requests captured, 1-100; default 100 (ignored without ``capture_bucket``).
        variants: production variants; default one ``primary`` variant with weight 1.
        shadow_variant: variant receiving a copy of the traffic; default none.
        instance_type: instance type of every variant; default ``ml.m5.large``.
        instance_count: initial instances per variant; default 2.
        traffic_shift: blue/green routing; default ALL_AT_ONCE, 600 s bake, 300 s termination wait.
        scaling: autoscaling per production variant; default none.
        serverless: serverless sizing; default none (instance-backed).
        max_error_rate: share of invocations answered 5XX (``Invocation5XXErrors`` Average) that trips the
            rollback alarm when exceeded in every one of ``error_minutes`` consecutive minutes; default 0.05.
        error_minutes: consecutive minutes the error rate must exceed ``max_error_rate``; default 3.
        max_latency_p99: p99 ModelLatency that trips the rollback alarm; default 1 second.
        count_rejections: the model answers bad requests 4xx and logs each (``pipeline_code.endpoint.serving``): own the
            endpoint's log group (``/aws/sagemaker/Endpoints/<endpoint>``, KMS, one year, retained), count the
            logged rejections per Model and Reason (``contracts.METRIC_REJECTED_REQUESTS``) with a metric filter,
            and alarm on each variant's ``Invocation4XXErrors``; default False.
        max_rejected_requests: 4XX responses per variant in 5 minutes that raise the rejection alarm (a
            notification, not a rollback: a bad client is not a bad model); default 10.

    A dashboard ``<endpoint>-variants`` shows invocations, 5XX errors and p99 latency per production variant.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        endpoint_name: str,
        model_package_arn: str,
        key: kms.IKey,
        artifact_bucket: s3.IBucket | None = None,
        image_repository_arns: list[str] | None = None,
        alarm_topic: sns.ITopic | None = None,
        champion_model_package_arn: str | None = None,
        role: iam.IRole | None = None,
        capture_bucket: s3.IBucket | None = None,
        capture_percent: int = 100,
        variants: list[VariantSpec] | None = None,
        shadow_variant: VariantSpec | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 2,
        traffic_shift: TrafficShift | None = None,
        scaling: ScalingSpec | None = None,
        serverless: ServerlessSpec | None = None,
        max_error_rate: float = 0.05,
        error_minutes: int = 3,
        max_latency_p99: Duration | None = None,
        count_rejections: bool = False,
        max_rejected_requests: int = 10,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name, self.model_name = endpoint_name, model_name
        self.variants = variants or [VariantSpec("primary", 1.0)]
        self.shadow_variant = shadow_variant
        self.traffic_shift = None if serverless else (traffic_shift or TrafficShift())
        _validate(
            endpoint_name=endpoint_name, variants=self.variants, shadow=shadow_variant, shift=self.traffic_shift,
            serverless=serverless, capture=capture_bucket is not None, capture_percent=capture_percent,
            scaling=scaling, instance_count=instance_count, instance_type=instance_type,
            max_error_rate=max_error_rate, error_minutes=error_minutes,
        )
        if role is None and (artifact_bucket is None or not image_repository_arns):
            raise ValueError(f"GuardedEndpoint {endpoint_name}: without a role, pass artifact_bucket and "
                             "image_repository_arns for the execution role it creates")
        self.role = role or self._execution_role(artifact_bucket, key, image_repository_arns, capture_bucket)
        champion = champion_model_package_arn or model_package_arn
        models = {}
        all_variants = self.variants + ([shadow_variant] if shadow_variant else [])
        for index, variant in enumerate(all_variants):
            package = champion if index == 0 else model_package_arn
            models[variant.name] = self._model(variant, package)

        def production_variant(variant: VariantSpec) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
            if serverless:
                return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant.name, model_name=models[variant.name].attr_model_name,
                    initial_variant_weight=variant.weight,
                    serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                        memory_size_in_mb=serverless.memory_mb, max_concurrency=serverless.max_concurrency),
                )
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant.name, model_name=models[variant.name].attr_model_name,
                initial_variant_weight=variant.weight, instance_type=instance_type,
                initial_instance_count=instance_count,
            )

        uses_volume_key = serverless is None and not is_instance_store(instance_type)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[production_variant(v) for v in self.variants],
            shadow_production_variants=[production_variant(shadow_variant)] if shadow_variant else None,
            kms_key_id=key.key_arn if uses_volume_key else None,
            data_capture_config=self._capture(capture_bucket, capture_percent, key) if capture_bucket else None,
        )
        self._acknowledge_volume_key(serverless, instance_type)
        self.alarms: list[cloudwatch.Alarm] = []
        if self.traffic_shift:
            self.alarms = self._rollback_alarms(max_error_rate, error_minutes, max_latency_p99)
            for alarm in self.alarms if alarm_topic else []:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config() if self.traffic_shift else None,
            # Autoscaling owns the instance count: an update must not reset a scaled-out variant to
            # initial_instance_count. Weights (A/B) and data capture still follow the new config.
            retain_all_variant_properties=True if scaling and not serverless else None,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=kind)
                for kind in NOT_RETAINED_VARIANT_PROPERTIES] if scaling and not serverless else None,
        )
        for resource in (self.endpoint_config, *models.values()):
            # A rolled-back endpoint keeps running the previous config and models; CloudFormation would delete
            # them after a "successful" update. Left-over configs and models cost nothing (docs/deploy.md).
            resource.apply_removal_policy(RemovalPolicy.RETAIN)
        if scaling and not serverless:
            for variant in self.variants:
                self._autoscale(variant, scaling)
        self.rejection_alarms: list[cloudwatch.Alarm] = []
        if count_rejections:
            self.log_group = self._rejection_metrics(key)
            self.endpoint.node.add_dependency(self.log_group)  # SageMaker then writes into the group we own
            self.rejection_alarms = self._rejection_alarms(max_rejected_requests)
            for alarm in self.rejection_alarms if alarm_topic else []:  # else forwarded like the rollback alarms
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.dashboard = self._variant_dashboard()

    def _execution_role(self, artifacts: s3.IBucket, key: kms.IKey, repositories: list[str],
                        capture: s3.IBucket | None) -> iam.Role:
        """Least privilege for serving: read artifacts, pull the image, write logs, metrics and capture data."""
        return endpoint_serving_role(
            self, "ExecutionRole", endpoint_name=self.endpoint_name, endpoint_stack_name=Stack.of(self).stack_name,
            key=key, artifact_bucket=artifacts, image_repository_arns=repositories, capture_bucket=capture)

    def _model(self, variant: VariantSpec, package_arn: str) -> sagemaker.CfnModel:
        model = sagemaker.CfnModel(
            self,
            f"Model{_pascal(variant.name)}",
            execution_role_arn=self.role.role_arn,
            containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=package_arn)],
            enable_network_isolation=True,
        )
        # The role's policy (ECR pull, artifact read) must exist before SageMaker creates the model.
        depend_on_policy(model, self.role)
        return model

    def _capture(self, bucket: s3.IBucket, percent: int, key: kms.IKey):
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=percent,
            destination_s3_uri=f"s3://{bucket.bucket_name}/{contracts.CAPTURE_PREFIX}",
            kms_key_id=key.key_arn,
            capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m)
                             for m in ("Input", "Output")],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                csv_content_types=["text/csv"], json_content_types=["application/json"]),
        )

    def _acknowledge_volume_key(self, serverless: ServerlessSpec | None, instance_type: str) -> None:
        if serverless:
            reason = "Serverless endpoint configs accept no KmsKeyId; SageMaker encrypts their storage itself."
        elif is_instance_store(instance_type):
            reason = (f"{instance_type} uses NVMe instance storage, which SageMaker encrypts with a hardware key "
                      "and rejects a KmsKeyId for.")
        else:
            return
        acknowledge(self.endpoint_config, reason, "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured")

    def _rollback_alarms(self, max_error_rate: float, error_minutes: int,
                         max_latency: Duration | None) -> list[cloudwatch.Alarm]:
        """Fleet health per variant: the 5XX error rate (Average of the per-invocation 0/1 metric, as in
        SageMaker's guardrail examples) and p99 latency. Old and new fleets report under the same variant."""
        alarms = []
        latency_us = (max_latency or Duration.seconds(1)).to_milliseconds() * 1000
        for variant in self.variants:
            dims = {"EndpointName": self.endpoint_name, "VariantName": variant.name}
            suffix = _pascal(variant.name)
            alarms.append(cloudwatch.Alarm(
                self, f"Errors{suffix}",
                alarm_description=f"{self.model_name}: 5XX error rate on {self.endpoint_name}/{variant.name} above "
                                  f"{max_error_rate:.0%} for {error_minutes} minutes: rolls back a deployment",
                metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors",
                                         dimensions_map=dims, statistic="Average", period=Duration.minutes(1)),
                threshold=max_error_rate, evaluation_periods=error_minutes, datapoints_to_alarm=error_minutes,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
            alarms.append(cloudwatch.Alarm(
                self, f"Latency{suffix}",
                alarm_description=f"{self.model_name}: p99 model latency on {self.endpoint_name}/{variant.name} "
                                  "above the limit for 2 minutes: rolls back a deployment",
                metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="ModelLatency",
                                         dimensions_map=dims, statistic="p99", period=Duration.minutes(1)),
                threshold=latency_us, evaluation_periods=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        return alarms

    def _rejection_metrics(self, key: kms.IKey) -> logs.LogGroup:
        """The endpoint's log group, and a metric filter turning each logged rejection into a count."""
        log_group = logs.LogGroup(
            self, "Logs", log_group_name=endpoint_log_group_name(self.endpoint_name), encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN)
        logs.MetricFilter(
            self, "RejectedRequests", log_group=log_group,
            filter_pattern=logs.FilterPattern.string_value(
                f"$.{contracts.REJECTION_EVENT_FIELD}", "=", contracts.REJECTION_EVENT),
            metric_namespace=contracts.METRIC_NAMESPACE, metric_name=contracts.METRIC_REJECTED_REQUESTS,
            metric_value="1", unit=cloudwatch.Unit.COUNT,
            dimensions={contracts.DIM_MODEL: f"$.{contracts.DIM_MODEL}", contracts.DIM_REASON: f"$.{contracts.DIM_REASON}"})
        return log_group

    def _rejection_alarms(self, max_rejected: int) -> list[cloudwatch.Alarm]:
        """SageMaker counts every 4xx the container answers in Invocation4XXErrors, per variant."""
        return [cloudwatch.Alarm(
            self, f"Rejections{_pascal(v.name)}",
            alarm_description=f"Requests to {self.endpoint_name}/{v.name} rejected (4XX); the reasons are in "
                              f"{contracts.METRIC_NAMESPACE} {contracts.METRIC_REJECTED_REQUESTS} by Reason",
            metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation4XXErrors", statistic="Sum",
                                     period=Duration.minutes(5),
                                     dimensions_map={"EndpointName": self.endpoint_name, "VariantName": v.name}),
            threshold=max_rejected, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING) for v in self.variants]

    def _deployment_config(self) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        shift = self.traffic_shift
        size = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=shift.step_percent) \
            if shift.step_percent else None
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type=shift.kind,
                    wait_interval_in_seconds=shift.bake_seconds,
                    linear_step_size=size if shift.kind == "LINEAR" else None,
                    canary_size=size if shift.kind == "CANARY" else None,
                ),
                termination_wait_in_seconds=shift.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=shift.execution_timeout_seconds,
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in self.alarms]),
        )

    def _variant_dashboard(self) -> cloudwatch.Dashboard:
        """Per-variant invocations, errors and latency side by side: how an A/B test is read."""
        def per_variant(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [cloudwatch.Metric(namespace="AWS/SageMaker", metric_name=metric, statistic=statistic,
                                      period=Duration.minutes(5), label=v.name,
                                      dimensions_map={"EndpointName": self.endpoint_name, "VariantName": v.name})
                    for v in self.variants]

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=variant_dashboard_name(self.endpoint_name))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Invocations per variant", left=per_variant("Invocations", "Sum"), width=8),
            cloudwatch.GraphWidget(title="5XX errors per variant", left=per_variant("Invocation5XXErrors", "Sum"),
                                   width=8),
            cloudwatch.GraphWidget(title="p99 model latency per variant (us)",
                                   left=per_variant("ModelLatency", "p99"), width=8),
        )
        return dashboard

    def _scaling_role(self) -> iam.IRole:
        """Application Auto Scaling acts through its service-linked role (created on first use)."""
        existing = self.node.try_find_child("ScalingRole")
        if existing:
            return existing
        return iam.Role.from_role_arn(self, "ScalingRole", Stack.of(self).format_arn(
            service="iam", region="", resource="role",
            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                          "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"))

    def _autoscale(self, variant: VariantSpec, scaling: ScalingSpec) -> None:
        target = autoscaling.ScalableTarget(
            self,
            f"Scaling{_pascal(variant.name)}",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{variant.name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=scaling.min_instances,
            max_capacity=scaling.max_instances,
            role=self._scaling_role(),
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=scaling.target_invocations_per_instance,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def _validate(*, endpoint_name: str, variants: list[VariantSpec], shadow: VariantSpec | None,
              shift: TrafficShift | None, serverless: ServerlessSpec | None, capture: bool, capture_percent: int,
              scaling: ScalingSpec | None, instance_count: int, instance_type: str, max_error_rate: float,
              error_minutes: int) -> None:
    """Reject what SageMaker would reject at deploy time, naming the bad value and what is allowed."""
    where = f"GuardedEndpoint {endpoint_name}"
    if not variants:
        raise ValueError(f"{where}: needs at least one production variant")
    names = [v.name for v in variants] + ([shadow.name] if shadow else [])
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: variant names repeat: {names}")
    for variant in variants + ([shadow] if shadow else []):
        if not 0 < variant.weight <= 1:
            raise ValueError(f"{where}: variant {variant.name!r} weight {variant.weight} must lie in (0, 1]")
    if serverless:
        if capture:
            raise ValueError(f"{where}: a serverless endpoint has no data capture; pass no capture_bucket")
        if scaling:
            raise ValueError(f"{where}: a serverless endpoint scales itself; pass no scaling")
        return
    if capture and not 1 <= capture_percent <= 100:
        raise ValueError(f"{where}: capture_percent {capture_percent} must be 1-100")
    if not 1 <= instance_count <= 100:
        raise ValueError(f"{where}: instance_count {instance_count} must be 1-100")
    if scaling and not scaling.min_instances <= instance_count <= scaling.max_instances:
        raise ValueError(f"{where}: instance_count {instance_count} must lie within scaling "
                         f"[{scaling.min_instances}, {scaling.max_instances}]")
    if not 0 < max_error_rate < 1:
        raise ValueError(f"{where}: max_error_rate {max_error_rate} must lie in (0, 1): a share of invocations")
    if not 1 <= error_minutes <= 60:
        raise ValueError(f"{where}: error_minutes {error_minutes} must be 1-60")
    if shift.kind != "ALL_AT_ONCE" and instance_type.split(".")[1] == "inf1":
        raise ValueError(f"{where}: SageMaker ignores {shift.kind} traffic shifting on Inf1 instances "
                         f"({instance_type}); use ALL_AT_ONCE or another instance family")
    _validate_shift(where, shift, instance_count)


def _validate_shift(where: str, shift: TrafficShift, instance_count: int) -> None:
    if shift.kind not in ("LINEAR", "CANARY", "ALL_AT_ONCE"):
        raise ValueError(f"{where}: traffic shift {shift.kind!r} must be LINEAR, CANARY or ALL_AT_ONCE")
    for label, value in (("bake_seconds", shift.bake_seconds),
                         ("termination_wait_seconds", shift.termination_wait_seconds)):
        if not 0 <= value <= 3600:
            raise ValueError(f"{where}: {label} {value} must be 0-3600")
    if shift.kind == "ALL_AT_ONCE":
        if shift.step_percent is not None:
            raise ValueError(f"{where}: step_percent applies to LINEAR and CANARY only, got {shift.step_percent}")
    else:
        low, high = STEP_LIMITS[shift.kind]
        if shift.step_percent is None or not low <= shift.step_percent <= high:
            raise ValueError(f"{where}: {shift.kind} step must be {low}-{high}% of capacity, got {shift.step_percent}")
        if shift.kind == "LINEAR" and instance_count * shift.step_percent < 100:
            raise ValueError(f"{where}: a LINEAR step of {shift.step_percent}% of {instance_count} instance(s) "
                             f"shifts less than one instance; use at least {math.ceil(100 / shift.step_percent)} "
                             "instances or a larger step")
        if shift.kind == "CANARY" and instance_count < 2:
            raise ValueError(f"{where}: a CANARY on 1 instance shifts all traffic at once; use at least 2 "
                             "instances or ALL_AT_ONCE")
    timeout = shift.execution_timeout_seconds
    if not MIN_EXECUTION_TIMEOUT <= timeout <= MAX_EXECUTION_TIMEOUT:
        raise ValueError(f"{where}: the shift needs {timeout} s ({shift.bake_intervals} bakes of {shift.bake_seconds} s "
                         f"+ {shift.termination_wait_seconds} s termination wait + {PROVISIONING_ALLOWANCE_SECONDS} s "
                         f"provisioning), beyond SageMaker's {MIN_EXECUTION_TIMEOUT}-{MAX_EXECUTION_TIMEOUT} s; "
                         "use a shorter bake or a larger step")
