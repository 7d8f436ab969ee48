"""One factory of SageMaker endpoint metrics: ``mlops_constructs/_private/endpoint_metrics.variant_metric``.

``GuardedEndpoint``'s metric methods (its alarms and variant dashboard) and ``MonitoringDashboard`` both call it;
no other CDK module builds a ``cloudwatch.Metric`` in ``AWS/SageMaker`` or spells that namespace.
"""
from __future__ import annotations

import ast
import json

from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from mlops_constructs._private import endpoint_metrics
from mlops_constructs.monitor.monitoring_dashboard import MonitoringDashboard
from mlops_constructs.monitor.monitoring_metrics import MonitoringMetrics
from tests.conftest import REPO

FACTORY = REPO / "mlops_constructs" / "_private" / "endpoint_metrics.py"
CDK_PACKAGES = ("mlops_constructs", "stacks")


def hand_built_endpoint_metrics(source: str) -> list[int]:
    """Lines of ``source`` that build an ``AWS/SageMaker`` metric by hand: the namespace spelled as a literal, or
    a ``Metric(...)`` call whose ``namespace=`` is not a ``*_NAMESPACE`` other than SageMaker's (the pipeline
    namespace ``AWS/Sagemaker/ModelBuildingPipeline`` is another service's)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and node.value == endpoint_metrics.SAGEMAKER_NAMESPACE:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "Metric":
            for keyword in node.keywords:
                name = ast.unparse(keyword.value)
                if keyword.arg == "namespace" and "SAGEMAKER_NAMESPACE" in name:
                    lines.append(node.lineno)
                if keyword.arg == "dimensions_map" and endpoint_metrics.DIM_VARIANT_NAME in name:
                    lines.append(node.lineno)
    return sorted(set(lines))


def test_no_cdk_module_but_the_factory_builds_a_sagemaker_endpoint_metric():
    offenders = [f"{path.relative_to(REPO)}:{line}"
                 for package in CDK_PACKAGES for path in sorted((REPO / package).rglob("*.py")) if path != FACTORY
                 for line in hand_built_endpoint_metrics(path.read_text())]
    assert offenders == [], f"build AWS/SageMaker metrics with endpoint_metrics.variant_metric: {offenders}"


def test_the_scan_finds_a_hand_built_metric():
    """The shape the monitoring dashboard had before it used the factory, and its variants."""
    assert hand_built_endpoint_metrics(
        'cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocations")') == [1]
    assert hand_built_endpoint_metrics(
        "from x import SAGEMAKER_NAMESPACE\nm = Metric(namespace=SAGEMAKER_NAMESPACE, metric_name=n)") == [2]
    assert hand_built_endpoint_metrics(
        'cloudwatch.Metric(namespace=ns, metric_name=n, dimensions_map={"EndpointName": e, "VariantName": v})') == [1]
    assert hand_built_endpoint_metrics(
        'Metric(namespace=PIPELINE_NAMESPACE, metric_name=m, dimensions_map={"PipelineName": p})') == []
    assert hand_built_endpoint_metrics(FACTORY.read_text()) != []


def test_the_monitoring_dashboard_plots_the_factorys_metrics():
    stack = Stack(App(), "S")
    MonitoringDashboard(stack, "Dashboard", variants=["Blue"], metrics=MonitoringMetrics(
        model_name="m", endpoint_name="m-staging", period=Duration.hours(1)))
    body = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").popitem()[1]["Properties"][
        "DashboardBody"]
    body = json.loads(body if isinstance(body, str) else "".join(str(part) for part in body["Fn::Join"][1]))
    plotted = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])
               if m[0] == endpoint_metrics.SAGEMAKER_NAMESPACE]
    assert [m[1] for m in plotted] == [endpoint_metrics.INVOCATIONS, endpoint_metrics.MODEL_LATENCY,
                                       endpoint_metrics.INVOCATION_4XX_ERRORS, endpoint_metrics.INVOCATION_5XX_ERRORS]
    assert all(m[2:6] == [endpoint_metrics.DIM_ENDPOINT_NAME, "m-staging", endpoint_metrics.DIM_VARIANT_NAME, "Blue"]
               and m[6]["label"] == "Blue" and m[6].get("period", 300) == 300 for m in plotted)
