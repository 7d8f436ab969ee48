"""Build the whole CDK app from a validated configuration. Shared by app.py, tests and benchmarks."""
from __future__ import annotations

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from mlops_constructs.config import PlatformConfig
from pipeline_code import contracts
from stacks.endpoint_stack import AuditForwarding, EndpointStack, endpoint_stack_name
from stacks.governance_stack import GovernanceStack
from stacks.model_stack import ModelStack


def stack_name(config: PlatformConfig, model_name: str) -> str:
    return f"{config.platform.prefix}-{model_name}"


def build_app(config: PlatformConfig, app: App | None = None, *, nag: bool = True) -> App:
    """Add every configured model's stacks to ``app`` (a new App by default) and attach cdk-nag."""
    app = app or App()
    platform = config.platform
    tooling = _env(platform.tooling.account, platform.tooling.region)
    for model in config.models:
        ModelStack(
            app,
            stack_name(config, model.name),
            platform=platform,
            model=model,
            config_hash=config.config_hash(model.name),
            env=tooling,
        )
        if model.deployment.mode in ("realtime", "serverless"):
            for stage, settings in platform.stages.items():
                remote = settings.account is not None and settings.account != platform.tooling.account
                EndpointStack(app, endpoint_stack_name(config.platform.prefix, model.name, stage), model=model,
                              stage=stage, trust_tooling_account=settings.account is not None,
                              audit_forwarding=AuditForwarding(
                                  account=platform.tooling.account, region=platform.tooling.region,
                                  bus_name=contracts.governance_bus_name(platform.prefix),
                                  writer_role_prefix=f"{platform.prefix}-governance-") if remote else None,
                              env=_env(settings.account, settings.region))
    GovernanceStack(app, f"{platform.prefix}-governance", platform=platform, models=config.models,
                    env=tooling)
    for key, value in sorted(platform.tags.items()):
        Tags.of(app).add(key, value)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    return app


def _env(account: str | None, region: str | None) -> Environment | None:
    return Environment(account=account, region=region) if (account or region) else None
