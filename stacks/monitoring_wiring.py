"""The [monitoring] capability of a ModelStack: drift and quality checks of the production endpoint."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack

from mlops_constructs.config import ModelConfig
from mlops_constructs.model_core import ModelCore
from mlops_constructs.monitoring import ModelMonitoring
from pipeline_code import contracts

MONITORED_STAGE = "prod"


def add_monitoring(stack: Stack, *, model: ModelConfig, core: ModelCore) -> ModelMonitoring | None:
    """Monitor the prod endpoint of a realtime model with data capture; other models have no captured traffic."""
    deployment, monitoring = model.deployment, model.monitoring
    if deployment.mode != "realtime" or not deployment.data_capture_percent:
        return None
    if monitoring.drift is None and monitoring.quality is None:
        return None
    variants = [v.name for v in deployment.variants]
    if deployment.shadow_variant:
        variants.append(deployment.shadow_variant.name)
    monitor = ModelMonitoring(
        stack, "Monitoring",
        model_name=model.name,
        endpoint_name=contracts.endpoint_name(model.name, MONITORED_STAGE),
        data_bucket=core.data_bucket,
        artifact_bucket=core.artifact_bucket,
        key=core.key,
        topic=core.topic,
        settings=monitoring,
        ground_truth_prefix=model.data.ground_truth_prefix,
        positive_class=model.data.positive_class,
        decision_threshold=model.quality_gate.decision_threshold,
        retraining=model.retraining,
        pipeline_name=contracts.build_pipeline_name(model.name),
        variants=variants,
        categorical_codes=model.training.image is not None and model.training.image.input == "encoded",
    )
    CfnOutput(stack, "MonitoringDashboardName", value=monitor.dashboard.dashboard.dashboard_name)
    return monitor
