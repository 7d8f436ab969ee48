"""The least-privilege SageMaker execution role shared by endpoints and batch transforms."""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs._private.nag import acknowledge

SAGEMAKER_METRIC_NAMESPACES = ["/aws/sagemaker/Endpoints", "/aws/sagemaker/TransformJobs", "aws/sagemaker/*"]


def serving_role(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    key: kms.IKey,
    image_repositories: Sequence[ecr.IRepository],
    log_group_name: str,
    reads: list[tuple[s3.IBucket, str]],
    writes: list[tuple[s3.IBucket, str]] = (),
    role_name: str | None = None,
    resource_account: str | None = None,
) -> iam.Role:
    """A role SageMaker assumes to run a model: read ``reads`` (bucket, key prefix) pairs, write ``writes``,
    decrypt/encrypt with ``key``, pull the serving image, write its logs under ``log_group_name*`` and metrics.

    ``role_name`` defaults to a CloudFormation-generated name. ``resource_account`` (default none) adds an
    ``aws:ResourceAccount`` condition to the S3 and KMS statements, for buckets and a key in another account.
    """
    stack = Stack.of(scope)
    role = iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                    role_name=role_name, description=description)
    owner = {"StringEquals": {"aws:ResourceAccount": resource_account}} if resource_account else {}
    for bucket, prefix in reads:
        objects = bucket.arn_for_objects(f"{prefix}*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects],
                                                         conditions=owner or None))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}, **owner}))
    for bucket, prefix in writes:
        objects = bucket.arn_for_objects(f"{prefix}*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects],
                                                         conditions=owner or None))
    key_actions = ["kms:Decrypt", *(["kms:GenerateDataKey"] if writes else [])]
    if resource_account:
        role.add_to_principal_policy(iam.PolicyStatement(actions=key_actions, resources=[key.key_arn],
                                                         conditions=owner))
    else:
        key.grant(role, *key_actions)
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        resources=[repository.repository_arn for repository in image_repositories]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
    log_group = stack.format_arn(service="logs", resource="log-group", resource_name=log_group_name,
                                 arn_format=ArnFormat.COLON_RESOURCE_NAME)
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources=[log_group, f"{log_group}:*"]))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"], resources=["*"],
        conditions={"StringLike": {"cloudwatch:namespace": SAGEMAKER_METRIC_NAMESPACES}}))
    acknowledge(role, "The execution policy is inline so that it belongs to this role alone.",
                "NIST.800.53.R5-IAMNoInlinePolicy")
    return role

