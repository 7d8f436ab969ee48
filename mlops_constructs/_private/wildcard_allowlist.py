"""The reviewed IAM wildcards of every role the platform creates, each with the reason it cannot be narrower.

This list, not the grants, decides which cdk-nag AwsSolutions-IAM5 findings are acknowledged
(``wildcard_review``). A grant that adds a wildcard, or an action on an existing one, fails synth and
``tests/constructs/test_wildcard_review.py`` until an entry here is added and reviewed (CODEOWNERS). Patterns and role keys
are explained in ``wildcard_review``.
"""
from __future__ import annotations

from mlops_constructs._private.wildcard_review import Wildcard
from mlops_contracts import build_pipeline_name, source_object_key


def arn(service: str, resource: str, *, region: bool = True) -> str:
    """An ARN pattern in the partition, region (unless ``region`` is False) and account of the stack."""
    return f"arn:{{partition}}:{service}:{'{region}' if region else ''}:{{account}}:{resource}"


def sagemaker(resource: str) -> str:
    return arn("sagemaker", resource)


ARTIFACTS = "<{store}.Arn>"
DATA = "<CoreDataBucket{id}.Arn>"
MODEL_KEY = "<CoreKey{id}.Arn>"
S3_READ = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
S3_WRITE = ("s3:DeleteObject*", "s3:Abort*", "s3:PutObject", "s3:PutObjectLegalHold", "s3:PutObjectRetention",
            "s3:PutObjectTagging", "s3:PutObjectVersionTagging")
KMS_CDK = ("kms:GenerateDataKey*", "kms:ReEncrypt*")

# Reasons shared by several roles.
XRAY = Wildcard(("xray:PutTraceSegments", "xray:PutTelemetryRecords"), "*",
                "X-Ray trace upload (active tracing) has no resource-level permissions.")
FUNCTION_LOGS = Wildcard(("logs:CreateLogStream", "logs:PutLogEvents"), "<{name}Logs{id}.Arn>:*",
                         "Lambda creates log streams at run time, inside the function's own log group.")
ARTIFACT_READ = (
    Wildcard(S3_READ, ARTIFACTS, "CDK's artifact read grant: GetBucket*/List* on this model's artifact bucket."),
    Wildcard(S3_READ, f"{ARTIFACTS}/*", "CDK's artifact read grant: CodePipeline names artifact objects per "
             "execution, inside this model's artifact bucket."),
    Wildcard(KMS_CDK, MODEL_KEY, "CDK's grant on the model key that encrypts the artifacts (GenerateDataKey* and "
             "ReEncrypt* on that one key)."),
)
ARTIFACT_WRITE = (
    Wildcard(("s3:DeleteObject*", "s3:Abort*"), ARTIFACTS, "CDK's artifact read-write grant on this model's "
             "artifact bucket (the actions' own wildcards; no other bucket)."),
    Wildcard(S3_READ + S3_WRITE, f"{ARTIFACTS}/*", "CDK's artifact read-write grant: CodePipeline writes artifact "
             "objects under keys generated per execution, inside this model's artifact bucket."),
)
PIPELINE_ACTION_SOURCE = (
    Wildcard(S3_READ, f"{ARTIFACTS}/{source_object_key('{name}')}", "CDK's S3 source action grant on the one source "
             "object (GetObject*/GetBucket*/List* are CDK's action wildcards)."),
)


def codebuild_defaults(project: str) -> tuple[Wildcard, ...]:
    """CodeBuild's default grants to a project's role: its log streams and report groups, created at run time."""
    return (
        Wildcard(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
                 arn("logs", f"log-group:/aws/codebuild/<{project}{{id}}>:*"),
                 "CodeBuild writes each build's log stream, named at run time, in the project's own log group."),
        Wildcard(("codebuild:CreateReportGroup", "codebuild:CreateReport", "codebuild:UpdateReport",
                  "codebuild:BatchPutTestCases", "codebuild:BatchPutCodeCoverages"),
                 arn("codebuild", f"report-group/<{project}{{id}}>-*"),
                 "CodeBuild creates the project's test report groups, named <project>-<report>, at run time."),
    )


DESCRIBE_SERVING = (
    Wildcard(("sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"), sagemaker("endpoint-config/*"),
             "The endpoint stacks' endpoint configs get CloudFormation-generated names at deploy time; read-only."),
    Wildcard(("sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"), sagemaker("model/*"),
             "The endpoint stacks' models get CloudFormation-generated names at deploy time; read-only."),
    Wildcard(("sagemaker:DescribeModelPackage",), sagemaker("model-package/{name}/*"),
             "Package versions of this model's group are created at run time; read-only."),
)
BUILD_EXECUTIONS = ("sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps")
BUILD_EXECUTION_ARNS = sagemaker(f"pipeline/{build_pipeline_name('{name}')}/execution/*")
SERVING_IMAGE = Wildcard(
    ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
    "arn:{partition}:ecr:{region}:*:repository/sagemaker-xgboost",
    "The built-in XGBoost image lives in a regional AWS-owned account, hence the account wildcard; one repository.")
NO_RESOURCE_LEVEL = ("ecr:GetAuthorizationToken and cloudwatch:PutMetricData (limited by a namespace condition) "
                     "have no resource-level permissions.")


def deploy_role() -> tuple[Wildcard, ...]:
    """What CloudFormation needs, through a stage's deploy role, to create and replace its endpoint stack."""
    serving = ("sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel",
               "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig",
               "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags")
    return (
        Wildcard(("application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
                  "application-autoscaling:DescribeScalableTargets", "application-autoscaling:PutScalingPolicy",
                  "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:DescribeScalingPolicies",
                  "application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction",
                  "application-autoscaling:DescribeScheduledActions", "cloudwatch:GetMetricData"),
                 "*", "Application Auto Scaling actions and GetMetricData have no resource-level permissions (writes "
                 "are limited to SageMaker by the service-namespace condition)."),
        Wildcard(("application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                  "application-autoscaling:ListTagsForResource"), arn("application-autoscaling", "scalable-target/*"),
                 "Scalable targets get IDs generated by Application Auto Scaling."),
        Wildcard(("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"),
                 arn("cloudwatch", "alarm:TargetTracking-endpoint/{name}/*"),
                 "Target tracking names its alarms under the endpoint, with generated suffixes."),
        Wildcard(("kms:CreateGrant", "kms:DescribeKey"), arn("kms", "key/*"), "Cross-account: the tooling account's "
                 "model key is named there at deploy time; matched within that account (aws:ResourceAccount)."),
        Wildcard(serving, sagemaker("model/*"), "CloudFormation generates model names and replaces the models on "
                 "every deployment."),
        Wildcard(serving, sagemaker("endpoint-config/*"), "CloudFormation generates endpoint-config names and "
                 "replaces the config on every deployment."),
        Wildcard(("sagemaker:DescribeModelPackage",), sagemaker("model-package/{name}/*"),
                 "The deployed package version is chosen at run time from this model's group; read-only."),
        Wildcard(("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                  "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"),
                 arn("cloudwatch", "alarm:{name}-*"),
                 "The endpoint stack's alarms are named under its stack name, with generated suffixes."),
        Wildcard(("logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:DescribeIndexPolicies"), "*",
                 "The CloudFormation handlers of AWS::Logs::LogGroup call these Describe actions, which have no "
                 "resource-level permissions."),
        Wildcard(("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:TagResource",
                  "logs:UntagResource", "logs:ListTagsForResource", "logs:GetDataProtectionPolicy",
                  "logs:PutMetricFilter", "logs:DescribeMetricFilters", "logs:DeleteMetricFilter"),
                 arn("logs", "log-group:/aws/sagemaker/Endpoints/{name}:*"),
                 "The endpoint's own log group, whose ARN as IAM matches it ends in :* (its streams)."),
    )


SERVING_ROLE = (
    SERVING_IMAGE,
    Wildcard(("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"), "*", NO_RESOURCE_LEVEL),
    Wildcard(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
             arn("logs", "log-group:/aws/sagemaker/Endpoints/{name}:*"),
             "Log streams are created at run time under the endpoint's own log group."),
    Wildcard(("cloudwatch:DescribeAlarms",), arn("cloudwatch", "alarm:{name}-*"),
             "CloudFormation names the endpoint stack's rollback alarms at deploy time; describe only."),
    Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "Model artifacts under pipelines/."),
    Wildcard(("s3:PutObject",), f"{DATA}/capture/*", "Data capture writes under capture/."),
    # Cross-account: the tooling account's buckets and key are named there at deploy time; every statement is
    # matched within that account (aws:ResourceAccount) and its bucket and key policies name this role.
    Wildcard(("s3:GetObject",), "arn:{partition}:s3:::*/pipelines/*", "Cross-account model artifacts under "
             "pipelines/ of the tooling account's bucket (aws:ResourceAccount)."),
    Wildcard(("s3:PutObject",), "arn:{partition}:s3:::*/capture/*", "Cross-account data capture under capture/ of "
             "the tooling account's bucket (aws:ResourceAccount)."),
    Wildcard(("s3:ListBucket",), "arn:{partition}:s3:::*", "Cross-account: ListBucket on the tooling account's "
             "buckets, limited by prefix and aws:ResourceAccount."),
    Wildcard(("kms:Decrypt", "kms:GenerateDataKey"), arn("kms", "key/*"), "Cross-account: the tooling account's "
             "model key (aws:ResourceAccount)."),
)

ALLOWED: dict[str, tuple[Wildcard, ...]] = {
    # --- model build -------------------------------------------------------------------------------------------
    "BuildRole": (
        Wildcard(("sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                  "sagemaker:AddTags"), sagemaker("processing-job/{name}*"),
                 "SageMaker Pipelines names processing jobs <step prefix>-<generated suffix>."),
        Wildcard(("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                  "sagemaker:AddTags"), sagemaker("training-job/{name}*"),
                 "Training jobs are named <step prefix>-<generated suffix> (tuning: <tuning job>-NNN-<hash>)."),
        Wildcard(("sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
                  "sagemaker:StopHyperParameterTuningJob", "sagemaker:AddTags",
                  "sagemaker:ListTrainingJobsForHyperParameterTuningJob"),
                 sagemaker("hyper-parameter-tuning-job/{name}*"),
                 "Tuning jobs are named <step prefix>-<generated suffix>."),
        Wildcard(("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"),
                 sagemaker("model-package/{name}/*"),
                 "Package versions of this model's group are created at run time."),
        Wildcard(("sagemaker:ListModelPackages", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"), "*",
                 "ListModelPackages, " + NO_RESOURCE_LEVEL),
        Wildcard(("ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                  "ec2:DescribeSecurityGroups"), "*", "EC2 Describe* actions have no resource-level permissions (VPC "
                 "jobs only)."),
        Wildcard(("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                  "ec2:DeleteNetworkInterfacePermission"), arn("ec2", "network-interface/*"),
                 "Jobs in a VPC create their network interfaces at run time (subnets and groups are named)."),
        Wildcard(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                 arn("logs", "log-group:/aws/sagemaker/{name}:*"), "Job logs get per-job streams, in SageMaker's "
                 "fixed log groups."),
        Wildcard(("s3:GetObject", "s3:GetObjectVersion"), f"{DATA}/{{prefix}}*",
                 "Training and new data under the model's configured data prefixes."),
        Wildcard(("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"), f"{ARTIFACTS}/pipelines/*",
                 "Step outputs go under pipelines/<execution>/."),
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/code/{{name}}/*", "CI's code zips under code/<model>/<commit>/."),
    ),
    "BuildTriggersNewDataTriggerRole": (XRAY, FUNCTION_LOGS),
    "BuildTriggersNotifierRole": (
        XRAY, FUNCTION_LOGS,
        Wildcard(BUILD_EXECUTIONS, BUILD_EXECUTION_ARNS, "Execution IDs are generated by SageMaker; this model's "
                 "build pipeline only, read-only."),
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "Failed steps' reports under pipelines/<execution>/."),
    ),
    "BuildCIRunRole": (
        *codebuild_defaults("BuildCIRun"), *ARTIFACT_READ,
        Wildcard(("s3:PutObject",), f"{ARTIFACTS}/code/{{name}}/*", "CI uploads the code zip of each commit under "
                 "code/<model>/<commit>/."),
        Wildcard(BUILD_EXECUTIONS, BUILD_EXECUTION_ARNS, "Execution IDs are generated by SageMaker at start time; "
                 "this model's build pipeline only."),
    ),
    "BuildCITestRole": (*codebuild_defaults("BuildCITest"), *ARTIFACT_READ),
    "BuildCIPipelineRole": (*ARTIFACT_READ, *ARTIFACT_WRITE),
    "BuildCIPipelineSourceCodePipelineActionRole": (*ARTIFACT_READ, *ARTIFACT_WRITE, *PIPELINE_ACTION_SOURCE),
    # --- deployment --------------------------------------------------------------------------------------------
    "DeployPipelineRole": (*ARTIFACT_READ, *ARTIFACT_WRITE),
    "DeployPipelineSourceCodePipelineActionRole": (*ARTIFACT_READ, *ARTIFACT_WRITE, *PIPELINE_ACTION_SOURCE),
    "DeployPipelineApprove{Stage}CodePipelineActionRole": (
        Wildcard(("kms:GenerateDataKey*",), MODEL_KEY, "CDK's grant for the approval notification, encrypted with "
                 "the model key."),
    ),
    "DeployPipelineDeploy{Stage}DeployCodePipelineActionRole": (
        *ARTIFACT_READ,
        Wildcard(("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStack*",
                  "cloudformation:GetTemplate*", "cloudformation:GetStackPolicy", "cloudformation:SetStackPolicy",
                  "cloudformation:ValidateTemplate"), arn("cloudformation", "stack/{name}/*"),
                 "CDK's CloudFormation action grant on one endpoint stack, whose ID suffix CloudFormation generates."),
    ),
    "DeployResolveRole": (
        *codebuild_defaults("DeployResolve"), *ARTIFACT_READ, *ARTIFACT_WRITE,
        Wildcard(("sagemaker:ListModelPackages",), "*", "ListModelPackages has no resource-level permissions; the "
                 "project lists one group's approved packages."),
    ),
    "DeployIntegrationTestRole": (
        *codebuild_defaults("DeployIntegrationTest"), *ARTIFACT_READ,
        Wildcard(S3_READ, f"{ARTIFACTS}/pipelines/*", "Build outputs (baselines, known cases) under pipelines/."),
        Wildcard(("sagemaker:DescribeModelPackage",), sagemaker("model-package/{name}/*"),
                 "Package versions are created at run time; read-only, this model's group."),
    ),
    "DeployVerifyProdRole": (*codebuild_defaults("DeployVerifyProd"), *ARTIFACT_READ),
    "DeployVerifyProdProjectRole": (*codebuild_defaults("DeployVerifyProd"), *ARTIFACT_READ),
    "DeployPipelineServiceRole": (*ARTIFACT_READ, *ARTIFACT_WRITE),
    "DeployIntegrationTestProjectRole": (
        *codebuild_defaults("DeployIntegrationTest"), *ARTIFACT_READ,
        Wildcard(S3_READ, f"{ARTIFACTS}/pipelines/*", "Build outputs (baselines, known cases) under pipelines/."),
        Wildcard(("sagemaker:DescribeModelPackage",), sagemaker("model-package/{name}/*"),
                 "Package versions are created at run time; read-only, this model's group."),
    ),
    "Deploy{Stage}DeployRole": deploy_role(),
    "DeployRole": deploy_role(),  # the stage account's deploy role (cross-account)
    "DeployActionRole": (  # the stage account's CloudFormation action role (cross-account)
        Wildcard(("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks",
                  "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResources",
                  "cloudformation:GetTemplate", "cloudformation:GetStackPolicy", "cloudformation:SetStackPolicy"),
                 arn("cloudformation", "stack/{name}/*"), "CloudFormation appends a generated ID to the stack ARN."),
        Wildcard(("cloudformation:ValidateTemplate",), "*", "ValidateTemplate has no resource-level permissions."),
        Wildcard(("s3:GetObject", "s3:GetObjectVersion"), "arn:{partition}:s3:::*/{name}*/*", "The tooling "
                 "account's artifact bucket is named there at deploy time; matched within that account "
                 "(aws:ResourceAccount) and its bucket policy names this role."),
        Wildcard(("kms:Decrypt", "kms:DescribeKey"), arn("kms", "key/*"), "The tooling account's key is named there "
                 "at deploy time; matched within that account (aws:ResourceAccount) and its key policy names this "
                 "role."),
    ),
    "MonitorReadRole": DESCRIBE_SERVING,  # the stage account's read role for the tooling account's monitors
    "AuditReaderRole": DESCRIBE_SERVING[:2],  # the stage account's read role for the audit writer
    "DeployLifecycleFunctionRole": (
        XRAY, FUNCTION_LOGS,
        Wildcard(("sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"),
                 sagemaker("model-package/{name}/*"),
                 "Package versions are created at run time: this model's group only (updates further limited by the "
                 "package's current lifecycle stage)."),
        Wildcard(("sagemaker:ListModelPackages", "codepipeline:PutJobSuccessResult",
                  "codepipeline:PutJobFailureResult"), "*",
                 "ListModelPackages and CodePipeline's PutJob*Result have no resource-level permissions."),
    ),
    "DeployPipeline{Stage}Record{Stage}CodePipelineActionRole": (  # the lifecycle recorder's invoke actions
        Wildcard(("lambda:InvokeFunction",), "<{name}Function{id}.Arn>:*",
                 "CDK's Lambda invoke action: the lifecycle recorder function and its versions."),
        Wildcard(("lambda:ListFunctions",), "*", "lambda:ListFunctions has no resource-level permissions."),
    ),
    "DeployTriggerRole": (
        XRAY, FUNCTION_LOGS,
        Wildcard(KMS_CDK, MODEL_KEY, "CDK's DynamoDB grant on the idempotency table encrypted with the model key."),
    ),
    "{Stage}ServingRole": SERVING_ROLE,
    "ServingRole": SERVING_ROLE,  # the stage account's serving role (cross-account)
    "EndpointExecutionRole": (
        SERVING_IMAGE,
        Wildcard(("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"), "*", NO_RESOURCE_LEVEL),
        Wildcard(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                 arn("logs", "log-group:/aws/sagemaker/Endpoints/{name}:*"),
                 "Log streams are created at run time under the endpoint's own log group."),
        Wildcard(("s3:GetObject",), "arn:{partition}:s3:::{ref}/pipelines/*", "Model artifacts under pipelines/."),
        Wildcard(("s3:PutObject",), "arn:{partition}:s3:::{ref}/capture/*", "Data capture writes under capture/."),
    ),
    # --- monitoring --------------------------------------------------------------------------------------------
    "MonitoringDriftDetectorRole": (
        XRAY, FUNCTION_LOGS, *DESCRIBE_SERVING,
        Wildcard(("s3:GetObject",), f"{DATA}/capture/{{name}}/*", "Data capture of this endpoint only."),
        Wildcard(("s3:PutObject",), f"{DATA}/monitoring/{{name}}/*", "Reports of this endpoint only."),
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "The serving package's baseline under pipelines/."),
    ),
    "MonitoringQualityMonitorRole": (
        XRAY, FUNCTION_LOGS, *DESCRIBE_SERVING,
        Wildcard(("s3:GetObject",), f"{DATA}/capture/{{name}}/*", "Data capture of this endpoint only."),
        Wildcard(("s3:GetObject",), f"{DATA}/ground-truth/{{name}}/*", "Ground-truth labels of this model only."),
        Wildcard(("s3:PutObject",), f"{DATA}/monitoring/{{name}}/*", "Reports of this endpoint only."),
    ),
    "MonitoringRetrainFunctionRole": (XRAY, FUNCTION_LOGS),
    "{scope}DriftFanOutCountRole": (
        XRAY, FUNCTION_LOGS,
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "The serving package's baseline under pipelines/."),
        Wildcard(("s3:GetObject",), f"{DATA}/capture/{{name}}/*", "Data capture of this endpoint only."),
        Wildcard(("s3:GetObject",), f"{DATA}/monitoring/{{name}}/drift-fanout/*",
                 "The hour's batch plan, written under the fan-out prefix at run time."),
    ),
    "{scope}DriftFanOutReduceRole": (
        XRAY, FUNCTION_LOGS,
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "The serving package's baseline under pipelines/."),
        Wildcard(("s3:GetObject",), f"{DATA}/monitoring/{{name}}/drift-fanout/*",
                 "The map's result files, named by Step Functions per map run."),
        Wildcard(("s3:PutObject",), f"{DATA}/monitoring/{{name}}/*", "Reports of this endpoint only."),
    ),
    "{scope}DriftFanOutStateMachineRole": (
        Wildcard(("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                  "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                  "logs:DescribeLogGroups", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
                  "xray:GetSamplingRules", "xray:GetSamplingTargets"), "*",
                 "Step Functions log delivery and X-Ray actions have no resource-level permissions (CDK's grant)."),
        Wildcard(("lambda:InvokeFunction",), "<{name}Function{id}.Arn>:*",
                 "The map's Lambda tasks may invoke the count and reduce functions' versions."),
        Wildcard(("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
                 "arn:{partition}:s3:::<CoreDataBucket{id}>/*", "CDK's ItemReader and ResultWriter grant: the batches "
                 "file and result files, keyed per hour and by Step Functions per map run."),
        Wildcard(("states:DescribeExecution", "states:StopExecution"), arn("states", "execution:{sfn}:*"),
                 "The Distributed Map describes and stops its own child executions, named at run time."),
        Wildcard(("states:RedriveExecution",), arn("states", "execution:{sfn}/DriftCounts:*"),
                 "The Distributed Map redrives its own map run's child executions, named at run time."),
    ),
    # --- batch scoring -----------------------------------------------------------------------------------------
    "BatchScoringModelRole": (
        SERVING_IMAGE,
        Wildcard(("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"), "*", NO_RESOURCE_LEVEL),
        Wildcard(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                 arn("logs", "log-group:/aws/sagemaker/TransformJobs:*"), "Transform jobs get per-job log streams."),
        Wildcard(("s3:GetObject",), f"{ARTIFACTS}/pipelines/*", "Model artifacts under pipelines/."),
        Wildcard(("s3:GetObject",), f"{DATA}/{{prefix}}*", "Scoring input under the configured scoring prefix."),
        Wildcard(("s3:PutObject",), f"{DATA}/{{prefix}}*", "Scores under the configured output prefix."),
    ),
    "BatchScoringStateMachineRole": (
        Wildcard(("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                  "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                  "logs:DescribeLogGroups"), "*",
                 "Step Functions log delivery actions have no resource-level permissions (CDK's grant)."),
        Wildcard(("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                  "xray:GetSamplingTargets"), "*", "X-Ray tracing of the state machine has no resource-level "
                 "permissions."),
        Wildcard(("sagemaker:ListModelPackages",), "*", "ListModelPackages has no resource-level permissions; the "
                 "state machine lists one group's approved packages."),
        Wildcard(("sagemaker:DescribeModelPackage",), sagemaker("model-package/{name}/*"),
                 "The latest approved version is chosen at run time; read-only, this model's group."),
        Wildcard(("sagemaker:createModel", "sagemaker:deleteModel", "sagemaker:AddTags"), sagemaker("model/{name}-*"),
                 "Each run creates and deletes a model named <model>-<execution>."),
        Wildcard(("sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
                  "sagemaker:AddTags"), sagemaker("transform-job/{name}-*"),
                 "Each run starts a transform job named <model>-<execution>."),
    ),
    # --- governance --------------------------------------------------------------------------------------------
    "AuditWriterRole": (
        XRAY, FUNCTION_LOGS, *DESCRIBE_SERVING,
        Wildcard(("sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineParametersForExecution"),
                 BUILD_EXECUTION_ARNS, "Execution IDs are generated by SageMaker; audited build pipelines only."),
        Wildcard(KMS_CDK, "<AuditKey{id}.Arn>", "CDK's DynamoDB grant on the audit table encrypted with the audit "
                 "key (that key only)."),
    ),
}
