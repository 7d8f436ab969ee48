"""Container-image Lambda functions built from ``functions/<function>/`` with the runtime code it imports."""
from __future__ import annotations

import functools
from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs._private.dependencies import depend_on_policy_only
from mlops_constructs._private.nag import acknowledge
from pipeline_code.code_bundle import import_closure

REPO_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def image_files(function: str) -> tuple[str, ...]:
    """Repository paths in the image of ``function``: its folder's files and, transitively, the repository
    modules its handler imports (``pipeline_code.code_bundle.import_closure``), with their packages' ``__init__``.

    Cached: the closure parses every module it reaches (about 40 ms), and one synth builds the same function's
    image for every model (the drift detector three times per model)."""
    folder = REPO_ROOT / "functions" / function
    handler = import_closure(REPO_ROOT, [folder / "handler.py"])
    own = [p for p in folder.iterdir() if p.is_file() and not p.name.endswith((".pyc", ".pyo"))]
    return tuple(sorted({p.relative_to(REPO_ROOT).as_posix() for p in [*handler, *own]}))


def _context_allowlist(function: str) -> list[str]:
    """Docker-ignore patterns: the build context is the repo root narrowed to exactly what this image holds, so
    a change to a module the function does not import rebuilds nothing."""
    return ["*", "!functions/Dockerfile", *(f"!{path}" for path in image_files(function))]


class PlatformFunction(Construct):
    """A Lambda function from ``functions/<function>/handler.py``, packaged as a container image.

    Images are built at deploy time by cdk-assets, so synth stays offline; numpy and Powertools are pinned in
    the function's ``requirements.txt``. The function gets its own role (basic execution via an inline,
    log-group-scoped policy; the function waits for that policy, not redundantly for the role), an encrypted log
    group with retention, X-Ray tracing, bounded async retries and
    an encrypted dead-letter queue for events that still fail.

    Props:
        function: folder name under ``functions/`` (required).
        description: function description (required).
        key: KMS key for environment variables and logs (required).
        environment: environment variables; default none.
        timeout: default 60 seconds.
        memory_size: default 512 MB.
        log_retention: default one year.
        retry_attempts: async retries; default 2.
        reserved_concurrency: default none (unreserved: reserving fails in accounts at the default quota).
        role_name: the role's name; default a CloudFormation-generated one. Name it when another account
            must trust exactly this role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: str,
        description: str,
        key: kms.IKey,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 512,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        retry_attempts: int = 2,
        reserved_concurrency: int | None = None,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        source = REPO_ROOT / "functions" / function
        if not (source / "handler.py").is_file() or not (source / "requirements.txt").is_file():
            raise ValueError(f"PlatformFunction {construct_id}: {source} needs handler.py and requirements.txt")
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=key, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {function} Lambda function",
            role_name=role_name,
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,  # holds the events that failed: evidence to replay, not cache
        )
        acknowledge(
            self.dead_letter_queue,
            "This queue is itself the dead-letter queue of the function's failed asynchronous events.",
            "AwsSolutions-SQS3",
        )
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file="functions/Dockerfile",
                build_args={"FUNCTION": function},
                exclude=_context_allowlist(function),
                ignore_mode=IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            description=description,
            role=self.role,
            environment={"POWERTOOLS_SERVICE_NAME": function, **(environment or {})},
            environment_encryption=key,
            timeout=timeout or Duration.seconds(60),
            memory_size=memory_size,
            architecture=lambda_.Architecture.X86_64,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            retry_attempts=retry_attempts,
            dead_letter_queue=self.dead_letter_queue,
            reserved_concurrent_executions=reserved_concurrency,
        )
        key.grant_decrypt(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
            )
        )
        acknowledge(
            self.role,
            "The function's policy is inline so that it belongs to this role alone; a managed policy could be "
            "attached to other principals and widen access.",
            "NIST.800.53.R5-IAMNoInlinePolicy",
        )
        acknowledge(
            self.function,
            "The platform config has no VPC for Lambdas; the function only calls AWS APIs over TLS.",
            "NIST.800.53.R5-LambdaInsideVPC",
        )
        if reserved_concurrency is None:
            acknowledge(
                self.function,
                "Reserved concurrency fails to deploy in accounts at the default concurrency quota; the function "
                "is driven by schedules and EventBridge rules, which bound its concurrency.",
                "NIST.800.53.R5-LambdaConcurrency",
            )
        depend_on_policy_only(self.function, self.role)
