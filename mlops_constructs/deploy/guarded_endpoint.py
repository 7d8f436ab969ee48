"""A SageMaker endpoint that ships new models with blue/green traffic shifting and alarm-driven rollback."""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private import endpoint_metrics
from mlops_constructs._private.dependencies import depend_on_policy
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy import limits
from mlops_constructs.deploy.endpoint_access import endpoint_serving_role

# With autoscaling the endpoint retains variant properties across updates, except these (UpdateEndpoint
# VariantPropertyType values): A/B weights and data capture follow the deployed config.
NOT_RETAINED_VARIANT_PROPERTIES = ("DesiredWeight", "DataCaptureConfig")


@dataclass(frozen=True)
class VariantSpec:
    """A production or shadow variant: ``name`` and relative traffic ``weight`` (0-1]."""

    name: str
    weight: float = 1.0


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
        image_repositories: ECR repositories of the serving images, pulled by the execution role (required
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
        instance_count: initial instances per variant, 1-100; default 2.
        traffic_shift: blue/green routing, ``LINEAR``, ``CANARY`` or ``ALL_AT_ONCE``; default ``ALL_AT_ONCE``.
        step_percent: capacity per step, LINEAR 10-50, CANARY 1-50; default none (required for LINEAR and CANARY).
        bake_seconds: wait after each step, 0-3600; default 600.
        termination_wait_seconds: how long the old fleet is kept after the shift, 0-3600; default 300.
            The execution timeout covers every bake, this wait and ``limits.PROVISIONING_ALLOWANCE_SECONDS``.
        min_instances: autoscaling floor per production variant; default none (no autoscaling).
        max_instances: autoscaling ceiling per production variant, at most 100; default none (no autoscaling).
            Give both or neither.
        target_invocations_per_instance: autoscaling target; default 1000 (ignored without autoscaling).
        serverless_memory_mb: serverless memory per variant, one of ``limits.SERVERLESS_MEMORY_MB``; default none
            (instance-backed). With it the endpoint is serverless: no guardrails (``traffic_shift`` must stay
            ALL_AT_ONCE), capture or autoscaling.
        serverless_max_concurrency: serverless concurrency per variant, 1-200; default 5 (ignored unless serverless).
        max_error_rate: share of invocations answered 5XX (``Invocation5XXErrors`` Average) that trips the
            rollback alarm when exceeded in every one of ``error_minutes`` consecutive minutes; default 0.05.
        error_minutes: consecutive minutes the error rate must exceed ``max_error_rate``, 1-60; default 3.
        max_latency_p99: p99 ModelLatency that trips the rollback alarm; default 1 second.
        count_rejections: the model answers bad requests 4xx and logs each (``pipeline_code.endpoint.serving``): own
            the endpoint's log group (``/aws/sagemaker/Endpoints/<endpoint>``, KMS, one year, retained), count the
            logged rejections per Model and Reason (``contracts.METRIC_REJECTED_REQUESTS``) with a metric filter,
            and alarm on each variant's ``Invocation4XXErrors``; default False.
        max_rejected_requests: 4XX responses per variant in 5 minutes that raise the rejection alarm (a
            notification, not a rollback: a bad client is not a bad model); default 10.

    Limits come from ``mlops_constructs.deploy.limits``, which the model config validates with too.
    A dashboard ``<endpoint>-variants`` shows invocations, 5XX errors and p99 latency per production variant; the
    ``metric_*`` methods give any variant's metrics to other alarms and dashboards.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model_name: str,
        model_package_arn: str,
        key: kms.IKey,
        artifact_bucket: s3.IBucket | None = None,
        image_repositories: list[ecr.IRepository] | None = None,
        alarm_topic: sns.ITopic | None = None,
        champion_model_package_arn: str | None = None,
        role: iam.IRole | None = None,
        capture_bucket: s3.IBucket | None = None,
        capture_percent: int = 100,
        variants: list[VariantSpec] | None = None,
        shadow_variant: VariantSpec | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 2,
        traffic_shift: str = "ALL_AT_ONCE",
        step_percent: int | None = None,
        bake_seconds: int = limits.DEFAULT_BAKE_SECONDS,
        termination_wait_seconds: int = limits.DEFAULT_TERMINATION_WAIT_SECONDS,
        min_instances: int | None = None,
        max_instances: int | None = None,
        target_invocations_per_instance: int = limits.DEFAULT_TARGET_INVOCATIONS_PER_INSTANCE,
        serverless_memory_mb: int | None = None,
        serverless_max_concurrency: int = limits.DEFAULT_SERVERLESS_CONCURRENCY,
        max_error_rate: float = limits.DEFAULT_MAX_ERROR_RATE,
        error_minutes: int = limits.DEFAULT_ERROR_MINUTES,
        max_latency_p99: Duration | None = None,
        count_rejections: bool = False,
        max_rejected_requests: int = limits.DEFAULT_MAX_REJECTED_REQUESTS,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name, self.model_name = endpoint_name, model_name
        self.variants = variants or [VariantSpec("primary", 1.0)]
        self.shadow_variant = shadow_variant
        serverless = serverless_memory_mb is not None
        scaling = min_instances is not None or max_instances is not None
        self.guardrails = not serverless
        self.traffic_shift, self.step_percent = traffic_shift, step_percent
        self.bake_seconds, self.termination_wait_seconds = bake_seconds, termination_wait_seconds
        _validate(
            endpoint_name=endpoint_name, variants=self.variants, shadow=shadow_variant,
            serverless_memory_mb=serverless_memory_mb, serverless_max_concurrency=serverless_max_concurrency,
            capture=capture_bucket is not None, capture_percent=capture_percent, min_instances=min_instances,
            max_instances=max_instances, instance_count=instance_count, instance_type=instance_type,
            max_error_rate=max_error_rate, error_minutes=error_minutes, traffic_shift=traffic_shift,
            step_percent=step_percent, bake_seconds=bake_seconds, termination_wait_seconds=termination_wait_seconds,
        )
        if role is None and (artifact_bucket is None or not image_repositories):
            raise ValueError(f"GuardedEndpoint {endpoint_name}: without a role, pass artifact_bucket and "
                             "image_repositories for the execution role it creates")
        self.role = role or self._execution_role(artifact_bucket, key, image_repositories, capture_bucket)
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
                        memory_size_in_mb=serverless_memory_mb, max_concurrency=serverless_max_concurrency),
                )
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant.name, model_name=models[variant.name].attr_model_name,
                initial_variant_weight=variant.weight, instance_type=instance_type,
                initial_instance_count=instance_count,
            )

        uses_volume_key = not serverless and not limits.is_instance_store(instance_type)
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
        if self.guardrails:
            self.alarms = self._rollback_alarms(max_error_rate, error_minutes, max_latency_p99)
            for alarm in self.alarms if alarm_topic else []:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config() if self.guardrails else None,
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
                self._autoscale(variant, min_instances, max_instances, target_invocations_per_instance)
        self.rejection_alarms: list[cloudwatch.Alarm] = []
        if count_rejections:
            self.log_group = self._rejection_metrics(key)
            self.endpoint.node.add_dependency(self.log_group)  # SageMaker then writes into the group we own
            self.rejection_alarms = self._rejection_alarms(max_rejected_requests)
            for alarm in self.rejection_alarms if alarm_topic else []:  # else forwarded like the rollback alarms
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.dashboard = self._variant_dashboard()

    # Metrics of one variant (production or shadow), ``AWS/SageMaker`` per EndpointName and VariantName.

    def metric(self, metric_name: str, variant: str, *, statistic: str = "Sum", period: Duration | None = None,
               label: str | None = None) -> cloudwatch.Metric:
        """Any SageMaker endpoint metric of ``variant``; default ``Sum`` over 5 minutes, CloudWatch's label."""
        names = [v.name for v in self.variants] + ([self.shadow_variant.name] if self.shadow_variant else [])
        if variant not in names:
            raise ValueError(f"GuardedEndpoint {self.endpoint_name}: no variant {variant!r}; variants are {names}")
        return endpoint_metrics.variant_metric(self.endpoint_name, variant, metric_name, statistic=statistic,
                                               period=period, label=label)

    def metric_invocations(self, variant: str, **options) -> cloudwatch.Metric:
        """Requests sent to ``variant``; default ``Sum`` over 5 minutes."""
        return self.metric(endpoint_metrics.INVOCATIONS, variant, **options)

    def metric_invocation_5xx_errors(self, variant: str, **options) -> cloudwatch.Metric:
        """Requests ``variant`` answered 5XX; default ``Sum`` over 5 minutes (``statistic="Average"``: the rate)."""
        return self.metric(endpoint_metrics.INVOCATION_5XX_ERRORS, variant, **options)

    def metric_invocation_4xx_errors(self, variant: str, **options) -> cloudwatch.Metric:
        """Requests ``variant`` answered 4XX (rejected); default ``Sum`` over 5 minutes."""
        return self.metric(endpoint_metrics.INVOCATION_4XX_ERRORS, variant, **options)

    def metric_model_latency(self, variant: str, *, statistic: str = "p99", **options) -> cloudwatch.Metric:
        """Time the model of ``variant`` took to answer, in microseconds; default ``p99`` over 5 minutes."""
        return self.metric(endpoint_metrics.MODEL_LATENCY, variant, statistic=statistic, **options)

    def _execution_role(self, artifacts: s3.IBucket, key: kms.IKey, repositories: list[ecr.IRepository],
                        capture: s3.IBucket | None) -> iam.Role:
        """Least privilege for serving: read artifacts, pull the image, write logs, metrics and capture data."""
        return endpoint_serving_role(
            self, "ExecutionRole", endpoint_name=self.endpoint_name, endpoint_stack_name=Stack.of(self).stack_name,
            key=key, artifact_bucket=artifacts, image_repositories=repositories, capture_bucket=capture)

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

    def _acknowledge_volume_key(self, serverless: bool, instance_type: str) -> None:
        if serverless:
            reason = "Serverless endpoint configs accept no KmsKeyId; SageMaker encrypts their storage itself."
        elif limits.is_instance_store(instance_type):
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
        latency_us = (max_latency or Duration.millis(limits.DEFAULT_MAX_LATENCY_P99_MS)).to_milliseconds() * 1000
        minute = Duration.minutes(1)
        for variant in self.variants:
            suffix = _pascal(variant.name)
            alarms.append(cloudwatch.Alarm(
                self, f"Errors{suffix}",
                alarm_description=f"{self.model_name}: 5XX error rate on {self.endpoint_name}/{variant.name} above "
                                  f"{max_error_rate:.0%} for {error_minutes} minutes: rolls back a deployment",
                metric=self.metric_invocation_5xx_errors(variant.name, statistic="Average", period=minute),
                threshold=max_error_rate, evaluation_periods=error_minutes, datapoints_to_alarm=error_minutes,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
            alarms.append(cloudwatch.Alarm(
                self, f"Latency{suffix}",
                alarm_description=f"{self.model_name}: p99 model latency on {self.endpoint_name}/{variant.name} "
                                  "above the limit for 2 minutes: rolls back a deployment",
                metric=self.metric_model_latency(variant.name, period=minute),
                threshold=latency_us, evaluation_periods=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        return alarms

    def _rejection_metrics(self, key: kms.IKey) -> logs.LogGroup:
        """The endpoint's log group, and a metric filter turning each logged rejection into a count."""
        log_group = logs.LogGroup(
            self, "Logs", log_group_name=contracts.endpoint_log_group_name(self.endpoint_name), encryption_key=key,
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
            metric=self.metric_invocation_4xx_errors(v.name),
            threshold=max_rejected, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING) for v in self.variants]

    def _deployment_config(self) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        kind, step = self.traffic_shift, self.step_percent
        size = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=step) if step else None
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type=kind,
                    wait_interval_in_seconds=self.bake_seconds,
                    linear_step_size=size if kind == "LINEAR" else None,
                    canary_size=size if kind == "CANARY" else None,
                ),
                termination_wait_in_seconds=self.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=limits.execution_timeout_seconds(
                    kind, step, self.bake_seconds, self.termination_wait_seconds),
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in self.alarms]),
        )

    def _variant_dashboard(self) -> cloudwatch.Dashboard:
        """Per-variant invocations, errors and latency side by side: how an A/B test is read."""
        def per_variant(metric) -> list[cloudwatch.IMetric]:
            return [metric(v.name, label=v.name) for v in self.variants]

        dashboard = cloudwatch.Dashboard(self, "Dashboard",
                                         dashboard_name=contracts.variant_dashboard_name(self.endpoint_name))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Invocations per variant", left=per_variant(self.metric_invocations),
                                   width=8),
            cloudwatch.GraphWidget(title="5XX errors per variant",
                                   left=per_variant(self.metric_invocation_5xx_errors), width=8),
            cloudwatch.GraphWidget(title="p99 model latency per variant (us)",
                                   left=per_variant(self.metric_model_latency), width=8),
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

    def _autoscale(self, variant: VariantSpec, min_instances: int, max_instances: int,
                   target_invocations: int) -> None:
        target = autoscaling.ScalableTarget(
            self,
            f"Scaling{_pascal(variant.name)}",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{variant.name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_instances,
            max_capacity=max_instances,
            role=self._scaling_role(),
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=target_invocations,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def _validate(*, endpoint_name: str, variants: list[VariantSpec], shadow: VariantSpec | None,
              serverless_memory_mb: int | None, serverless_max_concurrency: int, capture: bool, capture_percent: int,
              min_instances: int | None, max_instances: int | None, instance_count: int, instance_type: str,
              max_error_rate: float, error_minutes: int, traffic_shift: str, step_percent: int | None,
              bake_seconds: int, termination_wait_seconds: int) -> None:
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
    serverless = serverless_memory_mb is not None
    scaling = min_instances is not None or max_instances is not None
    low, high = limits.INSTANCE_COUNT_RANGE
    if scaling and (min_instances is None or max_instances is None
                    or not low <= min_instances <= max_instances <= high):
        raise ValueError(f"{where}: autoscaling needs {low} <= min_instances <= max_instances <= {high}; got "
                         f"[{min_instances}, {max_instances}]")
    if serverless:
        if capture:
            raise ValueError(f"{where}: a serverless endpoint has no data capture; pass no capture_bucket")
        if scaling:
            raise ValueError(f"{where}: a serverless endpoint scales itself; pass no min_instances/max_instances")
        if traffic_shift != "ALL_AT_ONCE" or step_percent is not None:
            raise ValueError(f"{where}: a serverless endpoint has no deployment guardrails; pass no traffic_shift "
                             f"({traffic_shift}) or step_percent ({step_percent})")
        if serverless_memory_mb not in limits.SERVERLESS_MEMORY_MB:
            raise ValueError(f"{where}: serverless_memory_mb {serverless_memory_mb} must be one of "
                             f"{list(limits.SERVERLESS_MEMORY_MB)}")
        low, high = limits.SERVERLESS_CONCURRENCY_RANGE
        if not low <= serverless_max_concurrency <= high:
            raise ValueError(f"{where}: serverless_max_concurrency {serverless_max_concurrency} must be {low}-{high}")
        return
    low, high = limits.CAPTURE_PERCENT_RANGE
    if capture and not low <= capture_percent <= high:
        raise ValueError(f"{where}: capture_percent {capture_percent} must be {low}-{high}")
    low, high = limits.INSTANCE_COUNT_RANGE
    if not low <= instance_count <= high:
        raise ValueError(f"{where}: instance_count {instance_count} must be {low}-{high}")
    if scaling and not min_instances <= instance_count <= max_instances:
        raise ValueError(f"{where}: instance_count {instance_count} must lie within autoscaling "
                         f"[{min_instances}, {max_instances}]")
    if not 0 < max_error_rate < 1:
        raise ValueError(f"{where}: max_error_rate {max_error_rate} must lie in (0, 1): a share of invocations")
    low, high = limits.ERROR_MINUTES_RANGE
    if not low <= error_minutes <= high:
        raise ValueError(f"{where}: error_minutes {error_minutes} must be {low}-{high}")
    problems = limits.traffic_shift_problems(
        kind=traffic_shift, step_percent=step_percent, bake_seconds=bake_seconds,
        termination_wait_seconds=termination_wait_seconds, instance_count=instance_count, instance_type=instance_type)
    if problems:
        field = {"kind": "traffic_shift"}.get(problems[0].field, problems[0].field)
        raise ValueError(f"{where}: {field} {problems[0].value}: {problems[0].rule}")
