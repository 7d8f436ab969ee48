"""The platform-wide governance stack: the audit trail of every model's packages, pipelines and endpoints."""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, Stack
from constructs import Construct

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings
from mlops_constructs.govern.audit_trail import AuditTrail, RemoteEndpoint


def endpoint_stacks(platform: PlatformSettings, models: Sequence[ModelConfig]) -> dict[str, str]:
    """Endpoint stack name (``<prefix>-<model>-<stage>``) -> endpoint name, for models served by an endpoint."""
    return {
        contracts.endpoint_stack_name(platform.prefix, model.name, stage): contracts.endpoint_name(model.name, stage)
        for model in models
        if model.deployment.mode in ("realtime", "serverless")
        for stage in platform.stages
    }


def remote_endpoints(platform: PlatformSettings, models: Sequence[ModelConfig]) -> list[RemoteEndpoint]:
    """Endpoint stacks deployed to stage accounts other than the tooling account."""
    return [
        RemoteEndpoint(stack_name=contracts.endpoint_stack_name(platform.prefix, model.name, stage),
                       endpoint_name=contracts.endpoint_name(model.name, stage), account=settings.account,
                       region=settings.region,
                       reader_role_name=contracts.audit_reader_role_name(contracts.endpoint_name(model.name, stage)))
        for model in models
        if model.deployment.mode in ("realtime", "serverless")
        for stage, settings in platform.stages.items()
        if platform.in_other_account(stage)
    ]


class GovernanceStack(Stack):
    """``<prefix>-governance``: the audit store and writer; nothing in it is deleted by ``cdk destroy``.

    Props:
        platform: validated platform settings (required).
        models: every configured model (required).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformSettings,
        models: Sequence[ModelConfig],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, description="MLOps governance: audit trail and lineage", **kwargs)
        self.audit = AuditTrail(
            self,
            "Audit",
            model_package_groups=[m.name for m in models],
            build_pipelines=[contracts.build_pipeline_name(m.name) for m in models],
            endpoint_stacks=endpoint_stacks(platform, models),
            alarm_emails=list(platform.notifications.emails),
            key_pending_window_days=platform.kms.pending_window_days,
            key_rotation_days=platform.kms.rotation_period_days,
            remote_endpoints=remote_endpoints(platform, models),
            governance_bus_name=contracts.governance_bus_name(platform.prefix),
        )
        CfnOutput(self, "AuditTableName", value=self.audit.table_name,
                  description="Pass to `mlops lineage|which-model` as --table or MLOPS_AUDIT_TABLE")
