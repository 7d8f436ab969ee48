"""One CloudWatch dashboard per model: serving, traffic per variant, drift, quality, pipeline executions."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private import endpoint_metrics
from mlops_constructs.monitor.monitoring_metrics import MonitoringMetrics

PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"


class MonitoringDashboard(Construct):
    """Dashboard ``<endpoint>-monitoring``.

    Props:
        metrics: the endpoint's monitoring metrics (model, endpoint and the checks' period) (required).
        variants: production variants to plot (required, at least one).
        quality_metrics: quality metric names to plot; default none.
        pipeline_name: the build pipeline whose executions are plotted; default none (no pipeline widget).
        alarms: alarms shown as status; default none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        metrics: MonitoringMetrics,
        variants: list[str],
        quality_metrics: list[str] | None = None,
        pipeline_name: str | None = None,
        alarms: list[cloudwatch.IAlarm] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not variants:
            raise ValueError(f"MonitoringDashboard {construct_id}: needs at least one variant")
        endpoint_name = metrics.endpoint_name
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{endpoint_name}-monitoring")

        def endpoint_metric(name: str, variant: str, statistic: str) -> cloudwatch.Metric:
            return endpoint_metrics.variant_metric(endpoint_name, variant, name, statistic=statistic, label=variant)

        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Invocations per variant", width=8, stacked=True,
                                   left=[endpoint_metric(endpoint_metrics.INVOCATIONS, v, "Sum") for v in variants]),
            cloudwatch.GraphWidget(title="Model latency p99 (µs)", width=8,
                                   left=[endpoint_metric(endpoint_metrics.MODEL_LATENCY, v, "p99") for v in variants]),
            cloudwatch.GraphWidget(title="Errors (4xx, 5xx)", width=8,
                                   left=[endpoint_metric(m, v, "Sum") for v in variants
                                         for m in (endpoint_metrics.INVOCATION_4XX_ERRORS,
                                                   endpoint_metrics.INVOCATION_5XX_ERRORS)]),
        )

        def drift(name: str, statistic: str = "Maximum") -> cloudwatch.Metric:
            return metrics.drift(name, statistic, label=name)

        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Drift score (overall, prediction)", width=8, left=[
                drift(contracts.METRIC_DRIFT_SCORE), drift(contracts.METRIC_PREDICTION_DRIFT)]),
            cloudwatch.GraphWidget(title="Drift score per feature", width=8, left=[metrics.drift_score_per_feature()]),
            cloudwatch.GraphWidget(title="Records, malformed, drifted features", width=8, left=[
                drift(contracts.METRIC_RECORDS, "Sum"), drift(contracts.METRIC_MALFORMED, "Sum")],
                right=[drift(contracts.METRIC_DRIFTED_FEATURES), drift(contracts.METRIC_INSUFFICIENT),
                       drift(contracts.METRIC_BASELINE_ERROR)]),
        )
        row = []
        if quality_metrics:
            row.append(cloudwatch.GraphWidget(
                title="Quality on ground truth", width=8, left=[metrics.quality(m, label=m) for m in quality_metrics],
                right=[metrics.quality(contracts.METRIC_LABELED_RECORDS, "Sum", label=contracts.METRIC_LABELED_RECORDS)]))
        if pipeline_name:
            row.append(cloudwatch.GraphWidget(title=f"Pipeline {pipeline_name} executions", width=8, left=[
                cloudwatch.Metric(namespace=PIPELINE_NAMESPACE, metric_name=m, statistic="Sum",
                                  period=Duration.hours(1), dimensions_map={"PipelineName": pipeline_name})
                for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")]))
        if alarms:
            row.append(cloudwatch.AlarmStatusWidget(title="Monitoring alarms", width=8, alarms=alarms))
        if row:
            self.dashboard.add_widgets(*row)
