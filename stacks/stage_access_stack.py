"""What one model needs in a stage account of its own, before its CD pipeline can deploy there.

The platform team deploys ``<prefix>-<model>-<stage>-access`` once per stage account with ``cdk deploy``, after
the model stack. Every IAM role of the stage lives here, so the endpoint template that the pipeline synthesizes
from the repository holds none, and the role that deploys it cannot create or change IAM.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

import mlops_contracts as contracts
from mlops_config import ModelConfig
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy.endpoint_access import (
    add_endpoint_deploy_policy,
    alarm_event_pattern,
    endpoint_serving_role,
    role_arn,
)
from mlops_contracts import (
    deploy_action_role_name,
    deploy_check_role_name,
    deploy_role_name,
    integration_test_role_name,
    monitor_read_role_name,
    pipeline_role_name,
    test_project_role_name,
    verify_project_role_name,
)
from stacks.deploy_props import captures_data, serving_repository


@dataclass(frozen=True)
class AuditForwarding:
    """Where a stage in its own account sends its audit events: the tooling account's governance bus
    (``account``, ``region``, ``bus_name``), and which tooling-account roles may read the endpoint (IAM role names
    starting ``writer_role_prefix``: the governance stack's roles)."""

    account: str
    region: str
    bus_name: str
    writer_role_prefix: str


class StageAccessStack(Stack):
    """The roles of one model's endpoint in a stage account, and the route of its alarms home.

    - ``<endpoint>-serving``: the models' execution role; reads ``pipelines/*`` and writes ``capture/*`` of
      the tooling account's buckets (whose policies name this role), uses the model key there.
    - ``<endpoint>-deploy``: CloudFormation deploys the endpoint stack with it; the same policy as a
      same-account deploy role, and no IAM write permission.
    - ``<endpoint>-deploy-action``: the CD pipeline's deploy action; trusted by the pipeline's role only.
    - ``<endpoint>-integration-test`` (staging only): the integration test's role, trusted by the test
      project's role only.
    - ``<endpoint>-deploy-check`` (prod only): the post-deploy check describes the endpoint, trusted by the
      check project's role only.
    - ``<endpoint>-monitor-read`` (the monitored stage only): the drift and quality monitors of the tooling
      account describe the endpoint, its config, models and packages through it; trusted by those two roles.
    - An EventBridge rule that forwards the endpoint's alarm state changes to the tooling account's default bus,
      where the model stack publishes them to the model's topic.
    - With ``audit_forwarding``: two rules that forward the endpoint's state changes and the endpoint stack's
      statuses to the tooling account's governance bus through ``<endpoint>-audit-forward`` (EventBridge), and
      ``<endpoint>-audit``, through which the governance stack's audit writer describes the endpoint, its configs
      and models.

    Props:
        model: validated model config; realtime or serverless (required).
        stage: stage name (required).
        endpoint_stack_name: the stage's endpoint stack (required).
        tooling_account: account of the model stack and its CD pipeline (required).
        integration_test: add the integration-test role; default ``False``.
        deploy_check: add the post-deploy check role; default ``False``.
        monitors: names of the tooling account's monitor functions (``drift_detector``, ``quality_monitor``)
            that read this endpoint; default none (no monitor-read role).
        audit_forwarding: the governance bus and audit writer of the tooling account; default none (no audit
            forwarding and no audit role).
    """

    def __init__(self, scope: Construct, construct_id: str, *, model: ModelConfig, stage: str,
                 endpoint_stack_name: str, tooling_account: str, integration_test: bool = False,
                 deploy_check: bool = False, monitors: list[str] | None = None,
                 audit_forwarding: AuditForwarding | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id,
                         description=f"Roles of model {model.name}'s {stage} endpoint in this account", **kwargs)
        endpoint = contracts.endpoint_name(model.name, stage)
        # Bucket names and the key ID are CloudFormation-generated in the tooling account; the identity policies
        # name that account, and its bucket and key policies name these roles, so access is their intersection.
        tooling_keys = kms.Key.from_key_arn(self, "ToolingKeys", self.format_arn(
            service="kms", account=tooling_account, resource="key", resource_name="*"))
        tooling_buckets = s3.Bucket.from_bucket_attributes(
            self, "ToolingBuckets", bucket_arn=f"arn:{self.partition}:s3:::*",
            bucket_name="tooling-account-buckets")  # placeholder: only the ARN is used, in policies
        self.serving_role = endpoint_serving_role(
            self, "ServingRole", endpoint_name=endpoint, endpoint_stack_name=endpoint_stack_name, key=tooling_keys,
            artifact_bucket=tooling_buckets, capture_bucket=tooling_buckets if captures_data(model) else None,
            image_repositories=[serving_repository(self, "ServingImageRepository", model, account=tooling_account)],
            resource_account=tooling_account,
        )
        self.deploy_role = iam.Role(self, "DeployRole", role_name=deploy_role_name(endpoint),
                                    assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
                                    description=f"CloudFormation deploys {endpoint_stack_name}")
        add_endpoint_deploy_policy(
            self.deploy_role, endpoint_name=endpoint, endpoint_stack_name=endpoint_stack_name,
            serving_role_arn=self.serving_role.role_arn, key_arn=tooling_keys.key_arn,
            package_arns=self.format_arn(service="sagemaker", account=tooling_account, resource="model-package",
                                         resource_name=f"{model.name}/*"))
        self.action_role = self._action_role(model.name, endpoint, endpoint_stack_name, tooling_account)
        self.integration_test_role = self._endpoint_caller_role(
            "IntegrationTestRole", endpoint, integration_test_role_name(endpoint),
            self._trusting(tooling_account, test_project_role_name(model.name)),
            f"The CD pipeline's integration test calls {endpoint}",
            ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"], "test") if integration_test else None
        self.deploy_check_role = self._endpoint_caller_role(
            "DeployCheckRole", endpoint, deploy_check_role_name(endpoint),
            self._trusting(tooling_account, verify_project_role_name(model.name)),
            f"The CD pipeline checks which endpoint config {endpoint} runs",
            ["sagemaker:DescribeEndpoint"], "check") if deploy_check else None
        self.monitor_read_role = self._monitor_read_role(model.name, endpoint, tooling_account, monitors) \
            if monitors else None
        alarms_home = events.Rule(self, "AlarmsHome", description=f"Alarm state changes of {endpoint_stack_name} go to the "
                    "tooling account, which notifies the model's topic",
                    event_pattern=alarm_event_pattern(endpoint_stack_name),
                    targets=[targets.EventBus(events.EventBus.from_event_bus_arn(
                        self, "ToolingBus", self.format_arn(service="events", account=tooling_account,
                                                            resource="event-bus", resource_name="default")))])
        acknowledge(alarms_home, "EventBridge's role for the cross-account target holds one inline events:PutEvents "
                    "on the tooling account's default bus.", "NIST.800.53.R5-IAMNoInlinePolicy")
        if audit_forwarding:
            self._forward_audit_events(endpoint, endpoint_stack_name, audit_forwarding)
        Tags.of(self).add(contracts.TAG_MODEL, model.name)
        Tags.of(self).add(contracts.TAG_STAGE, stage)

    def _trusting(self, tooling_account: str, role_name: str) -> iam.IPrincipal:
        """The tooling account, narrowed to one role by name: a trust policy naming the role itself would break
        when that role is replaced."""
        return iam.AccountPrincipal(tooling_account).with_conditions(
            {"ArnEquals": {"aws:PrincipalArn": role_arn(self, role_name, tooling_account)}})

    def _action_role(self, model_name: str, endpoint: str, endpoint_stack_name: str, tooling: str) -> iam.Role:
        role = iam.Role(self, "DeployActionRole", role_name=deploy_action_role_name(endpoint),
                        assumed_by=self._trusting(tooling, pipeline_role_name(model_name)),
                        description=f"The CD pipeline of {model_name} deploys {endpoint_stack_name}")
        stack_arn = self.format_arn(service="cloudformation", resource="stack",
                                    resource_name=f"{endpoint_stack_name}/*")
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DeployEndpointStack", resources=[stack_arn],
            actions=["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks",
                     "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResources",
                     "cloudformation:GetStackPolicy", "cloudformation:SetStackPolicy", "cloudformation:GetTemplate"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ValidateTemplate", actions=["cloudformation:ValidateTemplate"], resources=["*"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassDeployRole", actions=["iam:PassRole"], resources=[self.deploy_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}))
        # The pipeline's artifact store: the tooling artifact bucket (its policy names this role) and key.
        owner = {"StringEquals": {"aws:ResourceAccount": tooling}}
        artifacts = [f"arn:{self.partition}:s3:::*/{model_name[:20]}*/*"]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadPipelineArtifacts", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=artifacts,
            conditions=owner))
        keys = [self.format_arn(service="kms", account=tooling, resource="key", resource_name="*")]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DecryptPipelineArtifacts", actions=["kms:Decrypt", "kms:DescribeKey"], resources=keys,
            conditions=owner))
        acknowledge(role, "The deploy-action policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        return role

    def _monitor_read_role(self, model_name: str, endpoint: str, tooling: str, monitors: list[str]) -> iam.Role:
        role = iam.Role(
            self, "MonitorReadRole", role_name=monitor_read_role_name(endpoint),
            assumed_by=iam.AccountPrincipal(tooling).with_conditions({"ArnEquals": {"aws:PrincipalArn": [
                role_arn(self, contracts.monitor_role_name(model_name, m), tooling) for m in monitors]}}),
            description=f"The monitors of {model_name} describe {endpoint} and the models it serves")

        def arn(resource: str, name: str, account: str | None = None) -> str:
            return self.format_arn(service="sagemaker", resource=resource, resource_name=name, account=account)

        described = [arn("endpoint-config", "*"), arn("model", "*"), arn("model-package", f"{model_name}/*", tooling)]
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint"], resources=[arn("endpoint", endpoint)]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"], resources=described[:2]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeModelPackage"], resources=described[2:]))
        acknowledge(role, "The read policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        return role

    def _endpoint_caller_role(self, construct_id: str, endpoint: str, role_name: str, trusted: iam.IPrincipal,
                              description: str, actions: list[str], policy: str) -> iam.Role:
        """A role a tooling-account project assumes to call this stage's endpoint with ``actions``, and nothing else."""
        role = iam.Role(self, construct_id, role_name=role_name, assumed_by=trusted, description=description)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=actions,
            resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint)]))
        acknowledge(role, f"The {policy} policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        return role

    def _forward_audit_events(self, endpoint: str, endpoint_stack_name: str, audit: AuditForwarding) -> None:
        """The audit trail across accounts: the endpoint's state changes and its stack's statuses go to the
        governance bus; the audit writer reads the endpoint's serving state through ``<endpoint>-audit``."""
        bus = events.EventBus.from_event_bus_arn(
            self, "GovernanceBus",
            f"arn:{self.partition}:events:{audit.region}:{audit.account}:event-bus/{audit.bus_name}")
        role = iam.Role(self, "AuditForwardRole", role_name=contracts.audit_forward_role_name(endpoint),
                        description=f"EventBridge forwards {endpoint}'s audit events",
                        assumed_by=iam.ServicePrincipal("events.amazonaws.com", conditions={
                            "StringEquals": {"aws:SourceAccount": self.account}}))
        forward = targets.EventBus(bus, role=role)
        events.Rule(self, "AuditForwardEndpointRule", description=f"{endpoint} state changes to the governance bus",
                    event_pattern=events.EventPattern(
                        source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_ENDPOINT_STATE],
                        detail={"EndpointName": [endpoint]}),
                    targets=[forward])
        events.Rule(self, "AuditForwardStackRule",
                    description=f"{endpoint_stack_name} statuses to the governance bus",
                    event_pattern=events.EventPattern(
                        source=[contracts.EVENT_SOURCE_CLOUDFORMATION], detail_type=[contracts.DETAIL_STACK_STATUS],
                        detail={"stack-id": events.Match.prefix(
                            f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/"
                            f"{endpoint_stack_name}/")}),
                    targets=[forward])
        acknowledge(role, "The forwarding policy (events:PutEvents on the governance bus) is inline so that it "
                    "belongs to this role alone.", "NIST.800.53.R5-IAMNoInlinePolicy")
        reader = iam.Role(
            self, "AuditReaderRole", role_name=contracts.audit_reader_role_name(endpoint),
            description=f"The tooling account's audit writer describes {endpoint} and what it serves",
            assumed_by=iam.AccountPrincipal(audit.account).with_conditions({"ArnLike": {
                "aws:PrincipalArn": f"arn:{self.partition}:iam::{audit.account}:role/{audit.writer_role_prefix}*"}}))
        reader.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint"],
            resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint)]))
        configs_and_models = [self.format_arn(service="sagemaker", resource="endpoint-config", resource_name="*"),
                              self.format_arn(service="sagemaker", resource="model", resource_name="*")]
        reader.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"], resources=configs_and_models))
        acknowledge(reader, "The audit read policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
