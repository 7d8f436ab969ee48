"""The drift check of an hour too large for one invocation: a Step Functions Distributed Map over its capture objects.

The scheduled drift detector (``functions/drift_detector``, step ``plan``) lists the hour; above its ``FANOUT_BYTES``
it writes the plan and the batches (``monitoring_code.drift_fanout.plan_batches``) under
``monitoring/<endpoint>/drift-fanout/`` and starts this state machine:

1. ``CountBatches``, a Distributed Map reading the batches file (ItemReader), one child per batch: the same image
   with step ``count`` streams the batch's objects and returns mergeable counts, which the map's ResultWriter writes
   to S3 (so no child output passes through the 256 KiB state payload).
2. ``Report``: the same image with step ``reduce`` reads the ResultWriter's manifest, merges the counts per variant,
   scores, publishes the metrics and writes ``drift.json``, exactly as the single invocation would.
"""
from __future__ import annotations

from aws_cdk import Duration, FeatureFlags, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.dependencies import depend_on_policy_only
from mlops_constructs._private.nag import acknowledge
from mlops_constructs._private.platform_function import PlatformFunction

# Children at once. Each is a Lambda invocation: the default account quota of concurrent executions is 1,000
# (shared by every function of the account and region), so the default leaves half of it to everything else.
DEFAULT_MAX_CONCURRENCY = 500
# Without this flag CDK renders no ResultWriterV2 at all (and the children's counts would go nowhere).
RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"
MAP_LABEL = "DriftCounts"  # names the map run's child executions: <state machine>/<label>:<id>
MAX_CONCURRENCY_LIMIT = 10_000  # Step Functions: at most 10,000 parallel child workflow executions per Map Run


class DriftFanOut(Construct):
    """The Distributed Map fan-out of one endpoint's drift check, its two functions and a failure alarm.

    Props:
        endpoint_name: the monitored endpoint (required).
        data_bucket: holds the capture data, the plan, the map's results and the report (required).
        artifact_bucket: holds the baselines under ``baselines_prefix`` (required).
        baselines_prefix: prefix of the baselines in ``artifact_bucket`` (required).
        key: the model's KMS key (required).
        environment: environment both functions share with the scheduled detector (required).
        topic: SNS topic notified when an execution fails; default none.
        max_concurrency: children at once, 1 to 10,000; default 500.
        child_timeout: one child's Lambda timeout; default 10 minutes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        data_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        baselines_prefix: str,
        key: kms.IKey,
        environment: dict[str, str],
        topic: sns.ITopic | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        child_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= max_concurrency <= MAX_CONCURRENCY_LIMIT:
            raise ValueError(f"DriftFanOut {construct_id}: max_concurrency must be 1 to {MAX_CONCURRENCY_LIMIT}, "
                             f"got {max_concurrency}")
        if not FeatureFlags.of(self).is_enabled(RESULT_WRITER_V2_FLAG):
            raise ValueError(f"DriftFanOut {construct_id}: the app needs the feature flag {RESULT_WRITER_V2_FLAG} "
                             "(cdk.json context) set to true, or its Distributed Map writes no results")
        stack = Stack.of(self)
        reports = f"{contracts.MONITORING_REPORTS_PREFIX}/{endpoint_name}/"
        fanout = f"{reports}{contracts.DRIFT_FANOUT_PREFIX}/"
        capture = f"{contracts.CAPTURE_PREFIX}/{endpoint_name}/"

        self.count_function = PlatformFunction(
            self, "Count", function=contracts.SERVICE_DRIFT_DETECTOR, description=f"Drift fan-out child of {endpoint_name}: "
            "counts one batch of capture objects", key=key, memory_size=2048,
            timeout=child_timeout or Duration.minutes(10), retry_attempts=0,
            environment={**environment, contracts.ENV_DRIFT_STEP: contracts.DRIFT_STEP_COUNT})
        self.reduce_function = PlatformFunction(
            self, "Reduce", function=contracts.SERVICE_DRIFT_DETECTOR, description=f"Drift fan-out of {endpoint_name}: merges "
            "the children's counts, scores, publishes and reports", key=key, memory_size=1024,
            timeout=Duration.minutes(5), retry_attempts=0,
            environment={**environment, contracts.ENV_DRIFT_STEP: contracts.DRIFT_STEP_REDUCE})
        baselines = artifact_bucket.arn_for_objects(f"{baselines_prefix}*")
        fanout_objects = data_bucket.arn_for_objects(f"{fanout}*")
        self._allow(self.count_function.role, ["s3:GetObject"],
                    [data_bucket.arn_for_objects(f"{capture}*"), fanout_objects, baselines],
                    f"The child reads capture objects of {endpoint_name} (named by SageMaker at run time), its "
                    f"plan under {fanout} and the serving model's baseline under {baselines_prefix}.")
        self._allow(self.reduce_function.role, ["s3:GetObject"], [fanout_objects, baselines],
                    f"The reduce step reads the plan and the map's result files under {fanout} (named at run "
                    f"time) and the serving model's baseline under {baselines_prefix}.")
        report_objects = data_bucket.arn_for_objects(f"{reports}*")
        self._allow(self.reduce_function.role, ["s3:PutObject"], [report_objects],
                    f"The reduce step writes the hour's report under {reports} (one key per hour).")
        self.reduce_function.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey"], resources=[key.key_arn]))

        count = tasks.LambdaInvoke(
            self, "CountBatch", lambda_function=self.count_function.function, payload_response_only=True,
            retry_on_service_exceptions=True)
        self.map = sfn.DistributedMap(
            self, "CountBatches",
            item_reader=sfn.S3JsonItemReader(bucket=data_bucket, key=sfn.JsonPath.string_at("$.batches_key")),
            item_selector={"bucket": sfn.JsonPath.string_at("$.bucket"),
                           "plan_key": sfn.JsonPath.string_at("$.plan_key"),
                           "batch": sfn.JsonPath.object_at("$$.Map.Item.Value")},
            result_writer_v2=sfn.ResultWriterV2(bucket=data_bucket, prefix=f"{fanout}results"),
            max_concurrency=max_concurrency, tolerated_failure_percentage=0, result_path="$.map",
            label=MAP_LABEL,
        )
        self.map.item_processor(count)
        report = tasks.LambdaInvoke(
            self, "Report", lambda_function=self.reduce_function.function, payload_response_only=True,
            retry_on_service_exceptions=True,
            payload=sfn.TaskInput.from_object({
                "bucket": sfn.JsonPath.string_at("$.bucket"), "plan_key": sfn.JsonPath.string_at("$.plan_key"),
                "result_writer": sfn.JsonPath.object_at("$.map.ResultWriterDetails")}))
        log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key,
                                  removal_policy=RemovalPolicy.RETAIN)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(self.map.next(report)),
            comment=f"Hourly drift check of {endpoint_name} fanned out over the hour's capture objects",
            timeout=Duration.minutes(55), tracing_enabled=True,  # done before the next hour's check starts
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self._grant_map(stack, key, data_bucket, fanout)
        self.failed_alarm = None
        if topic is not None:
            self.failed_alarm = cloudwatch.Alarm(
                self, "FailedAlarm", metric=self.state_machine.metric_failed(period=Duration.hours(1)),
                threshold=1, evaluation_periods=1, alarm_name=f"{endpoint_name}-drift-fanout-failed",
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                alarm_description="An hour's drift fan-out failed: that hour has no drift report",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
            self.failed_alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def grant_start(self, role: iam.IRole) -> None:
        """Let the scheduled detector start the fan-out."""
        self.state_machine.grant_start_execution(role)

    def _allow(self, role: iam.IRole, actions: list[str], resources: list[str], reason: str) -> None:
        # ``reason`` documents the grant; its wildcards are acknowledged from mlops_constructs/_private/wildcard_allowlist.py.
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))

    def _grant_map(self, stack: Stack, key: kms.IKey, data_bucket: s3.IBucket, fanout: str) -> None:
        """What the Distributed Map needs beyond what CDK adds (states:StartExecution on itself, the S3 actions
        of its ItemReader and ResultWriter): the bucket key to read the batches and write the results."""
        role = self.state_machine.role
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        # The map's wildcards (batches and results under the fan-out prefix, the functions' versions, its own child
        # executions, X-Ray and log delivery) are acknowledged from mlops_constructs/_private/wildcard_allowlist.py.
        acknowledge(
            self.state_machine,
            "The Distributed Map's policies are inline so that they belong to this role alone.",
            "NIST.800.53.R5-IAMNoInlinePolicy",
        )
        depend_on_policy_only(self.state_machine, role)
