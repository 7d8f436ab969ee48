"""The stateful heart of one model: key, buckets, registry group and notification topic."""
from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.nag import acknowledge
from mlops_constructs._private.platform_key import PlatformKey
from mlops_constructs._private.secure_bucket import SecureBucket
from mlops_contracts import ARTIFACT_PREFIX, CAPTURE_PREFIX


class ModelCore(Construct):
    """One model's key, data and artifact buckets, Model Registry group and SNS topic.

    Everything here is stateful and retained on ``cdk destroy``; logical IDs are pinned by tests.

    Props:
        model_name: DNS-safe model name; names the registry group (required).
        description: registry group description; default ``""``.
        owner: model owner, tagged on the group (required).
        notification_emails: email subscribers of the topic; default none.
        stage_account_ids: accounts allowed to describe and use the group's packages; default none
            (no resource policy).
        key_pending_window_days: KMS deletion window; default 30.
        key_rotation_days: KMS rotation period; default 365.
        capture_writer_role_arns: endpoint execution roles in other (stage) accounts that write data capture
            under ``capture/`` of the data bucket, encrypted with the key; default none.
        artifact_bucket_events: send the artifact bucket's object events to EventBridge (an S3 source object
            starting CI needs it); default ``False``. The data bucket always sends them (new-data triggers).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        owner: str,
        description: str = "",
        notification_emails: list[str] | None = None,
        stage_account_ids: list[str] | None = None,
        key_pending_window_days: int = 30,
        key_rotation_days: int = 365,
        artifact_bucket_events: bool = False,
        capture_writer_role_arns: list[str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_name = model_name
        self.key = PlatformKey(self, "Key",
                               description=f"Encrypts data, artifacts, logs and messages of model {model_name}",
                               rotation_days=key_rotation_days, pending_window_days=key_pending_window_days)
        # EventBridge and CloudWatch publish to the encrypted topic.
        self.key.allow_service_principals("AllowEventBridgeAndCloudWatchToPublishEncrypted",
                                          ["events.amazonaws.com", "cloudwatch.amazonaws.com"])
        self.key.allow_cloudwatch_logs()

        self.access_log_bucket = SecureBucket(
            self, "AccessLogs", encryption_key=None, access_logs=None, is_access_log_bucket=True
        )
        acknowledge(
            self.access_log_bucket,
            "This is the server-access-log target bucket; logging it to itself would loop.",
            "AwsSolutions-S1",
            "NIST.800.53.R5-S3BucketLoggingEnabled",
        )
        self.data_bucket = SecureBucket(
            self, "DataBucket", encryption_key=self.key, access_logs=self.access_log_bucket,
            event_bridge_enabled=True,
        )
        self.artifact_bucket = SecureBucket(
            self, "ArtifactBucket", encryption_key=self.key, access_logs=self.access_log_bucket,
            event_bridge_enabled=artifact_bucket_events,
        )
        self._share_artifacts_with(stage_account_ids or [])
        for role_arn in capture_writer_role_arns or []:
            self._allow_capture_from(role_arn)
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_name,
            model_package_group_description=description or f"Model packages of {model_name}",
            model_package_group_policy=self._group_policy(stage_account_ids or []),
        )
        self.model_package_group.apply_removal_policy(RemovalPolicy.RETAIN)
        self.model_package_group.tags.set_tag(contracts.TAG_MODEL, model_name)
        self.model_package_group.tags.set_tag("mlops:owner", owner)

        self.topic = sns.Topic(
            self, "Topic", display_name=f"MLOps {model_name}", master_key=self.key, enforce_ssl=True
        )
        # Stage-account endpoint stacks and their alarms name this ARN (TopicArn parameter); subscribers confirmed
        # it. Replacing the stack must not silently cut them off.
        self.topic.apply_removal_policy(RemovalPolicy.RETAIN)
        for email in notification_emails or []:
            self.topic.add_subscription(subs.EmailSubscription(email))

    @property
    def model_package_group_name(self) -> str:
        return self.model_package_group.model_package_group_name

    @property
    def model_package_group_arn(self) -> str:
        return self.model_package_group.attr_model_package_group_arn

    def _share_artifacts_with(self, account_ids: list[str]) -> None:
        """Stage accounts read model artifacts (model.tar.gz, under ``pipelines/``) and decrypt them to create
        models; never the code (``code/``) or CI sources (``ci/``)."""
        if not account_ids:
            return
        principals = [iam.AccountPrincipal(a) for a in account_ids]
        self.artifact_bucket.grant_read(iam.CompositePrincipal(*principals), f"{ARTIFACT_PREFIX}/*")

    def allow_stage_endpoint(self, serving_role_arn: str, deploy_role_arn: str,
                             log_group_name: str | None = None) -> None:
        """A stage account's endpoint uses the key: its deploy role creates the grant SageMaker needs for the
        endpoint's volumes, its serving role decrypts artifacts and encrypts capture, both only through
        SageMaker or S3 (``kms:ViaService``). The principal is the account, narrowed to the role by
        ``aws:PrincipalArn``: KMS rejects key policies naming roles that do not exist yet.

        ``log_group_name`` (default none): the endpoint stack's own log group in that account, which CloudWatch
        Logs encrypts with the key (scoped by the log group's ARN as encryption context)."""
        account, region = serving_role_arn.split(":")[4], Stack.of(self).region
        if log_group_name:
            self.key.allow_cloudwatch_logs(log_group_name=log_group_name, account=account)
        services = [f"sagemaker.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], principals=[iam.AccountPrincipal(account)],
            resources=["*"], conditions={"ArnEquals": {"aws:PrincipalArn": serving_role_arn},
                                         "StringEquals": {"kms:ViaService": services}}))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:CreateGrant"], principals=[iam.AccountPrincipal(account)], resources=["*"],
            conditions={"ArnEquals": {"aws:PrincipalArn": deploy_role_arn},
                        "StringEquals": {"kms:ViaService": services[0]},
                        "Bool": {"kms:GrantIsForAWSResource": "true"}}))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:DescribeKey"], principals=[iam.AccountPrincipal(account)], resources=["*"],
            conditions={"ArnEquals": {"aws:PrincipalArn": deploy_role_arn}}))

    def _allow_capture_from(self, role_arn: str) -> None:
        """A stage account's endpoint role writes capture files here. The principal is the account, narrowed to
        the role by ``aws:PrincipalArn``: S3 and KMS reject policies naming roles that do not exist yet."""
        account = role_arn.split(":")[4]
        only_that_role = {"ArnEquals": {"aws:PrincipalArn": role_arn}}
        self.data_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                principals=[iam.AccountPrincipal(account)],
                resources=[self.data_bucket.arn_for_objects(f"{CAPTURE_PREFIX}/*")],
                conditions=only_that_role,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Encrypt"],
                principals=[iam.AccountPrincipal(account)],
                resources=["*"],
                conditions={**only_that_role,
                            "StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            )
        )

    def _group_policy(self, account_ids: list[str]) -> dict | None:
        if not account_ids:
            return None
        stack = Stack.of(self)
        group_arn = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=self.model_name)
        package_arn = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{self.model_name}/*")
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StageAccountsDescribeGroup",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{stack.partition}:iam::{a}:root" for a in account_ids]},
                    "Action": ["sagemaker:DescribeModelPackageGroup"],
                    "Resource": group_arn,
                },
                {
                    "Sid": "StageAccountsUsePackages",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{stack.partition}:iam::{a}:root" for a in account_ids]},
                    "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                    "Resource": package_arn,
                },
            ],
        }
