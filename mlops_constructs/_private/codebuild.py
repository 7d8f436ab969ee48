"""The CodeBuild project of the platform's pipelines: a buildspec from the repository, an encrypted log group."""
from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs._private.validation import validate_pattern, validate_range

# CodeBuild's limits on a project's timeout (TimeoutInMinutes).
MIN_TIMEOUT_MINUTES = 5
MAX_TIMEOUT_MINUTES = 2160
DEFAULT_TIMEOUT = Duration.minutes(60)
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,254}")


def pipeline_project(
    scope: Construct,
    construct_id: str,
    *,
    project_name: str,
    buildspec: str,
    key: kms.IKey,
    variables: Mapping[str, str] | None = None,
    build_image: codebuild.IBuildImage | None = None,
    compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL,
    timeout: Duration | None = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    role_name: str | None = None,
    role_description: str | None = None,
) -> codebuild.PipelineProject:
    """A CodePipeline-driven CodeBuild project that runs ``buildspec`` from the source artifact, unprivileged.

    Creates, in ``scope``: the role ``<construct_id>ProjectRole`` (only with ``role_name``), the log group
    ``<construct_id>Logs`` (encrypted with ``key``, retained on ``cdk destroy``) and the project ``<construct_id>``.
    These IDs are a contract: they fix the resources' logical IDs.

    Props:
        project_name: the project's name, also its description's subject (required).
        buildspec: the buildspec's path in the source artifact, e.g. ``buildspecs/ci-test.yml`` (required).
        key: KMS key for build outputs and logs (required).
        variables: plain-text environment variables; default none.
        build_image: default ``LinuxBuildImage.STANDARD_7_0``.
        compute_type: default ``ComputeType.SMALL``.
        timeout: default 60 minutes; CodeBuild allows 5-2160 minutes.
        log_retention: default one year.
        role_name: the role's name; default none (CDK creates an unnamed role inside the project). Name it when
            another account must trust exactly this role.
        role_description: the named role's description (unused without ``role_name``); default
            ``"<project_name> CodeBuild project"``.
    """
    owner = f"CodeBuild project {construct_id}"
    validate_pattern(owner, "project_name", project_name, PROJECT_NAME,
                     "2-255 letters, digits, '-' or '_', starting with a letter or digit")
    timeout = timeout or DEFAULT_TIMEOUT
    validate_range(owner, "timeout", timeout.to_minutes(), MIN_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES,
                   "minutes (CodeBuild's limits)")
    role = None
    if role_name is not None:
        role = iam.Role(scope, f"{construct_id}ProjectRole", role_name=role_name,
                        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                        description=role_description or f"{project_name} CodeBuild project")
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=log_retention, encryption_key=key,
                              removal_policy=RemovalPolicy.RETAIN)
    return codebuild.PipelineProject(
        scope,
        construct_id,
        project_name=project_name,
        description=f"{project_name}: runs {buildspec} from the repository",
        build_spec=codebuild.BuildSpec.from_source_filename(buildspec),
        environment=codebuild.BuildEnvironment(
            build_image=build_image or codebuild.LinuxBuildImage.STANDARD_7_0, compute_type=compute_type,
            privileged=False),
        environment_variables={k: codebuild.BuildEnvironmentVariable(value=v) for k, v in (variables or {}).items()},
        encryption_key=key,
        timeout=timeout,
        role=role,
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
    )
