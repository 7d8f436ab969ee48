"""The [monitoring] capability of a ModelStack: drift and quality checks of the production endpoint."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.deploy.endpoint_access import role_arn
from mlops_constructs.monitor.model_monitoring import ModelMonitoring
from stacks.monitor_props import is_monitored, monitored_endpoint_account, monitoring_props


def add_monitoring(stack: Stack, *, model: ModelConfig, core: ModelCore,
                   platform: PlatformSettings | None = None) -> ModelMonitoring | None:
    """Monitor the prod endpoint of a monitored model (``is_monitored``), in whatever account it runs; returns
    the ``ModelMonitoring`` it adds (its functions, alarms, retrain trigger and dashboard), or None."""
    if not is_monitored(model):
        return None
    props = monitoring_props(model)
    account = monitored_endpoint_account(model, platform)
    monitor = ModelMonitoring(
        stack, "Monitoring", **props,
        data_bucket=core.data_bucket, artifact_bucket=core.artifact_bucket, key=core.key, topic=core.topic,
        endpoint_role_arn=(role_arn(stack, contracts.monitor_read_role_name(props["endpoint_name"]), account)
                           if account else None),
    )
    CfnOutput(stack, "MonitoringDashboardName", value=monitor.dashboard.dashboard.dashboard_name)
    return monitor
