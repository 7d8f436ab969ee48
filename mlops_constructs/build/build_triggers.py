"""What starts a model's build pipeline besides code (new data, a schedule) and who hears how it went."""
from __future__ import annotations

import jsii
from aws_cdk import Duration, Resource, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk.interfaces import aws_sagemaker as sagemaker_refs
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.idempotency_table import idempotency_table
from mlops_constructs._private.nag import acknowledge
from mlops_constructs._private.platform_function import PlatformFunction
from mlops_constructs._private.s3_events import object_created


@jsii.implements(sagemaker.IPipeline)
class _PipelineByName(Resource):
    """A SageMaker pipeline referenced by name (aws-cdk-lib has no ``Pipeline.fromPipelineName`` returning
    an IPipeline); what the Scheduler target needs."""

    def __init__(self, scope: Construct, construct_id: str, *, pipeline_name: str) -> None:
        super().__init__(scope, construct_id)
        self._name = pipeline_name
        self._arn = Stack.of(self).format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)

    @property
    def pipeline_name(self) -> str:
        return self._name

    @property
    def pipeline_arn(self) -> str:
        return self._arn

    @property
    def pipeline_ref(self) -> sagemaker_refs.PipelineReference:
        return sagemaker_refs.PipelineReference(pipeline_name=self._name)

    def grant_start_pipeline_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:StartPipelineExecution"],
                                          resource_arns=[self._arn])


class BuildTriggers(Construct):
    """New-data and scheduled starts of a model's build pipeline; failure and approval notifications.

    Props:
        pipeline_name: SageMaker build pipeline (required).
        key: the model's KMS key: idempotency table, schedule, function logs and environment (required).
        topic: the model's SNS topic; failures and approval requests go here (required).
        artifact_bucket: where the build writes evaluation reports the approval message quotes (required).
        model_package_group_name: the model's registry group, watched for pending approvals (required).
        data_bucket: the data bucket (EventBridge notifications on); required with ``new_data_prefix``.
        new_data_prefix: start on a completed drop ``<prefix><drop>/_SUCCESS``; default none (off).
        schedule: EventBridge Scheduler expression (``cron(...)``/``rate(...)``, UTC); default none (off).
        dedup_window: how long a drop's start is remembered (a re-written marker does nothing); default 7 days.
        log_retention: function log retention; default one year.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        key: kms.IKey,
        topic: sns.ITopic,
        artifact_bucket: s3.IBucket,
        model_package_group_name: str,
        data_bucket: s3.IBucket | None = None,
        new_data_prefix: str | None = None,
        schedule: str | None = None,
        dedup_window: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        if new_data_prefix is not None and data_bucket is None:
            raise ValueError(f"BuildTriggers {construct_id}: new_data_prefix needs data_bucket")
        if new_data_prefix is not None and not new_data_prefix.endswith("/"):
            raise ValueError(f"BuildTriggers {construct_id}: new_data_prefix {new_data_prefix!r} must end in '/'")
        self.pipeline = _PipelineByName(self, "Pipeline", pipeline_name=pipeline_name)
        self._key, self._retention = key, log_retention
        self.new_data_rule = self.schedule = self.new_data_function = None
        if new_data_prefix is not None:
            self._new_data(data_bucket, new_data_prefix, dedup_window or Duration.days(7))
        if schedule is not None:
            self._schedule(schedule)
        self._notifications(topic, artifact_bucket, model_package_group_name)

    def _function(self, construct_id: str, function: str, description: str,
                  environment: dict[str, str]) -> PlatformFunction:
        return PlatformFunction(self, construct_id, function=function, description=description, key=self._key,
                                log_retention=self._retention, environment=environment)

    def _new_data(self, bucket: s3.IBucket, prefix: str, dedup_window: Duration) -> None:
        self.idempotency_table = idempotency_table(
            self, "DropStarts", key=self._key,
            no_backup_reason="The table holds only short-lived dedup records (TTL = the dedup window); point-in-time "
                             "recovery is on, and losing it at worst lets a re-written marker start one more execution.")
        self.new_data_function = self._function(
            "NewDataTrigger", "new_data_trigger",
            "Starts the build pipeline once per completed data drop (_SUCCESS marker)",
            {
                contracts.ENV_IDEMPOTENCY_TABLE: self.idempotency_table.table_name,
                contracts.ENV_PIPELINE_NAME: self.pipeline.pipeline_name,
                contracts.ENV_DATA_BUCKET: bucket.bucket_name,
                contracts.ENV_NEW_DATA_PREFIX: prefix,
                contracts.ENV_DEDUP_WINDOW_SECONDS: str(int(dedup_window.to_seconds())),
            })
        role = self.new_data_function.role
        # Exactly what Powertools idempotency calls; the table's key also encrypts what it writes.
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="IdempotencyRecords",
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            resources=[self.idempotency_table.table_arn],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EncryptIdempotencyRecords", actions=["kms:Encrypt", "kms:GenerateDataKey"],
            resources=[self._key.key_arn],
        ))
        self.pipeline.grant_start_pipeline_execution(role)
        self.new_data_rule = events.Rule(
            self,
            "NewData",
            description=f"A data drop under {prefix} is complete (its {contracts.DROP_MARKER} marker was written)",
            event_pattern=object_created(bucket, events.Match.wildcard(f"{prefix}*/{contracts.DROP_MARKER}")),
            targets=[targets.LambdaFunction(self.new_data_function.function, retry_attempts=4,
                                            max_event_age=Duration.hours(6),
                                            dead_letter_queue=self.new_data_function.dead_letter_queue)],
        )

    def _schedule(self, expression: str) -> None:
        role = iam.Role(self, "ScheduleRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                        description="Lets EventBridge Scheduler start the model's build pipeline")
        self.schedule = scheduler.Schedule(
            self,
            "Retraining",
            description="Scheduled retraining (retraining.schedule in the model config)",
            schedule=scheduler.ScheduleExpression.expression(expression),
            key=self._key,
            target=scheduler_targets.SageMakerStartPipelineExecution(
                self.pipeline,
                role=role,
                pipeline_parameter_list=[scheduler_targets.SageMakerPipelineParameter(
                    name=contracts.PARAM_TRIGGER, value="schedule")],
                retry_attempts=3,
                max_event_age=Duration.hours(6),
            ),
        )
        self.schedule_role = role
        acknowledge(role, "The role's policy is inline so that it belongs to this role alone; a managed policy "
                          "could be attached to other principals and widen access.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")

    def _notifications(self, topic: sns.ITopic, artifact_bucket: s3.IBucket, group_name: str) -> None:
        self.notifier = self._function(
            "Notifier", "build_notifier",
            "Explains failed build executions and asks the steward to review pending packages",
            {contracts.ENV_TOPIC_ARN: topic.topic_arn})
        role = self.notifier.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PublishToModelTopic", actions=["sns:Publish"], resources=[topic.topic_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EncryptForModelTopic", actions=["kms:GenerateDataKey"], resources=[self._key.key_arn]))
        reports = artifact_bucket.arn_for_objects(f"{contracts.ARTIFACT_PREFIX}/*")
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadEvaluationReports", actions=["s3:GetObject"], resources=[reports]))
        executions = f"{self.pipeline.pipeline_arn}/execution/*"
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadFailedSteps",
            actions=["sagemaker:ListPipelineExecutionSteps", "sagemaker:DescribePipelineExecution"],
            resources=[executions],
        ))
        target = targets.LambdaFunction(self.notifier.function, retry_attempts=4, max_event_age=Duration.hours(6),
                                        dead_letter_queue=self.notifier.dead_letter_queue)

        def on_sagemaker(construct_id: str, description: str, detail_type: str, detail: dict) -> events.Rule:
            return events.Rule(self, construct_id, description=description, targets=[target],
                               event_pattern=events.EventPattern(source=[contracts.EVENT_SOURCE_SAGEMAKER],
                                                                 detail_type=[detail_type], detail=detail))

        self.failure_rule = on_sagemaker(
            "BuildFailed", "The model's build pipeline execution failed", contracts.DETAIL_PIPELINE_EXECUTION,
            {"pipelineArn": [self.pipeline.pipeline_arn], "currentPipelineExecutionStatus": ["Failed"]})
        self.approval_rule = on_sagemaker(
            "PendingApproval", "A new model package waits for the steward's approval", contracts.DETAIL_PACKAGE_STATE,
            {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["PendingManualApproval"]})
