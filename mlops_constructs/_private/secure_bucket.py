"""An S3 bucket with every default a regulated platform expects."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs._private.nag import acknowledge


class SecureBucket(s3.Bucket):
    """KMS-encrypted, versioned, SSL-only, private, access-logged and retained on ``cdk destroy``.

    Props:
        encryption_key: the customer-managed key for objects (required: no AWS-managed fallback).
        access_logs: bucket receiving server access logs (required, except for the log bucket itself,
            which passes ``None`` and is marked as such by ``is_access_log_bucket``).
        access_log_prefix: prefix for this bucket's logs; default ``"<construct id>/"``.
        event_bridge_enabled: send object events to EventBridge; default ``False``.
        noncurrent_version_days: days before noncurrent versions expire; default 365.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None,
        access_logs: s3.IBucket | None,
        access_log_prefix: str | None = None,
        event_bridge_enabled: bool = False,
        noncurrent_version_days: int = 365,
        is_access_log_bucket: bool = False,
    ) -> None:
        if access_logs is None and not is_access_log_bucket:
            raise ValueError(f"{construct_id}: access_logs is required (only the access log bucket has none)")
        super().__init__(
            scope,
            construct_id,
            # S3 server access logs cannot be delivered to SSE-KMS buckets; the log bucket uses SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED if is_access_log_bucket else s3.BucketEncryption.KMS,
            encryption_key=None if is_access_log_bucket else encryption_key,
            bucket_key_enabled=not is_access_log_bucket,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=None if access_logs is None else (access_log_prefix or f"{construct_id}/"),
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        if event_bridge_enabled:
            # Native CloudFormation property: no notifications custom-resource Lambda (which the L2 would add).
            self.node.default_child.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        acknowledge(
            self,
            "Versioning and RETAIN protect against loss in-region; cross-region replication is a disaster-recovery "
            "choice left to the account's backup policy, not forced on every model bucket.",
            "NIST.800.53.R5-S3BucketReplicationEnabled",
        )
        if is_access_log_bucket:
            acknowledge(
                self,
                "S3 server access logs can only be delivered to a bucket with SSE-S3 encryption, not SSE-KMS.",
                "NIST.800.53.R5-S3DefaultEncryptionKMS",
            )
