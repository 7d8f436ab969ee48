"""Who deploys and who runs one endpoint stack: its serving role and the CloudFormation role that deploys it.

Both live outside the endpoint stack, so the template that the CD pipeline synthesizes from the repository can
neither create nor change IAM: the deploy role may only pass the one serving role, by exact ARN. In the tooling
account they belong to the model stack; in a stage account of their own, to that stage's access stack
(``stacks/stage_access_stack.py``), which the platform team deploys with ``cdk deploy``.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.deploy.serving_role import serving_role

ARTIFACT_OBJECTS = f"{contracts.ARTIFACT_PREFIX}/"  # model.tar.gz from the build pipeline's steps
SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SCALING_ROLE = f"aws-service-role/{SCALING_SERVICE}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
# Application Auto Scaling writes have no resource-level permissions; the service-namespace condition key (Application
# Auto Scaling User Guide, "How Application Auto Scaling works with IAM") keeps them to SageMaker variants.
AUTOSCALING_WRITES = ("application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
                      "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
                      "application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction")
# What CloudFormation calls for the endpoint's log group and its metric filter (GuardedEndpoint count_rejections):
# the registry's create/read/update handler permissions for the properties set (KMS, retention, tags).
ENDPOINT_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:TagResource",
                        "logs:UntagResource", "logs:ListTagsForResource", "logs:GetDataProtectionPolicy",
                        "logs:PutMetricFilter", "logs:DescribeMetricFilters", "logs:DeleteMetricFilter")


def alarm_event_pattern(endpoint_stack_name: str, account: str | None = None) -> events.EventPattern:
    """State changes of the endpoint stack's alarms (CloudFormation names them ``<stack>-<logical ID>-...``)."""
    return events.EventPattern(source=[contracts.EVENT_SOURCE_CLOUDWATCH], detail_type=[contracts.DETAIL_ALARM_STATE],
                               account=[account] if account else None,
                               detail={"alarmName": [{"prefix": f"{endpoint_stack_name}-"}]})


def role_arn(stack: Stack, name: str, account: str | None = None) -> str:
    """The ARN of role ``name`` (a ``mlops_contracts`` role name) in ``account``; default the stack's account."""
    return stack.format_arn(service="iam", region="", account=account or stack.account, resource="role",
                            resource_name=name)


def rollback_alarms_arn(stack: Stack, endpoint_stack_name: str, account: str | None = None,
                        region: str | None = None) -> str:
    """The endpoint stack's alarms: CloudFormation names them ``<stack name>-<logical ID>-<suffix>``."""
    return stack.format_arn(service="cloudwatch", resource="alarm", resource_name=f"{endpoint_stack_name}-*",
                            account=account or stack.account, region=region or stack.region,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


def endpoint_serving_role(
    scope: Construct,
    construct_id: str,
    *,
    endpoint_name: str,
    endpoint_stack_name: str,
    key: kms.IKey,
    artifact_bucket: s3.IBucket,
    image_repositories: list[ecr.IRepository],
    capture_bucket: s3.IBucket | None = None,
    resource_account: str | None = None,
) -> iam.Role:
    """The execution role ``<endpoint>-serving`` of one endpoint: read ``pipelines/*`` artifacts, write
    ``capture/*`` (when ``capture_bucket`` is given), pull the images, write logs and metrics, and describe the
    endpoint stack's auto-rollback alarms (deployment guardrails need ``cloudwatch:DescribeAlarms``).

    ``resource_account`` (default none) limits S3 and KMS access to that account's resources, for a role whose
    buckets and key live in the tooling account and are known by name only at deploy time.
    """
    stack = Stack.of(scope)
    role = serving_role(
        scope, construct_id, description=f"Serves models behind endpoint {endpoint_name}",
        role_name=contracts.serving_role_name(endpoint_name), key=key, image_repositories=image_repositories,
        log_group_name=contracts.endpoint_log_group_name(endpoint_name),
        reads=[(artifact_bucket, ARTIFACT_OBJECTS)],
        writes=[(capture_bucket, f"{contracts.CAPTURE_PREFIX}/")] if capture_bucket else [],
        resource_account=resource_account,
    )
    alarms = rollback_alarms_arn(stack, endpoint_stack_name)
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="DescribeRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=[alarms]))
    return role


def add_endpoint_deploy_policy(
    role: iam.Role,
    *,
    endpoint_name: str,
    endpoint_stack_name: str,
    serving_role_arn: str,
    package_arns: str,
    key_arn: str,
) -> None:
    """What CloudFormation needs to create, update and delete one endpoint stack in ``role``'s account, and no
    more: the handler permissions of each resource type in the CloudFormation registry, scoped to the stack's
    names. IAM: only ``iam:PassRole`` of the one serving role and the autoscaling service-linked role."""
    stack = Stack.of(role)

    def arn(service: str, resource: str, name: str, sep: bool = False, region: str | None = None) -> str:
        return stack.format_arn(service=service, resource=resource, resource_name=name, region=region,
                                arn_format=ArnFormat.COLON_RESOURCE_NAME if sep else ArnFormat.SLASH_RESOURCE_NAME)

    scaling_alarms = arn("cloudwatch", "alarm", f"TargetTracking-endpoint/{endpoint_name}/*", sep=True)
    log_group = contracts.endpoint_log_group_name(endpoint_name)
    statements = [
        ("Endpoint", ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint",
                      "sagemaker:DescribeEndpoint", "sagemaker:AddTags", "sagemaker:DeleteTags",
                      "sagemaker:ListTags"],
         [arn("sagemaker", "endpoint", endpoint_name)]),
        ("ModelsAndConfigs", ["sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel",
                              "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig",
                              "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags", "sagemaker:DeleteTags",
                              "sagemaker:ListTags"],
         [arn("sagemaker", "model", "*"), arn("sagemaker", "endpoint-config", "*")]),
        ("UsePackages", ["sagemaker:DescribeModelPackage"], [package_arns]),
        ("RollbackAlarms", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                            "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"],
         [arn("cloudwatch", "alarm", f"{endpoint_stack_name}-*", sep=True)]),
        # The ScalableTarget handler reads and writes the target-tracking alarms of this endpoint's variants.
        ("ScalingAlarms", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
         [scaling_alarms]),
        ("Dashboard", ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
                       "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"],
         [arn("cloudwatch", "dashboard", contracts.variant_dashboard_name(endpoint_name), region="")]),
        ("AutoscalingRead", ["application-autoscaling:DescribeScalableTargets",
                             "application-autoscaling:DescribeScalingPolicies",
                             "application-autoscaling:DescribeScheduledActions"], ["*"]),
        # Tagging acts on scalable-target ARNs (TagResource API reference), without the service-namespace key.
        ("AutoscalingTags", ["application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                             "application-autoscaling:ListTagsForResource"],
         [arn("application-autoscaling", "scalable-target", "*")]),
        # Target-tracking policies are validated against their metric (no resource-level permissions).
        ("ScalingMetrics", ["cloudwatch:GetMetricData"], ["*"]),
        ("EndpointVolumeKey", ["kms:CreateGrant", "kms:DescribeKey"], [key_arn]),
        ("EndpointLogs", list(ENDPOINT_LOG_ACTIONS),
         [arn("logs", "log-group", log_group, sep=True), arn("logs", "log-group", f"{log_group}:*", sep=True)]),
        ("DescribeLogs", ["logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:DescribeIndexPolicies"],
         ["*"]),
    ]
    for sid, actions, resources in statements:
        role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="Autoscaling", actions=list(AUTOSCALING_WRITES), resources=["*"],
        conditions={"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="PassServingRole", actions=["iam:PassRole"], resources=[serving_role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
    scaling_role = role_arn(stack, SCALING_ROLE)
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="AutoscalingServiceLinkedRole", actions=["iam:CreateServiceLinkedRole"], resources=[scaling_role],
        conditions={"StringEquals": {"iam:AWSServiceName": SCALING_SERVICE}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="PassAutoscalingServiceLinkedRole", actions=["iam:PassRole"], resources=[scaling_role]))
    acknowledge(role, "The deployment policy is inline so that it belongs to this role alone.",
                "NIST.800.53.R5-IAMNoInlinePolicy")
