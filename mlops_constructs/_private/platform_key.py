"""The platform's customer-managed KMS key and the key-policy statements its owners share."""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
SERVICE_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


class PlatformKey(kms.Key):
    """A symmetric key with automatic rotation, retained on ``cdk destroy`` (what it encrypted outlives a stack).

    Its policy starts as CDK's default (the account administers and uses the key through IAM); the owner adds what
    services need with ``allow_cloudwatch_logs`` and ``allow_service_principals``. CDK checks the ranges KMS
    allows (pending window 7-30 days, rotation period 90-2560 days).

    Props:
        description: what the key encrypts (required).
        rotation_days: automatic rotation period; default 365.
        pending_window_days: deletion window; default 30.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        rotation_days: int = 365,
        pending_window_days: int = 30,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=description,
            enable_key_rotation=True,
            rotation_period=Duration.days(rotation_days),
            pending_window=Duration.days(pending_window_days),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def allow_cloudwatch_logs(self, *, log_group_name: str | None = None, account: str | None = None) -> None:
        """CloudWatch Logs in this region encrypts log groups with the key, scoped by the log group's ARN as
        encryption context: by default every log group of this account (statement
        ``AllowCloudWatchLogsEncryption``); with ``log_group_name``, that log group of ``account`` (default this
        account) only, e.g. an endpoint stack's log group in a stage account."""
        stack = Stack.of(self)
        log_groups = stack.format_arn(service="logs", account=account, resource="log-group",
                                      resource_name=log_group_name or "*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.add_to_resource_policy(iam.PolicyStatement(
            sid=None if log_group_name else "AllowCloudWatchLogsEncryption",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={("ArnEquals" if log_group_name else "ArnLike"): {
                "kms:EncryptionContext:aws:logs:arn": log_groups}},
        ))

    def allow_service_principals(self, sid: str, services: Sequence[str]) -> None:
        """``services`` (e.g. ``events.amazonaws.com``) decrypt and generate data keys for this account only
        (``aws:SourceAccount``): to publish to an encrypted topic or send to an encrypted queue. The statement is
        ``sid``."""
        if not services:
            raise ValueError(f"PlatformKey {self.node.id}: statement {sid!r} needs at least one service principal; "
                             f"got {list(services)!r}")
        self.add_to_resource_policy(iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(s) for s in services],
            actions=list(SERVICE_KEY_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        ))
