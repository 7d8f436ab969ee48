"""The platform's own model monitoring: scheduled drift and quality checks, their alarms and retraining."""
from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.platform_function import PlatformFunction
from mlops_constructs.monitor.drift_fanout import DriftFanOut
from mlops_constructs.monitor.monitoring_dashboard import MonitoringDashboard
from mlops_constructs.monitor.monitoring_metrics import MonitoringMetrics
from mlops_constructs.monitor.retrain_trigger import RetrainTrigger
from monitoring_code import limits

_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")


def schedule_period(expression: str) -> Duration:
    """The alarm period that matches a schedule: its rate, capped at one day; one hour for cron schedules."""
    match = _RATE.match(expression)
    if not match:
        return Duration.hours(1)
    seconds = int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[match.group(2)]
    return Duration.seconds(min(max(seconds, 60), 86400))


def _check_props(construct_id: str, *, drift_metric: str | None, drift_threshold: float, drift_min_samples: int,
                 quality_metric: str | None, quality_floor: float | None, quality_min_samples: int,
                 ground_truth_prefix: str | None, retrain_on_alarm: bool, pipeline_name: str | None) -> None:
    """Fail at synth with the bad value and what is allowed (the limits are ``monitoring_code.limits``)."""
    errors = []
    if drift_metric is None and quality_metric is None:
        errors.append("monitoring has neither drift nor quality settings")
    if drift_metric is not None:
        if drift_metric not in limits.DRIFT_METRICS:
            errors.append(f"drift_metric must be one of {limits.DRIFT_METRICS}; got {drift_metric!r}")
        errors += filter(None, [limits.drift_threshold_error(drift_threshold),
                                limits.min_samples_error(drift_min_samples)])
    if quality_metric is not None:
        if quality_metric not in contracts.QUALITY_METRIC_NAMES:
            errors.append(f"quality_metric must be one of {tuple(contracts.QUALITY_METRIC_NAMES)}; "
                          f"got {quality_metric!r}")
        if quality_floor is None or not 0 <= quality_floor <= 1:
            errors.append(f"quality_metric needs quality_floor from 0 to 1; got {quality_floor}")
        if not ground_truth_prefix:
            errors.append("quality_metric needs ground_truth_prefix")
        errors += filter(None, [limits.min_samples_error(quality_min_samples)])
    if retrain_on_alarm and not pipeline_name:
        errors.append("retrain_on_alarm needs pipeline_name")
    if errors:
        raise ValueError(f"ModelMonitoring {construct_id}: {'; '.join(errors)}")


class ModelMonitoring(Construct):
    """Drift and quality monitors of one endpoint, their alarms, the retraining trigger and a dashboard.

    Props:
        model_name: the model (metric dimension ``Model``) (required).
        endpoint_name: the monitored endpoint (dimension ``Endpoint``), e.g. ``<model>-prod`` (required).
        data_bucket: holds capture data, ground truth and the reports (required).
        artifact_bucket: holds the build pipeline's baselines under ``pipelines/`` (required).
        key: the model's KMS key (required).
        topic: SNS topic every alarm notifies (required).
        schedule: EventBridge rule expression of the checks; default ``rate(1 hour)``
            (``monitoring_code.limits.DEFAULT_SCHEDULE``).
        drift_metric: ``psi``, ``jensen_shannon`` or ``linf``; ``None`` turns the drift monitor off; default ``psi``.
        drift_threshold: a feature (or the prediction) has drifted above this score, > 0 and <= 10; default 0.2.
        drift_min_samples: fewer records in a window give no drift verdict; default 500.
        quality_metric: ``auc``, ``recall``, ``precision``, ``f1`` or ``accuracy``, on ground truth; default none
            (no quality monitor).
        quality_floor: alarm when ``quality_metric`` falls below this (0 to 1); required with ``quality_metric``.
        quality_min_samples: fewer labelled predictions give no quality verdict; default 100.
        ground_truth_prefix: labels prefix in the data bucket; required with ``quality_metric``.
        positive_class: label value that counts as positive; default ``"1"``.
        decision_threshold: score at or above which a prediction is positive; default 0.5.
        label_delay_hours: the quality check scores the hour this many hours before the last; default 0.
        retrain_on_alarm: a drift or quality alarm starts ``pipeline_name`` (``RetrainTrigger``); default False.
        retrain_cooldown_hours: no alarm-started execution within this many hours of another (0 to 720);
            default 24.
        pipeline_name: the build pipeline the trigger starts and the dashboard plots; required with
            ``retrain_on_alarm``; default none.
        variants: variant names shown on the dashboard; default ``("primary",)``.
        endpoint_role_arn: a role in the endpoint's account that the monitors assume to describe the endpoint,
            its config, models and packages; default none (the endpoint runs in this account). The monitors'
            roles are then named ``<model>-drift-detector`` and ``<model>-quality-monitor``, which that role
            trusts. Capture data is read here either way: endpoints write it to this account's data bucket.
        categorical_codes: captured categoricals are encoder.json codes (a custom image with ``input: encoded``),
            not names; default False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        endpoint_name: str,
        data_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        key: kms.IKey,
        topic: sns.ITopic,
        schedule: str = limits.DEFAULT_SCHEDULE,
        drift_metric: str | None = limits.DEFAULT_DRIFT_METRIC,
        drift_threshold: float = limits.DEFAULT_DRIFT_THRESHOLD,
        drift_min_samples: int = limits.DEFAULT_DRIFT_MIN_SAMPLES,
        quality_metric: str | None = None,
        quality_floor: float | None = None,
        quality_min_samples: int = limits.DEFAULT_QUALITY_MIN_SAMPLES,
        ground_truth_prefix: str | None = None,
        positive_class: str = "1",
        decision_threshold: float = 0.5,
        label_delay_hours: int = 0,
        retrain_on_alarm: bool = False,
        retrain_cooldown_hours: int = limits.DEFAULT_COOLDOWN_HOURS,
        pipeline_name: str | None = None,
        variants: Sequence[str] = ("primary",),
        endpoint_role_arn: str | None = None,
        categorical_codes: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_props(construct_id, drift_metric=drift_metric, drift_threshold=drift_threshold,
                     drift_min_samples=drift_min_samples, quality_metric=quality_metric, quality_floor=quality_floor,
                     quality_min_samples=quality_min_samples, ground_truth_prefix=ground_truth_prefix,
                     retrain_on_alarm=retrain_on_alarm, pipeline_name=pipeline_name)
        self.model_name, self.endpoint_name = model_name, endpoint_name
        self._data_bucket, self._key, self._topic = data_bucket, key, topic
        self._endpoint_role_arn = endpoint_role_arn
        self._categorical_codes = categorical_codes
        self.period = schedule_period(schedule)
        self.schedule = events.Schedule.expression(schedule)
        self.metrics = MonitoringMetrics(model_name=model_name, endpoint_name=endpoint_name, period=self.period)
        self.drift_function = self.quality_function = self.drift_fanout = None
        self.drift_alarm = self.prediction_drift_alarm = self.baseline_error_alarm = self.quality_alarm = None
        if drift_metric is not None:
            self._drift(drift_metric, drift_threshold, drift_min_samples, artifact_bucket)
        if quality_metric is not None:
            self._quality(quality_metric, quality_floor, quality_min_samples, ground_truth_prefix, positive_class,
                          decision_threshold, label_delay_hours)
        retrain_alarms = {a.alarm_name: kind for a, kind in ((self.drift_alarm, "drift"),
                                                             (self.prediction_drift_alarm, "drift"),
                                                             (self.quality_alarm, "quality")) if a is not None}
        self.retrain_trigger = None
        if retrain_on_alarm:
            self.retrain_trigger = RetrainTrigger(
                self, "Retrain", model_name=model_name, pipeline_name=pipeline_name, key=key,
                alarms=[a for a in (self.drift_alarm, self.prediction_drift_alarm, self.quality_alarm) if a],
                alarm_triggers=retrain_alarms, cooldown_hours=retrain_cooldown_hours,
            )
        self.dashboard = MonitoringDashboard(
            self, "Dashboard", metrics=self.metrics, variants=list(variants), pipeline_name=pipeline_name,
            quality_metrics=[contracts.QUALITY_METRIC_NAMES[m] for m in ("auc", "recall", "precision")]
            if quality_metric is not None else None,  # without a quality monitor nothing publishes them
            alarms=[a for a in (self.drift_alarm, self.baseline_error_alarm, self.quality_alarm) if a],
        )

    def metric(self, name: str, service: str, statistic: str = "Maximum",
               feature: str | None = None) -> cloudwatch.Metric:
        """A monitoring metric of this model and endpoint, as ``service`` (the emitting function, e.g.
        ``contracts.SERVICE_DRIFT_DETECTOR``) publishes it: Powertools adds the ``service`` dimension."""
        return self.metrics.metric(name, service, statistic, feature=feature)

    def _scheduled(self, construct_id: str, function: str, description: str, environment: dict[str, str],
                   memory_size: int, timeout: Duration) -> PlatformFunction:
        fn = PlatformFunction(
            self, construct_id, function=function, description=description, key=self._key,
            memory_size=memory_size, timeout=timeout, retry_attempts=0,
            environment={contracts.ENV_MODEL_NAME: self.model_name, contracts.ENV_ENDPOINT_NAME: self.endpoint_name,
                         contracts.ENV_DATA_BUCKET: self._data_bucket.bucket_name,
                         "POWERTOOLS_METRICS_NAMESPACE": contracts.METRIC_NAMESPACE, **environment,
                         **({contracts.ENV_ENDPOINT_ROLE: self._endpoint_role_arn} if self._endpoint_role_arn else {})},
            role_name=contracts.monitor_role_name(self.model_name, function) if self._endpoint_role_arn else None,
        )
        if self._endpoint_role_arn:
            fn.role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadEndpointInItsAccount", actions=["sts:AssumeRole"], resources=[self._endpoint_role_arn]))
        events.Rule(self, f"{construct_id}Schedule", schedule=self.schedule,
                    description=f"Runs the {function} of {self.endpoint_name}",
                    targets=[targets.LambdaFunction(fn.function, retry_attempts=0)])
        self._grant_describe_serving_models(fn.role)
        capture = f"{contracts.CAPTURE_PREFIX}/{self.endpoint_name}/"
        reports = f"{contracts.MONITORING_REPORTS_PREFIX}/{self.endpoint_name}/"
        self._grant_read(fn.role, self._data_bucket, capture)
        report_objects = self._data_bucket.arn_for_objects(f"{reports}*")
        fn.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[report_objects]))
        fn.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey"], resources=[self._key.key_arn]))
        return fn

    def _grant_read(self, role: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
        """GetObject under one prefix and ListBucket limited to it (no s3:* action wildcards)."""
        objects = bucket.arn_for_objects(f"{prefix}*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))

    def _alarm(self, construct_id: str, metric: cloudwatch.Metric, threshold: float,
               comparison: cloudwatch.ComparisonOperator, suffix: str, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, construct_id, metric=metric, threshold=threshold, comparison_operator=comparison,
            evaluation_periods=1, datapoints_to_alarm=1, alarm_name=f"{self.endpoint_name}-{suffix}",
            alarm_description=description, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self._topic))
        return alarm

    def _drift(self, metric: str, threshold: float, min_samples: int, artifact_bucket: s3.IBucket) -> None:
        fn = self._scheduled(
            "DriftDetector", contracts.SERVICE_DRIFT_DETECTOR, f"Data and prediction drift of {self.endpoint_name}",
            {contracts.ENV_DRIFT_METRIC: metric, contracts.ENV_DRIFT_THRESHOLD: str(threshold),
             contracts.ENV_MIN_SAMPLES: str(min_samples),
             contracts.ENV_CATEGORICAL_INPUT: contracts.CATEGORICAL_CODES if self._categorical_codes
             else contracts.CATEGORICAL_NAMES}, memory_size=2048, timeout=Duration.minutes(10),
        )
        self._grant_read(fn.role, artifact_bucket, f"{contracts.ARTIFACT_PREFIX}/")
        self.drift_function = fn
        # Hours too large for this one invocation go to a Distributed Map (docs/monitoring.md, "Scale").
        self.drift_fanout = DriftFanOut(
            self, "DriftFanOut", endpoint_name=self.endpoint_name, data_bucket=self._data_bucket,
            artifact_bucket=artifact_bucket, baselines_prefix=f"{contracts.ARTIFACT_PREFIX}/", key=self._key,
            topic=self._topic,
            environment={contracts.ENV_MODEL_NAME: self.model_name, contracts.ENV_ENDPOINT_NAME: self.endpoint_name,
                         contracts.ENV_DATA_BUCKET: self._data_bucket.bucket_name,
                         "POWERTOOLS_METRICS_NAMESPACE": contracts.METRIC_NAMESPACE})
        fn.function.add_environment(contracts.ENV_STATE_MACHINE_ARN, self.drift_fanout.state_machine.state_machine_arn)
        self.drift_fanout.grant_start(fn.role)
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        self.drift_alarm = self._alarm(
            "DriftAlarm", self.metrics.drift(contracts.METRIC_DRIFT_SCORE), threshold, above, "drift",
            f"A feature's {metric} drift score exceeds {threshold} (no data or too few samples: OK)",
        )
        self.prediction_drift_alarm = self._alarm(
            "PredictionDriftAlarm", self.metrics.drift(contracts.METRIC_PREDICTION_DRIFT), threshold, above,
            "prediction-drift", f"The prediction distribution's {metric} score exceeds {threshold}",
        )
        self.baseline_error_alarm = self._alarm(
            "BaselineErrorAlarm", self.metrics.drift(contracts.METRIC_BASELINE_ERROR), 1,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, "baseline-error",
            "The drift baseline of the serving model is missing or corrupt: drift is not being checked",
        )

    def _quality(self, metric: str, floor: float, min_samples: int, ground_truth_prefix: str, positive_class: str,
                 decision_threshold: float, label_delay_hours: int) -> None:
        fn = self._scheduled(
            "QualityMonitor", contracts.SERVICE_QUALITY_MONITOR, f"Model quality of {self.endpoint_name} on ground truth",
            {contracts.ENV_GROUND_TRUTH_PREFIX: ground_truth_prefix, contracts.ENV_POSITIVE_CLASS: positive_class,
             contracts.ENV_DECISION_THRESHOLD: str(decision_threshold), contracts.ENV_MIN_SAMPLES: str(min_samples),
             contracts.ENV_LABEL_DELAY_HOURS: str(label_delay_hours)}, memory_size=1024, timeout=Duration.minutes(5),
        )
        self._grant_read(fn.role, self._data_bucket, ground_truth_prefix)
        self.quality_function = fn
        name = contracts.QUALITY_METRIC_NAMES[metric]
        self.quality_alarm = self._alarm(
            "QualityAlarm", self.metrics.quality(name), floor,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, "quality",
            f"{name} on ground truth fell below {floor} (fewer than {min_samples} labels: OK)",
        )

    def _grant_describe_serving_models(self, role: iam.IRole) -> list[str]:
        """Endpoint → config → model → package, to find the serving model's baseline; returns the wildcard ARNs."""
        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name,
                                    arn_format=ArnFormat.SLASH_RESOURCE_NAME)

        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint"], resources=[arn("endpoint", self.endpoint_name)]))
        configs_and_models = [arn("endpoint-config", "*"), arn("model", "*")]
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"], resources=configs_and_models))
        packages = arn("model-package", f"{self.model_name}/*")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeModelPackage"], resources=[packages]))
        return [*configs_and_models, packages]
