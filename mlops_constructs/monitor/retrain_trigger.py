"""Drift and quality alarms → one build pipeline execution per cooldown."""
from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.idempotency_table import idempotency_table
from mlops_constructs._private.platform_function import PlatformFunction
from monitoring_code import limits


class RetrainTrigger(Construct):
    """An EventBridge rule on the alarms entering ALARM and the Lambda that starts the build pipeline.

    The Lambda is idempotent per model (Powertools idempotency in a DynamoDB table) for the cooldown, and
    skips the start while an execution runs or one started within the cooldown.

    Props:
        model_name: the model (required).
        pipeline_name: the build pipeline to start (required).
        key: KMS key for the table, function and queue (required).
        alarms: the alarms whose ALARM state starts retraining (required, at least one).
        alarm_triggers: alarm name → ``drift`` | ``quality``, the pipeline's Trigger parameter (required).
        cooldown_hours: no alarm-started execution within this many hours of another, 0 to 720; default 24
            (``monitoring_code.limits``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        pipeline_name: str,
        key: kms.IKey,
        alarms: list[cloudwatch.IAlarm],
        alarm_triggers: dict[str, str],
        cooldown_hours: int = limits.DEFAULT_COOLDOWN_HOURS,
    ) -> None:
        super().__init__(scope, construct_id)
        if not alarms:
            raise ValueError(f"RetrainTrigger {construct_id}: needs at least one alarm")
        bad = sorted(v for v in alarm_triggers.values() if v not in ("drift", "quality"))
        if bad:
            raise ValueError(f"RetrainTrigger {construct_id}: alarm triggers {bad} must be 'drift' or 'quality'")
        if error := limits.cooldown_error(cooldown_hours):
            raise ValueError(f"RetrainTrigger {construct_id}: {error}")
        # An idempotency cache: records expire by TTL after the cooldown. RETAIN like every table of the platform
        # (and the two other idempotency tables): deleting the stack mid-cooldown must not re-arm a retraining.
        self.table = idempotency_table(
            self, "Idempotency", key=key,
            no_backup_reason="Idempotency cache of the retraining trigger: entries expire after the cooldown; a "
                             "backup plan would only preserve expired de-duplication keys.")
        self.function = PlatformFunction(
            self, "Function", function="retrain_trigger", key=key,
            description=f"Starts {pipeline_name} on drift and quality alarms of {model_name}",
            environment={contracts.ENV_MODEL_NAME: model_name, contracts.ENV_PIPELINE_NAME: pipeline_name,
                         contracts.ENV_COOLDOWN_HOURS: str(cooldown_hours),
                         contracts.ENV_IDEMPOTENCY_TABLE: self.table.table_name,
                         contracts.ENV_ALARM_TRIGGERS: json.dumps(alarm_triggers, sort_keys=True)},
            timeout=Duration.seconds(60),
        )
        role = self.function.role
        # Exactly what Powertools idempotency calls; the table's key also encrypts what it writes.
        self.table.grant(role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:GenerateDataKey"], resources=[key.key_arn]))
        stack = Stack.of(self)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"],
            resources=[stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)],
        ))
        self.rule = events.Rule(
            self, "OnAlarm",
            description=f"Drift or quality alarm of {model_name} in ALARM",
            event_pattern=events.EventPattern(
                source=[contracts.EVENT_SOURCE_CLOUDWATCH], detail_type=[contracts.DETAIL_ALARM_STATE],
                resources=[a.alarm_arn for a in alarms], detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=2)],
        )
