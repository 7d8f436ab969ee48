"""CI for one model: on a code or config change, lint and test, then run the SageMaker build pipeline."""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs._private.codebuild import MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES, pipeline_project
from mlops_constructs._private.dependencies import depend_on_policy_only
from mlops_constructs._private.grants import acknowledge_cdk_artifact_grants, acknowledge_pipeline_grants
from mlops_constructs._private.source import code_source
from mlops_constructs._private.validation import validate_range
from mlops_constructs.build.code_areas import CodeArea
import mlops_contracts as contracts
from mlops_contracts import ci_project_name, code_prefix, source_object_key

TEST_BUILDSPEC = "buildspecs/ci-test.yml"
RUN_BUILDSPEC = "buildspecs/ci-run.yml"
REPORT_KEY = "pytest"  # the report group key in ci-test.yml


class ModelBuildCI(Construct):
    """CodePipeline (V2): Source -> Test (lint, tests, JUnit report) -> Run (start the SageMaker pipeline, wait).

    The Run stage zips ``pipeline_code/`` of the commit reproducibly, uploads it (encrypted with ``key``) to
    ``code/<model>/<commit>/pipeline_code.zip`` in ``artifact_bucket`` (its only write access there) and starts
    the execution with that zip as ``CodeUrl`` and its hash as ``CodeSha256``.

    Props:
        model_name: the model; names the CodeBuild projects ``<model>-ci-test`` / ``<model>-ci-run`` (required).
        pipeline_name: SageMaker pipeline the Run stage starts (required).
        connection_arn: CodeStar/CodeConnections connection of the repository (GitHub or GitLab); default none
            (the S3 source ``ci/<model>/source.zip`` in ``artifact_bucket``).
        repository: ``owner/name`` of the repository; required with ``connection_arn``.
        branch: the branch CI builds (connection source); default ``"main"``.
        artifact_bucket: versioned, KMS-encrypted bucket for pipeline artifacts and the S3 source object
            ``ci/<model>/source.zip``; must send events to EventBridge (required).
        key: KMS key for artifacts, build outputs and logs (required).
        code_areas: owner areas; with a connection, each becomes a push filter (file paths) on the branch;
            default none. Required when ``start_on_change`` and the source is a connection.
        start_on_change: start on a push (connection) or a new source object (S3); default ``True``.
        test_paths: pytest paths of the Test stage; default ``("tests",)``.
        build_image: CodeBuild image; default ``LinuxBuildImage.STANDARD_7_0``.
        log_retention: build log retention; default one year.
        run_timeout: how long the Run stage waits for the SageMaker pipeline; default 8 hours (CodeBuild's
            maximum for an action is 36 hours).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        pipeline_name: str,
        artifact_bucket: s3.IBucket,
        key: kms.IKey,
        connection_arn: str | None = None,
        repository: str | None = None,
        branch: str = "main",
        code_areas: Sequence[CodeArea] = (),
        start_on_change: bool = True,
        test_paths: Sequence[str] = ("tests",),
        build_image: codebuild.IBuildImage | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        run_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not test_paths:
            raise ValueError(f"ModelBuildCI {construct_id}: test_paths must name at least one pytest path")
        run_timeout = run_timeout or Duration.hours(8)
        validate_range(f"ModelBuildCI {construct_id}", "run_timeout", run_timeout.to_minutes(), MIN_TIMEOUT_MINUTES,
                       MAX_TIMEOUT_MINUTES, "minutes (CodeBuild's limits)")
        self._key, self._retention = key, log_retention
        self._image = build_image or codebuild.LinuxBuildImage.STANDARD_7_0
        stack = Stack.of(self)
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        object_key = source_object_key(model_name)
        self.source = code_source(connection_arn=connection_arn, repository=repository, branch=branch,
                                  bucket=artifact_bucket, object_key=object_key)
        if start_on_change and self.source.is_git and not code_areas:
            raise ValueError(f"ModelBuildCI {construct_id}: a connection source needs code_areas to filter pushes")

        self.report_group = codebuild.ReportGroup(
            self, "TestReports", report_group_name=f"{ci_project_name(model_name, 'test')}-{REPORT_KEY}",
            type=codebuild.ReportGroupType.TEST, removal_policy=RemovalPolicy.RETAIN,
        )
        self.test_project = self._project(
            "Test", ci_project_name(model_name, "test"), TEST_BUILDSPEC, Duration.minutes(60),
            # CDK synth tests run jsii (Node) beside Python: 2 vCPU / 3 GB is too tight.
            codebuild.ComputeType.MEDIUM,
            {contracts.ENV_MODEL_NAME: model_name, contracts.ENV_TEST_PATHS: " ".join(test_paths)},
        )
        self.report_group.grant_write(self.test_project)
        self.run_project = self._project(
            "Run", ci_project_name(model_name, "run"), RUN_BUILDSPEC, run_timeout, codebuild.ComputeType.SMALL,
            {contracts.ENV_MODEL_NAME: model_name, contracts.ENV_PIPELINE_NAME: pipeline_name,
             contracts.ENV_WAIT_MINUTES: str(int(run_timeout.to_minutes()) - 5),
             contracts.ENV_CODE_BUCKET: artifact_bucket.bucket_name, contracts.ENV_CODE_KMS_KEY: key.key_arn},
        )
        self._grant_code_upload(model_name, artifact_bucket, key)
        self.run_project.add_to_role_policy(iam.PolicyStatement(
            sid="StartModelBuildPipeline", actions=["sagemaker:StartPipelineExecution"], resources=[pipeline_arn]))
        executions = f"{pipeline_arn}/execution/*"
        self.run_project.add_to_role_policy(iam.PolicyStatement(
            sid="FollowModelBuildExecutions",
            actions=["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"],
            resources=[executions],
        ))

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=artifact_bucket,
            cross_account_keys=False,
            restart_execution_on_update=False,
            triggers=(self.source.push_triggers([area.push_filter for area in code_areas])
                      if start_on_change else None) or None,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[self.source.action]),
                codepipeline.StageProps(stage_name="Test", actions=[actions.CodeBuildAction(
                    action_name="LintAndTest", project=self.test_project, input=self.source.output)]),
                codepipeline.StageProps(stage_name="Run", actions=[actions.CodeBuildAction(
                    action_name="RunBuildPipeline", project=self.run_project, input=self.source.output,
                    environment_variables={contracts.ENV_GIT_COMMIT: codebuild.BuildEnvironmentVariable(
                        value=self.source.revision)})]),
            ],
        )
        if start_on_change:
            self.upload_rule = self.source.start_on_upload(self, self.pipeline, bucket=artifact_bucket,
                                                           object_key=object_key)
        self._acknowledge_generated_policies()
        depend_on_policy_only(self.pipeline, self.pipeline.role)

    def _grant_code_upload(self, model_name: str, bucket: s3.IBucket, key: kms.IKey) -> None:
        """The Run stage may write the commit's code zip under code/<model>/, encrypted with the model key only."""
        prefix = f"{code_prefix(model_name)}*"
        objects = bucket.arn_for_objects(prefix)
        self.run_project.add_to_role_policy(iam.PolicyStatement(
            sid="UploadCommitCode", actions=["s3:PutObject"], resources=[objects],
            conditions={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms",
                                         "s3:x-amz-server-side-encryption-aws-kms-key-id": key.key_arn}}))
        self.run_project.add_to_role_policy(iam.PolicyStatement(
            sid="EncryptCommitCode", actions=["kms:GenerateDataKey"], resources=[key.key_arn]))

    def _acknowledge_generated_policies(self) -> None:
        acknowledge_pipeline_grants(self.pipeline, (self.test_project, self.run_project))
        for role in [c for c in self.node.children if isinstance(c, iam.Role)]:
            acknowledge_cdk_artifact_grants(role)

    def _project(self, construct_id: str, name: str, buildspec: str, timeout: Duration,
                 compute_type: codebuild.ComputeType,
                 variables: dict[str, str]) -> codebuild.PipelineProject:
        return pipeline_project(self, construct_id, project_name=name, buildspec=buildspec, key=self._key,
                                variables=variables, build_image=self._image, compute_type=compute_type,
                                timeout=timeout, log_retention=self._retention)

