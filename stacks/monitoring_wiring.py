"""The [monitoring] capability of a ModelStack: drift and quality checks of the production endpoint."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.deploy.endpoint_access import role_arn
from mlops_constructs.monitor.model_monitoring import ModelMonitoring

MONITORED_STAGE = "prod"


def is_monitored(model: ModelConfig) -> bool:
    """Realtime models with data capture and drift or quality settings; other models have no captured traffic."""
    deployment, monitoring = model.deployment, model.monitoring
    return (deployment.mode == "realtime" and bool(deployment.data_capture_percent)
            and (monitoring.drift is not None or monitoring.quality is not None))


def monitor_functions(model: ModelConfig) -> list[str]:
    """The monitor functions a monitored model runs: ``drift_detector`` and/or ``quality_monitor``."""
    if not is_monitored(model):
        return []
    return [name for name, settings in ((contracts.SERVICE_DRIFT_DETECTOR, model.monitoring.drift),
                                        (contracts.SERVICE_QUALITY_MONITOR, model.monitoring.quality)) if settings is not None]


def add_monitoring(stack: Stack, *, model: ModelConfig, core: ModelCore,
                   platform: PlatformSettings | None = None) -> ModelMonitoring | None:
    """Monitor the prod endpoint of a monitored model (``is_monitored``), in whatever account it runs."""
    if not is_monitored(model):
        return None
    deployment, monitoring = model.deployment, model.monitoring
    endpoint = contracts.endpoint_name(model.name, MONITORED_STAGE)
    prod = platform.stages[MONITORED_STAGE] if platform else None
    elsewhere = prod is not None and prod.account and prod.account != platform.tooling.account
    variants = [v.name for v in deployment.variants]
    if deployment.shadow_variant:
        variants.append(deployment.shadow_variant.name)
    monitor = ModelMonitoring(
        stack, "Monitoring",
        model_name=model.name,
        endpoint_name=endpoint,
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
        endpoint_role_arn=role_arn(stack, contracts.monitor_read_role_name(endpoint), prod.account) if elsewhere else None,
    )
    CfnOutput(stack, "MonitoringDashboardName", value=monitor.dashboard.dashboard.dashboard_name)
    return monitor
