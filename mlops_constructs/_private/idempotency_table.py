"""The DynamoDB table behind a Powertools idempotency layer, one way for every function that needs one."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs._private.nag import acknowledge


def idempotency_table(scope: Construct, construct_id: str, *, key: kms.IKey, no_backup_reason: str) -> dynamodb.Table:
    """Partition key ``id``, records expiring by TTL on ``expiration`` (what Powertools writes), encrypted with
    ``key``, point-in-time recovery on, RETAIN like every table of the platform. ``no_backup_reason`` says why the
    table needs no backup plan (it becomes the cdk-nag acknowledgment)."""
    table = dynamodb.Table(
        scope, construct_id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        time_to_live_attribute="expiration",
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(table, no_backup_reason, "NIST.800.53.R5-DynamoDBInBackupPlan")
    return table
