"""One CloudWatch dashboard per model: serving, traffic per variant, drift, quality, pipeline executions."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

import mlops_contracts as contracts

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"


class MonitoringDashboard(Construct):
    """Dashboard ``<endpoint>-monitoring``.

    Props:
        model_name: the model (required).
        endpoint_name: the endpoint (required).
        variants: production variants to plot (required, at least one).
        period: period of the monitoring metrics (the check schedule) (required).
        quality_metrics: quality metric names to plot; default none.
        pipeline_name: the build pipeline whose executions are plotted; default none (no pipeline widget).
        alarms: alarms shown as status; default none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        endpoint_name: str,
        variants: list[str],
        period: Duration,
        quality_metrics: list[str] | None = None,
        pipeline_name: str | None = None,
        alarms: list[cloudwatch.IAlarm] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not variants:
            raise ValueError(f"MonitoringDashboard {construct_id}: needs at least one variant")
        self._endpoint, self._model, self._period = endpoint_name, model_name, period
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{endpoint_name}-monitoring")
        five_minutes = Duration.minutes(5)

        def endpoint_metric(name: str, variant: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=SAGEMAKER_NAMESPACE, metric_name=name, statistic=statistic,
                                     period=five_minutes, dimensions_map={"EndpointName": endpoint_name,
                                                                  "VariantName": variant}, label=variant)

        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Invocations per variant", width=8, stacked=True,
                                   left=[endpoint_metric("Invocations", v, "Sum") for v in variants]),
            cloudwatch.GraphWidget(title="Model latency p99 (µs)", width=8,
                                   left=[endpoint_metric("ModelLatency", v, "p99") for v in variants]),
            cloudwatch.GraphWidget(title="Errors (4xx, 5xx)", width=8,
                                   left=[endpoint_metric(m, v, "Sum") for v in variants
                                         for m in ("Invocation4XXErrors", "Invocation5XXErrors")]),
        )
        drift = contracts.SERVICE_DRIFT_DETECTOR
        search = (f"SEARCH('{{{contracts.METRIC_NAMESPACE},{contracts.DIM_MODEL},{contracts.DIM_ENDPOINT},"
                  f"{contracts.DIM_FEATURE},{contracts.DIM_SERVICE}}} MetricName=\"{contracts.METRIC_DRIFT_SCORE}\" "
                  f"{contracts.DIM_MODEL}=\"{model_name}\" {contracts.DIM_ENDPOINT}=\"{endpoint_name}\" "
                  f"{contracts.DIM_SERVICE}=\"{drift}\"', 'Maximum', {int(period.to_seconds())})")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Drift score (overall, prediction)", width=8, left=[
                self._metric(contracts.METRIC_DRIFT_SCORE, drift), self._metric(contracts.METRIC_PREDICTION_DRIFT, drift)]),
            cloudwatch.GraphWidget(title="Drift score per feature", width=8, left=[
                cloudwatch.MathExpression(expression=search, label="", period=period)]),
            cloudwatch.GraphWidget(title="Records, malformed, drifted features", width=8, left=[
                self._metric(contracts.METRIC_RECORDS, drift, "Sum"), self._metric(contracts.METRIC_MALFORMED, drift, "Sum")],
                right=[self._metric(contracts.METRIC_DRIFTED_FEATURES, drift),
                       self._metric(contracts.METRIC_INSUFFICIENT, drift), self._metric(contracts.METRIC_BASELINE_ERROR, drift)]),
        )
        row, quality = [], contracts.SERVICE_QUALITY_MONITOR
        if quality_metrics:
            row.append(cloudwatch.GraphWidget(title="Quality on ground truth", width=8,
                                              left=[self._metric(m, quality, "Minimum") for m in quality_metrics],
                                              right=[self._metric(contracts.METRIC_LABELED_RECORDS, quality, "Sum")]))
        if pipeline_name:
            row.append(cloudwatch.GraphWidget(title=f"Pipeline {pipeline_name} executions", width=8, left=[
                cloudwatch.Metric(namespace=PIPELINE_NAMESPACE, metric_name=m, statistic="Sum",
                                  period=Duration.hours(1), dimensions_map={"PipelineName": pipeline_name})
                for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")]))
        if alarms:
            row.append(cloudwatch.AlarmStatusWidget(title="Monitoring alarms", width=8, alarms=alarms))
        if row:
            self.dashboard.add_widgets(*row)

    def _metric(self, name: str, service: str, statistic: str = "Maximum") -> cloudwatch.Metric:
        """A monitoring metric with the dimensions ``service`` publishes it with (Powertools adds ``service``)."""
        return cloudwatch.Metric(namespace=contracts.METRIC_NAMESPACE, metric_name=name, statistic=statistic,
                                 period=self._period, label=name,
                                 dimensions_map={contracts.DIM_MODEL: self._model, contracts.DIM_ENDPOINT: self._endpoint,
                                                 contracts.DIM_SERVICE: service})
