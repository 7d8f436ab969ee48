"""The CD pipeline's lifecycle recorder: moves model packages through SageMaker's ModelLifeCycle stages."""
from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

import mlops_contracts as contracts
from governance_code.model_lifecycle import TRANSITIONS
from mlops_constructs._private.platform_function import PlatformFunction


class LifecycleRecorder(Construct):
    """A Lambda (``functions/lifecycle_recorder``) that CodePipeline invokes to record lifecycle transitions.

    Least privilege: ``sagemaker:UpdateModelPackage`` on this group's packages only, and only while a package's
    current stage is absent or one this platform sets (``sagemaker:CurrentModelLifeCycleStage``, a resource
    condition key of ``model-package``); Describe on the group's packages; ListModelPackages (no resource-level
    permissions). The handler sends ``ModelLifeCycle`` alone, never an approval status.

    Props:
        model_package_group_name: the registry group whose packages move (required).
        pipeline_name: the CD pipeline, named in each StageDescription (required).
        key: the model's KMS key for the function's logs, environment and dead letters (required).
    """

    def __init__(self, scope: Construct, construct_id: str, *, model_package_group_name: str, pipeline_name: str,
                 key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function = PlatformFunction(
            self, "Function", function="lifecycle_recorder", key=key, timeout=Duration.seconds(60),
            memory_size=256, description=f"Records registry lifecycle transitions for {pipeline_name}",
            environment={contracts.ENV_MODEL_PACKAGE_GROUP: model_package_group_name,
                         contracts.ENV_PIPELINE_NAME: pipeline_name})
        packages = stack.format_arn(service="sagemaker", resource="model-package",
                                    resource_name=f"{model_package_group_name}/*")
        role = self.function.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="MoveLifecycleStage", actions=["sagemaker:UpdateModelPackage"], resources=[packages],
            conditions={"StringEqualsIfExists": {
                "sagemaker:CurrentModelLifeCycleStage": list(contracts.LIFECYCLE_STAGES)}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadPackages", actions=["sagemaker:DescribeModelPackage"], resources=[packages]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ListPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]))
        # Its wildcards (this group's package versions, ListModelPackages and PutJob*Result on "*") are
        # acknowledged from mlops_constructs/_private/wildcard_allowlist.py.

    def action(self, action_name: str, transition: str, *, package: str, serving: str = "",
               run_order: int = 1) -> actions.LambdaInvokeAction:
        """A pipeline action making ``transition`` for ``package`` (a pipeline variable reference); ``serving``
        lists the packages prod serves after the deployment (``prod-running``); default the package alone."""
        if transition not in TRANSITIONS:
            raise ValueError(f"LifecycleRecorder {self.node.id}: transition {transition!r} is not one of "
                             f"{list(TRANSITIONS)}")
        parameters = {"transition": transition, "package": package, "execution": "#{codepipeline.PipelineExecutionId}"}
        if serving:
            parameters["serving"] = serving
        return actions.LambdaInvokeAction(action_name=action_name, lambda_=self.function.function,
                                          user_parameters=parameters, run_order=run_order)
