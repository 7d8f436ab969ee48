"""Scheduled batch scoring: the latest approved model over a month's input, queryable with Athena."""
from __future__ import annotations

import re

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.dependencies import depend_on_policy_only
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy import limits
from mlops_constructs.deploy.serving_role import serving_role

# Scoring files: the raw extract as the source system writes it: a header row, then one record per line: a record
# ID (e.g. the employee ID), then the model's features in training order with category names as in the data. The
# ID is dropped before the model (InputFilter) and joined back (JoinSource) to the served model's ``score,label``
# (pipeline_code.endpoint.serving answers the header row with ``score,label``); OutputFilter keeps ID, score and label.
SCORE_COLUMNS = [("record_id", "string"), ("score", "double"), ("label", "int")]
DATA_PROCESSING = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}
PARTITION = "month"  # output under <output_prefix>month=yyyy-MM/, projected by Athena
MAX_JOB = Duration.hours(6)


class BatchScoring(Construct):
    """A monthly (or any schedule) batch transform of the newest approved package of a registry group.

    EventBridge Scheduler starts a Step Functions state machine (SDK integrations only, no custom code) with the
    scheduled time; the machine derives the month, finds the newest approved package, creates a SageMaker model,
    runs a transform job over ``s3://<data bucket>/<input_prefix><yyyy-MM>/`` into
    ``s3://<data bucket>/<output_prefix>month=<yyyy-MM>/``, deletes the model, and notifies ``topic`` on any
    failure. A Glue table with partition projection exposes the scores to Athena.

    Input files are raw extracts with a header row: ``<id>,<features...>`` (category names as in the data);
    outputs hold a header and ``<id>,score,label`` rows (``SCORE_COLUMNS``; Athena skips the header).

    Props:
        model_name: model name; names the state machine, schedule, Glue database (required).
        model_package_group_name: registry group of the packages (required).
        data_bucket: bucket of inputs and outputs (required).
        artifact_bucket: bucket of model artifacts (required).
        key: KMS key of the buckets, logs and volumes (required).
        topic: notified on failure (required).
        schedule: EventBridge Scheduler expression, e.g. ``cron(0 6 2 * ? *)`` (required).
        input_prefix: key prefix of the monthly input folders, ending in ``/`` (required).
        output_prefix: key prefix of the scores, ending in ``/`` (required).
        image_repositories: ECR repositories of the serving image (required).
        instance_type: transform instance type; default ``ml.m5.large``.
        instance_count: transform instances; default 1.
        log_retention: state machine log retention; default one year.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        model_package_group_name: str,
        data_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        key: kms.IKey,
        topic: sns.ITopic,
        schedule: str,
        input_prefix: str,
        output_prefix: str,
        image_repositories: list[ecr.IRepository],
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(construct_id, input_prefix, output_prefix, instance_type, instance_count)
        stack = Stack.of(self)
        self._package_group = model_package_group_name
        self.database_name = model_name.replace("-", "_")
        self.table_name = "scores"
        self.model_role = serving_role(
            self, "ModelRole", description=f"Runs batch transforms of {model_name}", key=key,
            image_repositories=image_repositories, log_group_name="/aws/sagemaker/TransformJobs",
            reads=[(artifact_bucket, f"{contracts.ARTIFACT_PREFIX}/"), (data_bucket, input_prefix)],
            writes=[(data_bucket, output_prefix)])
        output_root = f"s3://{data_bucket.bucket_name}/{output_prefix}"

        models = stack.format_arn(service="sagemaker", resource="model", resource_name=f"{model_name[:20]}-*")
        month = sfn.Pass(self, "Month", result_path="$.run", parameters={
            # scheduled_time is ISO-8601 (2026-12-02T06:00:00Z): the month is its first two '-' fields.
            "month.$": "States.Format('{}-{}', States.ArrayGetItem(States.StringSplit($.scheduled_time, '-'), 0), "
                       "States.ArrayGetItem(States.StringSplit($.scheduled_time, '-'), 1))",
            "name.$": f"States.Format('{model_name[:20]}-{{}}', States.UUID())",
        })
        latest = tasks.CallAwsService(
            self, "LatestApproved", service="sagemaker", action="listModelPackages",
            parameters={"ModelPackageGroupName": model_package_group_name, "ModelApprovalStatus": "Approved",
                        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1},
            iam_resources=["*"], iam_action="sagemaker:ListModelPackages",
            result_selector={"arn.$": "$.ModelPackageSummaryList[0].ModelPackageArn"}, result_path="$.package")
        create_model = tasks.CallAwsService(
            self, "CreateModel", service="sagemaker", action="createModel",
            parameters={"ModelName.$": "$.run.name", "ExecutionRoleArn": self.model_role.role_arn,
                        "Containers": [{"ModelPackageName.$": "$.package.arn"}], "EnableNetworkIsolation": True,
                        "Tags": [{"Key": contracts.TAG_MODEL, "Value": model_name}]},
            iam_resources=[models],
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[stack.format_arn(
                    service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*")]),
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[models]),
                iam.PolicyStatement(actions=["iam:PassRole"], resources=[self.model_role.role_arn],
                                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            ],
            result_path=sfn.JsonPath.DISCARD)
        transform = sfn.CustomState(self, "Transform", state_json={
            "Type": "Task",
            "Resource": f"arn:{stack.partition}:states:::sagemaker:createTransformJob.sync",
            "Parameters": {
                "TransformJobName.$": "$.run.name", "ModelName.$": "$.run.name",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": (
                        f"States.Format('s3://{data_bucket.bucket_name}/{input_prefix}{{}}/', $.run.month)")}},
                    "ContentType": "text/csv", "SplitType": "Line"},
                "TransformOutput": {"S3OutputPath.$": f"States.Format('{output_root}{PARTITION}={{}}/', $.run.month)",
                                    "AssembleWith": "Line", "Accept": "text/csv", "KmsKeyId": key.key_arn},
                "TransformResources": {
                    "InstanceType": instance_type, "InstanceCount": instance_count,
                    **({} if limits.is_instance_store(instance_type) else {"VolumeKmsKeyId": key.key_arn})},
                "DataProcessing": dict(DATA_PROCESSING),
                "Tags": [{"Key": contracts.TAG_MODEL, "Value": model_name}],
            },
            "ResultSelector": {"status.$": "$.TransformJobStatus", "output.$": "$.TransformOutput.S3OutputPath"},
            "ResultPath": "$.transform",
            "TimeoutSeconds": int(MAX_JOB.to_seconds()),
        })
        delete_model = tasks.CallAwsService(
            self, "DeleteModel", service="sagemaker", action="deleteModel",
            parameters={"ModelName.$": "$.run.name"},
            iam_resources=[models],
            result_path=sfn.JsonPath.DISCARD)
        notify = tasks.SnsPublish(
            self, "NotifyFailure", topic=topic, subject=f"Batch scoring of {model_name} failed",
            message=sfn.TaskInput.from_object({
                "model": model_name, "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                "error": sfn.JsonPath.string_at("$.error.Error"), "cause": sfn.JsonPath.string_at("$.error.Cause")}),
            result_path=sfn.JsonPath.DISCARD)
        failed = sfn.Fail(self, "Failed", error="BatchScoringFailed", cause="see the notification and the log")
        notify.next(failed)
        clean_up = tasks.CallAwsService(
            self, "CleanUpModel", service="sagemaker", action="deleteModel",
            parameters={"ModelName.$": "$.run.name"}, iam_resources=[models], result_path=sfn.JsonPath.DISCARD)
        clean_up.add_catch(notify, result_path="$.cleanup_error")
        clean_up.next(notify)
        for state in (latest, create_model, delete_model):
            state.add_catch(notify, result_path="$.error")
        transform.add_catch(clean_up, result_path="$.error")  # the model exists by now: do not leave it behind

        log_group = logs.LogGroup(self, "Logs", retention=log_retention, encryption_key=key,
                                  removal_policy=RemovalPolicy.RETAIN)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", state_machine_name=f"{model_name}-batch-scoring",
            definition_body=sfn.DefinitionBody.from_chainable(
                month.next(latest).next(create_model).next(transform).next(delete_model)),
            timeout=Duration.seconds(MAX_JOB.to_seconds() + 3600), tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_transform(stack, model_name, key, topic)
        # Wait for the role's policy only: RoleArn's GetAtt already orders the role (cfn-lint W3005).
        depend_on_policy_only(self.state_machine, self.state_machine.role)
        schedule_role = iam.Role(
            self, "ScheduleRole", description=f"EventBridge Scheduler starts the batch scoring of {model_name}",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": stack.account}}))
        acknowledge(schedule_role, "The start-execution policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule=scheduler.ScheduleExpression.expression(schedule),
            description=f"Batch scoring of {model_name}", key=key,
            target=scheduler_targets.StepFunctionsStartExecution(
                self.state_machine, retry_attempts=2, role=schedule_role,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduled_time": scheduler.ContextAttribute.scheduled_time})),
        )
        self._glue_table(stack, data_bucket, output_prefix)

    def _grant_transform(self, stack: Stack, model_name: str, key: kms.IKey, topic: sns.ITopic) -> None:
        """The .sync transform integration: create, describe and stop jobs; EventBridge rule for completion."""
        role = self.state_machine.role
        jobs = stack.format_arn(service="sagemaker", resource="transform-job", resource_name=f"{model_name[:20]}-*")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
                     "sagemaker:AddTags"], resources=[jobs]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[stack.format_arn(service="events", resource="rule",
                                        resource_name="StepFunctionsGetEventsForSageMakerTransformJobsRule")]))
        key.grant(role, "kms:GenerateDataKey", "kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey")
        acknowledge(role, "The state machine policy is inline so that it belongs to this role alone.",
                    "NIST.800.53.R5-IAMNoInlinePolicy")

    def _glue_table(self, stack: Stack, bucket: s3.IBucket, output_prefix: str) -> None:
        location = f"s3://{bucket.bucket_name}/{output_prefix}"
        self.database = glue.CfnDatabase(self, "Database", catalog_id=stack.account, database_input=glue.CfnDatabase
                                         .DatabaseInputProperty(name=self.database_name,
                                                                description="Batch scores for Athena"))
        self.database.apply_removal_policy(RemovalPolicy.RETAIN)
        self.table = glue.CfnTable(
            self, "Scores", catalog_id=stack.account, database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name, table_type="EXTERNAL_TABLE",
                description="Monthly batch scores: record_id, score, label; partition month (yyyy-MM)",
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION, type="string")],
                parameters={
                    "classification": "csv", "skip.header.line.count": "1", "projection.enabled": "true",
                    f"projection.{PARTITION}.type": "date", f"projection.{PARTITION}.format": "yyyy-MM",
                    f"projection.{PARTITION}.range": "2020-01,NOW", f"projection.{PARTITION}.interval": "1",
                    f"projection.{PARTITION}.interval.unit": "MONTHS",
                    "storage.location.template": f"{location}{PARTITION}=${{{PARTITION}}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in SCORE_COLUMNS],
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                        parameters={"field.delim": ","}),
                ),
            ),
        )
        self.table.node.add_dependency(self.database)
        self.table.apply_removal_policy(RemovalPolicy.RETAIN)


def _validate(construct_id: str, input_prefix: str, output_prefix: str, instance_type: str, count: int) -> None:
    where = f"BatchScoring {construct_id}"
    for label, prefix in (("input_prefix", input_prefix), ("output_prefix", output_prefix)):
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError(f"{where}: {label} {prefix!r} must be a relative key prefix ending in '/'")
    if input_prefix.startswith(output_prefix) or output_prefix.startswith(input_prefix):
        raise ValueError(f"{where}: input_prefix {input_prefix!r} and output_prefix {output_prefix!r} must not "
                         "contain each other (scores would be re-scored)")
    if not re.match(limits.INSTANCE_TYPE, instance_type):
        raise ValueError(f"{where}: instance_type {instance_type!r} must look like ml.<family>.<size>")
    low, high = limits.BATCH_INSTANCE_COUNT_RANGE
    if not low <= count <= high:
        raise ValueError(f"{where}: instance_count {count} must be {low}-{high}")
