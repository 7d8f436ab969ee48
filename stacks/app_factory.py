"""Build the whole CDK app from a validated configuration. Shared by app.py, tests and benchmarks."""
from __future__ import annotations

from aws_cdk import App, Environment, Tags

import mlops_contracts as contracts
from mlops_config import PlatformConfig
from mlops_constructs._private.wildcard_review import add_nag_checks
from stacks.deploy_props import deploy_targets, serves_endpoints
from stacks.endpoint_stack import EndpointStack
from stacks.governance_stack import GovernanceStack
from stacks.model_stack import ModelStack
from stacks.monitor_props import MONITORED_STAGE, monitor_functions
from stacks.stage_access_stack import AuditForwarding, StageAccessStack


def build_app(config: PlatformConfig, app: App | None = None, *, nag: bool = True) -> App:
    """Add every configured model's stacks to ``app`` (a new App by default) and attach cdk-nag, with IAM
    wildcards acknowledged from the reviewed allow-list (``mlops_constructs._private.wildcard_allowlist``)."""
    app = app or App()
    platform = config.platform
    tooling = _env(platform.tooling.account, platform.tooling.region)
    for model in config.models:
        ModelStack(
            app,
            contracts.model_stack_name(platform.prefix, model.name),
            platform=platform,
            model=model,
            config_hash=config.config_hash(model.name),
            env=tooling,
        )
        if serves_endpoints(model):
            for stage, target in deploy_targets(model, platform).items():
                settings = platform.stages[stage]
                env = _env(settings.account, settings.region)
                EndpointStack(app, target.stack_name, model=model, stage=stage, notify_topic=not target.account,
                              env=env)
                if target.account:
                    StageAccessStack(app, contracts.stage_access_stack_name(target.stack_name),
                                     model=model, stage=stage, endpoint_stack_name=target.stack_name,
                                     tooling_account=platform.tooling.account,
                                     integration_test=stage == "staging", deploy_check=stage == "prod", env=env,
                                     monitors=monitor_functions(model) if stage == MONITORED_STAGE else None,
                                     audit_forwarding=AuditForwarding(
                                         account=platform.tooling.account, region=platform.tooling.region,
                                         bus_name=contracts.governance_bus_name(platform.prefix),
                                         writer_role_prefix=f"{platform.prefix}-governance-"))
    GovernanceStack(app, contracts.governance_stack_name(platform.prefix), platform=platform, models=config.models,
                    env=tooling)
    for key, value in sorted(platform.tags.items()):
        Tags.of(app).add(key, value)
    if nag:
        add_nag_checks(app)
    return app


def _env(account: str | None, region: str | None) -> Environment | None:
    return Environment(account=account, region=region) if (account or region) else None
