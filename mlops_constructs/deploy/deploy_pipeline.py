"""Approval-driven CD of one model: registry approval -> staging -> integration test -> manual approval -> prod."""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnCapabilities, Duration, Stack, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

import mlops_contracts as contracts
from mlops_constructs._private.codebuild import pipeline_project
from mlops_constructs._private.dependencies import depend_on_policy_only
from mlops_constructs._private.grants import acknowledge_pipeline_grants
from mlops_constructs._private.idempotency_table import idempotency_table
from mlops_constructs._private.platform_function import PlatformFunction
from mlops_constructs._private.rule_targets import TopicTarget
from mlops_constructs._private.source import code_source
from mlops_constructs.deploy.endpoint_access import add_endpoint_deploy_policy, role_arn
from mlops_constructs.govern.model_lifecycle import LifecycleRecorder
from mlops_contracts import (
    ENDPOINT_OUTPUT_CONFIG,
    ENDPOINT_OUTPUT_PACKAGES,
    deploy_action_role_name,
    deploy_check_role_name,
    deploy_role_name,
    integration_test_role_name,
    pipeline_role_name,
    serving_role_name,
    test_project_role_name,
    verify_project_role_name,
)

RESOLVE_BUILDSPEC = "buildspecs/deploy-resolve.yml"
TEST_BUILDSPEC = "buildspecs/deploy-test.yml"
VERIFY_BUILDSPEC = "buildspecs/deploy-verify.yml"
RESOLVE_NAMESPACE = "Resolve"
# The package the Resolve action picked: deploy-resolve.yml exports it (exported-variables) under this name.
RESOLVED_PACKAGE = f"#{{{RESOLVE_NAMESPACE}.{contracts.ENV_MODEL_PACKAGE_ARN}}}"
PACKAGE_VARIABLE = contracts.DEPLOY_PACKAGE_VARIABLE  # set by the trigger; "latest" = newest approved
IDEMPOTENCY_WINDOW = Duration.days(7)

@dataclass(frozen=True)
class DeployTarget:
    """One stage's endpoint stack: ``stage`` name, CloudFormation ``stack_name``, ``endpoint_name``, and the
    ``account``/``region`` it lives in (none = the pipeline's own)."""

    stage: str
    stack_name: str
    endpoint_name: str
    account: str | None = None
    region: str | None = None


class ModelDeployPipeline(Construct):
    """A CodePipeline V2 that deploys a model's endpoint stacks when a package is approved in the registry.

    Stages: Source (the platform repository) -> Resolve (CodeBuild: pick the package, synthesize the endpoint
    templates and per-stage parameter files) -> DeployStaging (CloudFormation) -> IntegrationTest (CodeBuild:
    ``mlops endpoint-test``) -> Approve (manual, notified through the model's topic) -> DeployProd
    (CloudFormation) -> VerifyProd (CodeBuild: ``mlops endpoint-check``: prod must run the endpoint config this
    deployment created, so a silent blue/green rollback fails the pipeline). An EventBridge rule sends approvals to
    an idempotent Lambda that starts the pipeline once per package; a second rule notifies rejections and deploys
    nothing; a third sends failed executions to the model's topic.

    Props:
        model_name: model name; names the projects and the pipeline ``<model>-deploy`` (required).
        model_package_group_name: the registry group whose approvals deploy (required).
        staging: the staging target (required).
        prod: the prod target (required).
        source_connection_arn: CodeStar/CodeConnections connection of the platform repository; default none
            (the repository zip in ``artifact_bucket``, ``ci/<model>/source.zip``, is the source).
        source_repository: ``owner/name`` of the repository (required with ``source_connection_arn``).
        source_branch: branch that deploys (with ``source_connection_arn``); default ``main``.
        artifact_bucket: model artifacts and, for an S3 source, the repository zip (required).
        stage_image_repositories: custom serving-image repositories whose policy the Resolve step checks for
            stages in other accounts (``ecr:GetRepositoryPolicy``); default none.
        artifact_store: the pipeline's artifact store; default ``artifact_bucket``. Stages in other accounts
            read the artifact store whole (CodePipeline's cross-account deploy actions), so give them a store
            of their own that holds pipeline artifacts only.
        data_bucket: the model's data bucket, passed to the endpoint stacks for capture (required).
        key: the model's KMS key (required).
        topic: the model's SNS topic: approval requests, rejections, failures (required).
        config_dir: config directory inside the repository; default ``config``.
        build_image: CodeBuild image; default ``LinuxBuildImage.STANDARD_7_0``.
        log_retention: CodeBuild log retention; default one year.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        model_package_group_name: str,
        staging: DeployTarget,
        prod: DeployTarget,
        artifact_bucket: s3.IBucket,
        data_bucket: s3.IBucket,
        key: kms.IKey,
        topic: sns.ITopic,
        source_connection_arn: str | None = None,
        source_repository: str | None = None,
        source_branch: str = "main",
        artifact_store: s3.IBucket | None = None,
        stage_image_repositories: list[ecr.IRepository] | None = None,
        config_dir: str = "config",
        build_image: codebuild.IBuildImage | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        if staging.stage == prod.stage or staging.stack_name == prod.stack_name:
            raise ValueError(f"ModelDeployPipeline {construct_id}: staging and prod must be different stages and "
                             f"stacks; got {staging.stage}/{staging.stack_name} twice")
        stack = Stack.of(self)
        if any(t.account for t in (staging, prod)) and Token.is_unresolved(stack.region):
            raise ValueError(f"ModelDeployPipeline {construct_id}: stages in other accounts "
                             f"({[t.account for t in (staging, prod) if t.account]}) need the pipeline's stack to "
                             "have an explicit region (CodePipeline cross-account actions); pin the model stack "
                             "to the tooling account and region (platform.tooling)")
        self._key, self._retention = key, log_retention
        self._image = build_image or codebuild.LinuxBuildImage.STANDARD_7_0
        self.pipeline_name = contracts.deploy_pipeline_name(model_name)
        package_arns = stack.format_arn(service="sagemaker", resource="model-package",
                                        resource_name=f"{model_package_group_name}/*")
        self.source = code_source(connection_arn=source_connection_arn, repository=source_repository,
                                  branch=source_branch, bucket=artifact_bucket,
                                  object_key=contracts.source_object_key(model_name))
        resolved = codepipeline.Artifact("Resolved")

        resolve_project_name = contracts.deploy_project_name(model_name, "resolve")
        self.resolve_project = self._project("Resolve", resolve_project_name, RESOLVE_BUILDSPEC, {
            contracts.ENV_MODEL_NAME: model_name, contracts.ENV_CONFIG_DIR: config_dir,
            contracts.ENV_DATA_BUCKET: data_bucket.bucket_name,
            contracts.ENV_ARTIFACT_BUCKET: artifact_bucket.bucket_name, contracts.ENV_KEY_ARN: key.key_arn,
            contracts.ENV_TOPIC_ARN: topic.topic_arn,
            contracts.ENV_STACKS: f"{staging.stack_name} {prod.stack_name}"})
        self.resolve_project.add_to_role_policy(iam.PolicyStatement(
            sid="ListApprovedPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]))
        if stage_image_repositories:
            self.resolve_project.add_to_role_policy(iam.PolicyStatement(
                sid="CheckStageImageAccess", actions=["ecr:GetRepositoryPolicy"],
                resources=[repository.repository_arn for repository in stage_image_repositories]))

        test_variables = {contracts.ENV_MODEL_NAME: model_name, contracts.ENV_CONFIG_DIR: config_dir,
                          contracts.ENV_STAGE: staging.stage}
        if staging.account:
            test_role = role_arn(stack, integration_test_role_name(staging.endpoint_name), staging.account)
            test_variables[contracts.ENV_TEST_ROLE_ARN] = test_role
        # The staging account trusts exactly this role, by name.
        test_project_name = contracts.deploy_project_name(model_name, "test")
        self.test_project = self._project("IntegrationTest", test_project_name, TEST_BUILDSPEC, test_variables,
                                          role_name=test_project_role_name(model_name) if staging.account else None,
                                          role_description=f"{test_project_name} tests the staging endpoint")
        if staging.account:
            self.test_project.add_to_role_policy(iam.PolicyStatement(
                sid="AssumeStagingTestRole", actions=["sts:AssumeRole"], resources=[test_role]))
        staging_endpoint = self._endpoint_arn(staging)
        self.test_project.add_to_role_policy(iam.PolicyStatement(
            sid="TestStagingEndpoint", actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
            resources=[staging_endpoint]))
        self.test_project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadPackageBaseline", actions=["sagemaker:DescribeModelPackage"], resources=[package_arns]))
        artifact_bucket.grant_read(self.test_project, f"{contracts.ARTIFACT_PREFIX}/*")

        self.verify_project = self._verify_project(model_name, config_dir, prod)
        staging_action = self._deploy_action(staging, resolved, package_arns, key)
        self.lifecycle = LifecycleRecorder(self, "Lifecycle", model_package_group_name=model_package_group_name,
                                           pipeline_name=self.pipeline_name, key=key)
        # Stage accounts trust the pipeline's role by name to assume their deploy-action roles.
        pipeline_role = iam.Role(
            self, "PipelineServiceRole", role_name=pipeline_role_name(model_name),
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
            description=f"{self.pipeline_name}: CodePipeline service role") if any(
            t.account for t in (staging, prod)) else None
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            role=pipeline_role,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=artifact_store or artifact_bucket,
            cross_account_keys=False,
            restart_execution_on_update=False,
            variables=[codepipeline.Variable(variable_name=PACKAGE_VARIABLE, default_value="latest",
                                             description="Approved model package ARN to deploy")],
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[self.source.action]),
                codepipeline.StageProps(stage_name="Resolve", actions=[actions.CodeBuildAction(
                    action_name="ResolveAndSynth", project=self.resolve_project, input=self.source.output,
                    outputs=[resolved], variables_namespace=RESOLVE_NAMESPACE,
                    environment_variables={contracts.ENV_MODEL_PACKAGE_ARN: codebuild.BuildEnvironmentVariable(
                        value=f"#{{variables.{PACKAGE_VARIABLE}}}")})]),
                codepipeline.StageProps(stage_name="DeployStaging", actions=[staging_action]),
                codepipeline.StageProps(stage_name="IntegrationTest", actions=[actions.CodeBuildAction(
                    action_name="EndpointTest", project=self.test_project, input=self.source.output,
                    environment_variables={
                        contracts.ENV_EXPECTED_CONFIG: codebuild.BuildEnvironmentVariable(
                            value=f"#{{{_namespace(staging)}.{ENDPOINT_OUTPUT_CONFIG}}}"),
                        contracts.ENV_MODEL_PACKAGE_ARN: codebuild.BuildEnvironmentVariable(
                            value=RESOLVED_PACKAGE)}),
                    self.lifecycle.action("RecordStagingPassed", "staging-passed",
                                          package=RESOLVED_PACKAGE, run_order=2)]),
                codepipeline.StageProps(stage_name="Approve", actions=[actions.ManualApprovalAction(
                    action_name="PromoteToProd", notification_topic=topic,
                    additional_information=f"{RESOLVED_PACKAGE} passed the integration tests on "
                                           f"{staging.endpoint_name}. Approve to deploy it to {prod.endpoint_name}.",
                    )]),
                codepipeline.StageProps(stage_name="DeployProd", actions=[
                    self._deploy_action(prod, resolved, package_arns, key)]),
                codepipeline.StageProps(stage_name="VerifyProd", actions=[actions.CodeBuildAction(
                    action_name="EndpointCheck", project=self.verify_project, input=self.source.output,
                    environment_variables={contracts.ENV_EXPECTED_CONFIG: codebuild.BuildEnvironmentVariable(
                        value=f"#{{{_namespace(prod)}.{ENDPOINT_OUTPUT_CONFIG}}}")}),
                    # Production/Running only once prod is verified (a silent rollback fails EndpointCheck).
                    self.lifecycle.action("RecordProdRunning", "prod-running", package=RESOLVED_PACKAGE,
                                          serving=f"#{{{_namespace(prod)}.{ENDPOINT_OUTPUT_PACKAGES}}}",
                                          run_order=2)]),
            ],
        )
        self.failed_rule = self.pipeline.on_state_change(
            "Failed", description=f"Failed executions of {self.pipeline_name} (a rollback included) notify the topic",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=TopicTarget(topic, message=events.RuleTargetInput.from_text(
                f"{self.pipeline_name} execution {events.EventField.from_path('$.detail.execution-id')} failed; "
                "see the pipeline's failed action (a VerifyProd failure means prod rolled back).")))
        self._trigger(model_package_group_name, topic, key)
        depend_on_policy_only(self.pipeline, self.pipeline.role)
        self._acknowledge_generated_policies()

    # CodeBuild

    def _verify_project(self, model_name: str, config_dir: str, prod: DeployTarget) -> codebuild.PipelineProject:
        """Describes the prod endpoint after its deployment: it must run the config the stack just deployed.

        No traffic is sent: known-case requests would land in prod's data capture and in its drift statistics.
        """
        variables = {contracts.ENV_MODEL_NAME: model_name, contracts.ENV_CONFIG_DIR: config_dir,
                     contracts.ENV_STAGE: prod.stage}
        stack = Stack.of(self)
        if prod.account:
            check_role = role_arn(stack, deploy_check_role_name(prod.endpoint_name), prod.account)
            variables[contracts.ENV_CHECK_ROLE_ARN] = check_role
        # The prod account trusts exactly this role, by name.
        project_name = contracts.deploy_project_name(model_name, "verify")
        project = self._project("VerifyProd", project_name, VERIFY_BUILDSPEC, variables,
                                role_name=verify_project_role_name(model_name) if prod.account else None,
                                role_description=f"{project_name} checks the prod endpoint")
        if prod.account:
            project.add_to_role_policy(iam.PolicyStatement(
                sid="AssumeProdCheckRole", actions=["sts:AssumeRole"], resources=[check_role]))
        else:
            project.add_to_role_policy(iam.PolicyStatement(
                sid="DescribeProdEndpoint", actions=["sagemaker:DescribeEndpoint"],
                resources=[self._endpoint_arn(prod)]))
        return project

    def _project(self, construct_id: str, name: str, buildspec: str, variables: dict[str, str], *,
                 role_name: str | None = None, role_description: str | None = None) -> codebuild.PipelineProject:
        """A SMALL project with a 60-minute timeout (``pipeline_project``'s defaults)."""
        return pipeline_project(self, construct_id, project_name=name, buildspec=buildspec, key=self._key,
                                variables=variables, build_image=self._image, log_retention=self._retention,
                                role_name=role_name, role_description=role_description)

    # CloudFormation

    def _endpoint_arn(self, target: DeployTarget) -> str:
        stack = Stack.of(self)
        return stack.format_arn(service="sagemaker", resource="endpoint", resource_name=target.endpoint_name,
                                account=target.account or stack.account, region=target.region or stack.region)

    def _deploy_action(self, target: DeployTarget, resolved: codepipeline.Artifact, package_arns: str,
                       key: kms.IKey) -> actions.CloudFormationCreateUpdateStackAction:
        common = {
            "action_name": "Deploy", "stack_name": target.stack_name,
            "template_path": resolved.at_path(f"{target.stack_name}.template.json"),
            "template_configuration": resolved.at_path(f"{target.stage}.json"),
            "admin_permissions": False, "replace_on_failure": False,
            "cfn_capabilities": [CfnCapabilities.NAMED_IAM], "variables_namespace": _namespace(target),
        }
        if target.account:
            # Cross-account: the roles of the stage's access stack (stacks/stage_access_stack.py), which trust
            # this pipeline's role and deploy with the same least privilege as a same-account deploy role.
            stack, stage = Stack.of(self), target.stage.capitalize()
            role = iam.Role.from_role_arn(
                self, f"{stage}ActionRole", role_arn(stack, deploy_action_role_name(target.endpoint_name),
                                                     target.account), mutable=False)
            deployment_role = iam.Role.from_role_arn(
                self, f"{stage}DeploymentRole", role_arn(stack, deploy_role_name(target.endpoint_name),
                                                         target.account), mutable=False)
            return actions.CloudFormationCreateUpdateStackAction(
                **common, role=role, deployment_role=deployment_role, account=target.account, region=target.region)
        return actions.CloudFormationCreateUpdateStackAction(
            **common, deployment_role=self._deployment_role(target, package_arns, key))

    def _deployment_role(self, target: DeployTarget, package_arns: str, key: kms.IKey) -> iam.Role:
        """What CloudFormation needs to create one endpoint stack in this account, and no more."""
        stack = Stack.of(self)
        role = iam.Role(self, f"{target.stage.capitalize()}DeployRole",
                        assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
                        description=f"CloudFormation deploys {target.stack_name}")
        add_endpoint_deploy_policy(
            role, endpoint_name=target.endpoint_name, endpoint_stack_name=target.stack_name,
            serving_role_arn=role_arn(stack, serving_role_name(target.endpoint_name)), package_arns=package_arns,
            key_arn=key.key_arn)
        return role

    # Trigger

    def _trigger(self, group: str, topic: sns.ITopic, key: kms.IKey) -> None:
        self.idempotency_table = idempotency_table(
            self, "Idempotency", key=key,
            no_backup_reason="The table only holds short-lived idempotency records (TTL "
                             f"{IDEMPOTENCY_WINDOW.to_days()} days) that guard against duplicate events; nothing "
                             "to restore.")
        self.trigger = PlatformFunction(
            self, "Trigger", function="deploy_trigger", key=key,
            description=f"Starts {self.pipeline_name} once per approved model package",
            environment={contracts.ENV_IDEMPOTENCY_TABLE: self.idempotency_table.table_name,
                         contracts.ENV_IDEMPOTENCY_SECONDS: str(int(IDEMPOTENCY_WINDOW.to_seconds())),
                         contracts.ENV_PIPELINE_NAME: self.pipeline_name, contracts.ENV_MODEL_PACKAGE_GROUP: group},
        )
        self.idempotency_table.grant_read_write_data(self.trigger.role)
        self.trigger.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["codepipeline:StartPipelineExecution"], resources=[self.pipeline.pipeline_arn]))
        detail_pattern = {"ModelPackageGroupName": [group]}
        self.approved_rule = events.Rule(
            self, "Approved", description=f"Approved packages of {group} start {self.pipeline_name}",
            event_pattern=events.EventPattern(
                source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_PACKAGE_STATE],
                detail={**detail_pattern, "ModelApprovalStatus": ["Approved"]}),
            targets=[targets.LambdaFunction(self.trigger.function, retry_attempts=4,
                                            dead_letter_queue=self.trigger.dead_letter_queue)],
        )
        self.rejected_rule = events.Rule(
            self, "Rejected", description=f"Rejected packages of {group} are announced, never deployed",
            event_pattern=events.EventPattern(
                source=[contracts.EVENT_SOURCE_SAGEMAKER], detail_type=[contracts.DETAIL_PACKAGE_STATE],
                detail={**detail_pattern, "ModelApprovalStatus": ["Rejected"]}),
            targets=[TopicTarget(topic, message=events.RuleTargetInput.from_text(
                f"Model package {events.EventField.from_path('$.detail.ModelPackageArn')} was rejected; "
                "it will not be deployed."))],
        )

    def _acknowledge_generated_policies(self) -> None:
        """CDK's inline policies; their wildcards are acknowledged from ``wildcard_allowlist``."""
        acknowledge_pipeline_grants(self.pipeline, (self.resolve_project, self.test_project, self.verify_project))



def _namespace(target: DeployTarget) -> str:
    """Variables namespace of a stage's deploy action: its stack outputs, e.g. #{DeployStaging.EndpointConfigName}."""
    return f"Deploy{target.stage.capitalize()}"
