"""The CloudWatch metrics SageMaker publishes per endpoint variant: one factory, for alarms and dashboards.

``GuardedEndpoint.metric_*`` wraps it for its own variants (in the style of aws-sagemaker-alpha's
``metricModelLatency()``); a construct that watches an endpoint it did not create (``MonitoringDashboard``)
calls ``variant_metric`` with the endpoint's name. Shared by deploy and monitor, so it lives in ``_private``; no
other module builds an ``AWS/SageMaker`` endpoint metric (``tests/constructs/test_endpoint_metrics.py``).
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
DIM_ENDPOINT_NAME, DIM_VARIANT_NAME = "EndpointName", "VariantName"
INVOCATIONS = "Invocations"
INVOCATION_4XX_ERRORS = "Invocation4XXErrors"  # per request: 1 when the container answered 4xx, else 0
INVOCATION_5XX_ERRORS = "Invocation5XXErrors"  # per request: 1 when the container answered 5xx, else 0
MODEL_LATENCY = "ModelLatency"  # microseconds


def variant_metric(endpoint_name: str, variant: str, metric_name: str, *, statistic: str = "Sum",
                   period: Duration | None = None, label: str | None = None) -> cloudwatch.Metric:
    """``metric_name`` of one variant of ``endpoint_name`` in ``AWS/SageMaker``.

    Args:
        statistic: default ``Sum``.
        period: default 5 minutes.
        label: legend label; default none (CloudWatch's own).
    """
    return cloudwatch.Metric(namespace=SAGEMAKER_NAMESPACE, metric_name=metric_name, statistic=statistic,
                             period=period or Duration.minutes(5), label=label,
                             dimensions_map={DIM_ENDPOINT_NAME: endpoint_name, DIM_VARIANT_NAME: variant})
