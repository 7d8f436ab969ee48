"""The metrics the monitor Lambdas publish for one endpoint, as CloudWatch metric objects.

One factory, used by ``ModelMonitoring``'s alarms and by ``MonitoringDashboard`` (in the style of
cdk-monitoring-constructs: a metric factory apart from the constructs that alarm on and plot the metrics).
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

import mlops_contracts as contracts


def monitoring_dimensions(model: str, endpoint: str, service: str) -> dict[str, str]:
    """The exact dimension set of a monitoring metric: Model, Endpoint and the emitting function's ``service``."""
    return {contracts.DIM_MODEL: model, contracts.DIM_ENDPOINT: endpoint, contracts.DIM_SERVICE: service}


class MonitoringMetrics:
    """Metrics of one model's endpoint in ``contracts.METRIC_NAMESPACE``, as the monitors publish them.

    Powertools adds the ``service`` dimension (the emitting function), and CloudWatch matches dimension sets
    exactly, so every metric names its service.

    Args:
        model_name: dimension ``Model`` (required).
        endpoint_name: dimension ``Endpoint`` (required).
        period: the period of every metric: the checks' schedule (required).
    """

    def __init__(self, *, model_name: str, endpoint_name: str, period: Duration) -> None:
        self.model_name, self.endpoint_name, self.period = model_name, endpoint_name, period

    def metric(self, name: str, service: str, statistic: str = "Maximum", *, feature: str | None = None,
               label: str | None = None) -> cloudwatch.Metric:
        """Metric ``name`` as ``service`` (e.g. ``contracts.SERVICE_DRIFT_DETECTOR``) publishes it; with
        ``feature``, the per-feature series."""
        dimensions = monitoring_dimensions(self.model_name, self.endpoint_name, service)
        if feature:
            dimensions[contracts.DIM_FEATURE] = feature
        return cloudwatch.Metric(namespace=contracts.METRIC_NAMESPACE, metric_name=name, statistic=statistic,
                                 period=self.period, label=label, dimensions_map=dimensions)

    def drift(self, name: str, statistic: str = "Maximum", *, label: str | None = None) -> cloudwatch.Metric:
        """A metric of the drift detector (``contracts.METRIC_DRIFT_SCORE``, ``METRIC_RECORDS``...)."""
        return self.metric(name, contracts.SERVICE_DRIFT_DETECTOR, statistic, label=label)

    def quality(self, name: str, statistic: str = "Minimum", *, label: str | None = None) -> cloudwatch.Metric:
        """A metric of the quality monitor (a ``contracts.QUALITY_METRIC_NAMES`` value, ``METRIC_LABELED_RECORDS``)."""
        return self.metric(name, contracts.SERVICE_QUALITY_MONITOR, statistic, label=label)

    def drift_score_per_feature(self) -> cloudwatch.MathExpression:
        """Every feature's drift score: a SEARCH over the per-feature series of this model and endpoint."""
        c = contracts
        search = (f"SEARCH('{{{c.METRIC_NAMESPACE},{c.DIM_MODEL},{c.DIM_ENDPOINT},{c.DIM_FEATURE},{c.DIM_SERVICE}}} "
                  f"MetricName=\"{c.METRIC_DRIFT_SCORE}\" {c.DIM_MODEL}=\"{self.model_name}\" "
                  f"{c.DIM_ENDPOINT}=\"{self.endpoint_name}\" {c.DIM_SERVICE}=\"{c.SERVICE_DRIFT_DETECTOR}\"', "
                  f"'Maximum', {int(self.period.to_seconds())})")
        return cloudwatch.MathExpression(expression=search, label="", period=self.period)
