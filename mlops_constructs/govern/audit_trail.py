"""The platform's audit trail: an append-only DynamoDB table, its writer Lambda and the EventBridge rules."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.nag import acknowledge
from mlops_constructs._private.platform_function import PlatformFunction
from mlops_constructs._private.platform_key import PlatformKey

_STACK_STATUSES = [
    "CREATE_COMPLETE", "CREATE_FAILED", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "DELETE_COMPLETE",
]


@dataclass(frozen=True)
class RemoteEndpoint:
    """An endpoint stack in a stage account: its events arrive on the governance bus, and the writer reads its
    serving state through ``reader_role_name`` in that account."""

    stack_name: str
    endpoint_name: str
    account: str
    region: str
    reader_role_name: str


class AuditTrail(Construct):
    """Records who registered, approved, trained and deployed which model, and when, in an append-only table.

    EventBridge rules send model package state changes (of ``model_package_groups``), build pipeline execution
    status changes (of ``build_pipelines``), SageMaker endpoint state changes and terminal CloudFormation statuses
    of the endpoint stacks (``endpoint_stacks``) to the writer Lambda (``functions/audit_writer``). It resolves the
    approver (DescribeModelPackage) and the model packages serving an endpoint (DescribeEndpoint, endpoint config,
    models), and appends records keyed as documented in ``governance_code.audit_schema``.

    The table has point-in-time recovery, deletion protection, a customer-managed key and RETAIN; its resource
    policy denies every principal item updates and deletes, and writes to all but the writer.

    Props:
        model_package_groups: Model Registry groups to audit (required, at least one).
        build_pipelines: SageMaker build pipeline names to audit (required).
        endpoint_stacks: CloudFormation stack name -> name of the endpoint it deploys; default none.
        alarm_emails: who hears that the trail has a gap (dead letters, writer errors, skipped events) or that a
            package lacks lineage; default none (the alarms still notify the topic ``alarm_topic``).
        key_pending_window_days: KMS deletion window; default 30.
        key_rotation_days: KMS rotation period; default 365.
        remote_endpoints: endpoint stacks in other (stage) accounts; default none. With any, the trail gets the
            governance event bus ``governance_bus_name``, whose policy admits PutEvents from exactly those
            accounts, and rules on it for their endpoint and stack events.
        governance_bus_name: name of that bus; default ``governance`` (the stack passes
            ``contracts.governance_bus_name(prefix)``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_package_groups: Sequence[str],
        build_pipelines: Sequence[str],
        endpoint_stacks: Mapping[str, str] | None = None,
        alarm_emails: Sequence[str] = (),
        key_pending_window_days: int = 30,
        key_rotation_days: int = 365,
        remote_endpoints: Sequence[RemoteEndpoint] = (),
        governance_bus_name: str = "governance",
    ) -> None:
        super().__init__(scope, construct_id)
        self.remote_endpoints = list(remote_endpoints)
        if not model_package_groups:
            raise ValueError(f"AuditTrail {construct_id}: model_package_groups is empty; give at least one group")
        self.endpoint_stacks = dict(endpoint_stacks or {})
        self.endpoints = sorted(set(self.endpoint_stacks.values()))
        stack = Stack.of(self)

        self.key = PlatformKey(self, "Key",
                               description="Encrypts the MLOps audit trail (table, writer logs, dead letters)",
                               rotation_days=key_rotation_days, pending_window_days=key_pending_window_days)
        self.key.allow_cloudwatch_logs()
        # CloudWatch publishes alarms to the encrypted topic; EventBridge dead-letters to the encrypted queue.
        self.key.allow_service_principals("AllowCloudWatchAndEventBridgeToUseKey",
                                          ["cloudwatch.amazonaws.com", "events.amazonaws.com"])

        self.writer = PlatformFunction(
            self,
            "Writer",
            function=contracts.SERVICE_AUDIT_WRITER,
            description="Appends audit records for model package, pipeline and endpoint events",
            key=self.key,
            timeout=Duration.seconds(30),
            memory_size=256,
            environment={contracts.ENV_ENDPOINT_STACKS: json.dumps(self.endpoint_stacks, sort_keys=True),
                         "POWERTOOLS_METRICS_NAMESPACE": contracts.GOVERNANCE_METRIC_NAMESPACE},
        )
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=35
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            resource_policy=self._append_only_policy(self.writer.role),
        )
        acknowledge(
            self.table,
            "The audit table is on-demand (PAY_PER_REQUEST): capacity follows the event rate, there is no "
            "provisioned capacity to auto-scale.",
            "NIST.800.53.R5-DynamoDBAutoscalingEnabled",
        )
        acknowledge(
            self.table,
            "Records are append-only (resource policy denies updates and deletes), the table has 35-day "
            "point-in-time recovery, deletion protection and RETAIN; longer backup schedules belong to the "
            "account's AWS Backup policy.",
            "NIST.800.53.R5-DynamoDBInBackupPlan",
        )
        self.writer.function.add_environment(contracts.ENV_AUDIT_TABLE, self.table.table_name)
        self._grant_writer(stack, model_package_groups, build_pipelines)
        self._add_rules(stack, model_package_groups, build_pipelines)
        self.bus = self._add_governance_bus(governance_bus_name) if self.remote_endpoints else None
        self._add_alarms(alarm_emails)

    @property
    def table_name(self) -> str:
        return self.table.table_name

    def _append_only_policy(self, writer: iam.IRole) -> iam.PolicyDocument:
        """Nobody updates or deletes a record; only the writer adds them (the table's own ARN is ``*`` here)."""
        return iam.PolicyDocument(statements=[
            iam.PolicyStatement(
                sid="AuditRecordsAreImmutable",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:PartiQLDelete",
                         "dynamodb:PartiQLUpdate"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="OnlyTheWriterAppends",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLInsert"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": writer.role_arn}},
            ),
        ])

    def _grant_writer(self, stack: Stack, groups: Sequence[str], pipelines: Sequence[str]) -> None:
        role = self.writer.role

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        role.add_to_principal_policy(iam.PolicyStatement(
            sid="AppendAuditRecords", actions=["dynamodb:PutItem"], resources=[self.table.table_arn]))
        self.key.grant_encrypt_decrypt(role)
        packages = [arn("model-package", f"{g}/*") for g in groups]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadModelPackages", actions=["sagemaker:DescribeModelPackage"], resources=packages))
        if pipelines:
            executions = [arn("pipeline", f"{p}/execution/*") for p in pipelines]
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadPipelineExecutions",
                actions=["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineParametersForExecution"],
                resources=executions))
        if self.endpoints:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadEndpoints", actions=["sagemaker:DescribeEndpoint"],
                resources=[arn("endpoint", e) for e in self.endpoints]))
            configs_and_models = [arn("endpoint-config", "*"), arn("model", "*")]
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadEndpointConfigsAndModels",
                actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                resources=configs_and_models))

    def _add_rules(self, stack: Stack, groups: Sequence[str], pipelines: Sequence[str]) -> None:
        # Events EventBridge cannot deliver land in the writer's dead-letter queue too (it needs the key).
        target = targets.LambdaFunction(self.writer.function, retry_attempts=4, max_event_age=Duration.hours(6),
                                        dead_letter_queue=self.writer.dead_letter_queue)
        self.package_rule = events.Rule(self, "PackageStateRule", description="Model package state changes",
                                        event_pattern=events.EventPattern(
                                            source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_PACKAGE_STATE],
                                            detail={"ModelPackageGroupName": list(groups)}),
                                        targets=[target])
        self.rules = [self.package_rule]
        if pipelines:
            self.rules.append(events.Rule(self, "PipelineRule", description="Build pipeline execution changes",
                                          event_pattern=events.EventPattern(
                                              source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_PIPELINE_EXECUTION],
                                              detail={"pipelineArn": [stack.format_arn(
                                                  service="sagemaker", resource="pipeline", resource_name=p)
                                                  for p in pipelines]}),
                                          targets=[target]))
        if self.endpoints:
            self.rules.append(events.Rule(self, "EndpointRule", description="Audited endpoint state changes",
                                          event_pattern=events.EventPattern(
                                              source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_ENDPOINT_STATE],
                                              detail={"EndpointName": self.endpoints}),
                                          targets=[target]))
            stack_arns = [stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{s}/",
                                           arn_format=ArnFormat.SLASH_RESOURCE_NAME)
                          for s in sorted(self.endpoint_stacks)]
            self.rules.append(events.Rule(self, "EndpointStackRule", description="Endpoint stack deployments",
                                          event_pattern=events.EventPattern(
                                              source=[contracts.EVENT_SOURCE_CLOUDFORMATION], detail_type=[contracts.DETAIL_STACK_STATUS],
                                              detail={"stack-id": events.Match.any_of(
                                                  *(events.Match.prefix(a) for a in stack_arns)),
                                                  "status-details": {"status": _STACK_STATUSES}}),
                                          targets=[target]))

    def _add_governance_bus(self, name: str) -> events.EventBus:
        """Stage accounts forward their endpoint and endpoint-stack events here; the writer reads each endpoint
        through the audit role deployed with its stage."""
        remote = self.remote_endpoints
        accounts = sorted({r.account for r in remote})
        bus = events.EventBus(self, "Bus", event_bus_name=name,
                              description="Audit events forwarded from the stage accounts")
        bus.add_to_resource_policy(iam.PolicyStatement(
            sid="StageAccountsForwardAuditEvents", actions=["events:PutEvents"], resources=[bus.event_bus_arn],
            principals=[iam.AccountPrincipal(a) for a in accounts]))
        target = targets.LambdaFunction(self.writer.function, retry_attempts=4, max_event_age=Duration.hours(6),
                                        dead_letter_queue=self.writer.dead_letter_queue)
        events.Rule(self, "RemoteEndpointRule", event_bus=bus, description="Stage accounts' endpoint state changes",
                    event_pattern=events.EventPattern(
                        source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_ENDPOINT_STATE], account=accounts,
                        detail={"EndpointName": sorted({r.endpoint_name for r in remote})}),
                    targets=[target])
        partition = Stack.of(self).partition
        stack_arns = [f"arn:{partition}:cloudformation:{r.region}:{r.account}:stack/{r.stack_name}/"
                      for r in sorted(remote, key=lambda r: r.stack_name)]
        events.Rule(self, "RemoteEndpointStackRule", event_bus=bus, description="Stage accounts' endpoint stacks",
                    event_pattern=events.EventPattern(
                        source=[contracts.EVENT_SOURCE_CLOUDFORMATION], detail_type=[contracts.DETAIL_STACK_STATUS], account=accounts,
                        detail={"stack-id": events.Match.any_of(*(events.Match.prefix(a) for a in stack_arns)),
                                "status-details": {"status": _STACK_STATUSES}}),
                    targets=[target])
        readers = {r.endpoint_name: {"role": f"arn:{partition}:iam::{r.account}:role/{r.reader_role_name}",
                                     "region": r.region} for r in remote}
        self.writer.function.add_environment(contracts.ENV_ENDPOINT_READERS, json.dumps(readers, sort_keys=True))
        self.writer.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadStageEndpoints", actions=["sts:AssumeRole"],
            resources=sorted({v["role"] for v in readers.values()})))
        return bus

    def _add_alarms(self, emails: Sequence[str]) -> None:
        """A gap in the trail is a compliance finding: alarm on dead letters, writer errors and skipped events."""
        self.alarm_topic = sns.Topic(self, "AlarmTopic", display_name="MLOps audit trail", master_key=self.key,
                                     enforce_ssl=True)
        self.alarm_topic.apply_removal_policy(RemovalPolicy.RETAIN)  # subscribers confirmed this ARN; keep it
        for email in emails:
            self.alarm_topic.add_subscription(subs.EmailSubscription(email))
        five_minutes = Duration.minutes(5)
        service = {contracts.DIM_SERVICE: contracts.SERVICE_AUDIT_WRITER}  # Powertools adds it to every metric
        metrics = {
            "DeadLettersAlarm": self.writer.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=five_minutes, statistic="Maximum"),
            "ErrorsAlarm": self.writer.function.metric_errors(period=five_minutes, statistic="Sum"),
            "SkippedEventsAlarm": cloudwatch.Metric(namespace=contracts.GOVERNANCE_METRIC_NAMESPACE, metric_name=contracts.METRIC_AUDIT_EVENTS_SKIPPED,
                                                    dimensions_map=service, period=five_minutes, statistic="Sum"),
            "IncompleteLineageAlarm": cloudwatch.Metric(namespace=contracts.GOVERNANCE_METRIC_NAMESPACE, metric_name=contracts.METRIC_INCOMPLETE_LINEAGE,
                                                        dimensions_map=service, period=five_minutes, statistic="Sum"),
        }
        self.alarms = {}
        for alarm_id, metric in metrics.items():
            alarm = metric.create_alarm(
                self, alarm_id, threshold=1, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Audit trail: {alarm_id.removesuffix('Alarm')} >= 1 in 5 minutes")
            alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
            self.alarms[alarm_id] = alarm
