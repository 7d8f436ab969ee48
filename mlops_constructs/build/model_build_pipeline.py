"""One model's SageMaker build pipeline: validate -> preprocess -> train/tune -> evaluate -> gates -> register."""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

import mlops_contracts as contracts
from mlops_config.model import INSTANCE_TYPE
from mlops_constructs._private.grants import default_policy
from mlops_constructs._private.nag import acknowledge
from mlops_constructs.build.sagemaker_pipeline.build_definition import BuildResources, DefinitionFactory, JobNames
from mlops_constructs.build.sagemaker_pipeline.images import account_image_uri, builtin_image_uri
from mlops_constructs.build.sagemaker_pipeline.step_images import DEFAULT_VERSION as DEFAULT_XGBOOST_VERSION
from mlops_constructs.build.sagemaker_pipeline.step_images import step_image
from mlops_contracts import CODE_ZIP_NAME, build_pipeline_name, code_prefix
from pipeline_code.code_bundle import CodeZip, build_code_zip

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_CODE_DIR = REPO_ROOT / "pipeline_code"
JOB_LOG_GROUPS = ("/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TrainingJobs")


class ModelBuildPipeline(Construct):
    """``AWS::SageMaker::Pipeline`` ``<model>-build`` with its own least-privilege execution role.

    Steps run ``pipeline_code.<step>`` from the zip at the ``CodeUrl`` parameter after checking it against
    ``CodeSha256``; both default to a byte-reproducible zip of ``pipeline_code/`` built at synth
    (``pipeline_code.code_bundle``) and shipped as an asset, and CI passes the zip of the commit it built under
    ``code/<model>/`` in ``artifact_bucket``. The job spec is a second asset. Jobs encrypt volumes and outputs with ``key``; training is network-isolated with
    inter-container encryption. Job names carry per-step prefixes (see ``JobNames``) and the role may only
    create jobs with those prefixes.

    Props:
        model_name: the model; names the pipeline ``<model>-build`` and prefixes its jobs (required).
        definition: the pipeline definition as a function of the resources this construct creates or is given
            (``BuildResources``): ``build_definition.definition_for(model, job_spec, config_hash)`` (required).
        job_spec: the job spec every step reads, from ``mlops_constructs.build.job_spec.job_spec(model)``; shipped
            as an asset (required).
        key: the model's KMS key for job volumes, outputs and buckets (required).
        data_bucket: bucket holding the training data (required).
        data_prefixes: the prefixes of ``data_bucket`` the jobs read (training data, new data) (required).
        artifact_bucket: bucket for step outputs under ``pipelines/`` and CI's code zips under ``code/<model>/``
            (required).
        model_package_group_name: registry group to register into (required).
        xgboost_version: the SageMaker XGBoost image version of the steps (and of built-in training); default
            ``step_images.DEFAULT_VERSION``.
        training_image_repository: ECR repository (in this account) of a custom training image; default none
            (built-in XGBoost). Given with ``training_image_tag``.
        training_image_tag: the custom image's immutable tag; default none.
        tuned: training is a hyperparameter tuning job (the role may create tuning jobs); default False.
        subnets: subnets the jobs run in; default none (AWS-managed networking). Given with ``security_groups``.
        security_groups: security groups of the jobs; default none. Given with ``subnets``.
        processing_instance_type: instance of the validate, preprocess and evaluate jobs; default ``ml.m5.xlarge``.

    Validate, preprocess and evaluate run in the SageMaker XGBoost image of ``xgboost_version`` (also
    for a custom training image), so every step runs in one image whose versions ``step_images.json`` records.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        definition: DefinitionFactory,
        job_spec: dict,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        data_prefixes: Sequence[str],
        artifact_bucket: s3.IBucket,
        model_package_group_name: str,
        xgboost_version: str = DEFAULT_XGBOOST_VERSION,
        training_image_repository: str | None = None,
        training_image_tag: str | None = None,
        tuned: bool = False,
        subnets: Sequence[ec2.ISubnet] = (),
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        processing_instance_type: str = "ml.m5.xlarge",
    ) -> None:
        super().__init__(scope, construct_id)
        if bool(subnets) != bool(security_groups):
            raise ValueError(f"ModelBuildPipeline {construct_id}: give both subnets and security_groups, or neither; "
                             f"got {len(subnets)} subnets and {len(security_groups)} security groups")
        if bool(training_image_repository) != bool(training_image_tag):
            raise ValueError(f"ModelBuildPipeline {construct_id}: give both training_image_repository and "
                             f"training_image_tag, or neither; got {training_image_repository!r}, "
                             f"{training_image_tag!r}")
        if not re.fullmatch(INSTANCE_TYPE, processing_instance_type):
            raise ValueError(f"ModelBuildPipeline {construct_id}: processing_instance_type "
                             f"{processing_instance_type!r} is not a SageMaker instance type like 'ml.m5.xlarge'")
        self.model_name = model_name
        self.pipeline_name = build_pipeline_name(model_name)
        self.job_names = JobNames(model_name)
        self._key, self._data_bucket, self._artifact_bucket = key, data_bucket, artifact_bucket
        self._data_prefixes, self._group, self._tuned = list(data_prefixes), model_package_group_name, tuned
        self._custom_repository = training_image_repository
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the SageMaker build pipeline {self.pipeline_name} and its jobs",
        )
        self.code_zip = _build_code_zip()
        self.code_asset = s3_assets.Asset(self, "Code", path=str(self.code_zip.path))
        self.spec_asset = s3_assets.Asset(self, "Spec", path=str(_write_spec(job_spec)))
        training_image = (account_image_uri(self, training_image_repository, training_image_tag)
                          if training_image_repository else builtin_image_uri(self, "xgboost", xgboost_version))
        xgboost_image = builtin_image_uri(self, "xgboost", xgboost_version)
        resources = BuildResources(
            role_arn=self.role.role_arn,
            kms_key_arn=key.key_arn, data_bucket_name=data_bucket.bucket_name,
            artifact_bucket_name=artifact_bucket.bucket_name, model_package_group_name=model_package_group_name,
            code_uri=self.code_asset.s3_object_url, code_sha256=self.code_zip.sha256,
            spec_uri=self.spec_asset.s3_object_url, spec_file_name=_basename(self.spec_asset.s3_object_key),
            processing_image=xgboost_image,
            training_image=training_image,
            evaluation_image=training_image if training_image_repository else xgboost_image,
            serving_image=training_image,
            step_image=step_image(xgboost_version),
            processing_instance_type=processing_instance_type,
            subnet_ids=tuple(s.subnet_id for s in subnets),
            security_group_ids=tuple(g.security_group_id for g in security_groups),
        )
        self.definition = definition(resources)
        self._grant(subnets, security_groups)
        self.pipeline = sagemaker.CfnPipeline(
            self, "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_description=f"Builds, evaluates, gates and registers model {model_name}",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": Stack.of(self).to_json_string(self.definition)},
        )
        self.pipeline.node.add_dependency(default_policy(self.role))  # policy before first run
        self.pipeline_arn = Stack.of(self).format_arn(service="sagemaker", resource="pipeline",
                                                      resource_name=self.pipeline_name)

    def _arn(self, resource: str, name: str, fmt: ArnFormat = ArnFormat.SLASH_RESOURCE_NAME) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource=resource, resource_name=name, arn_format=fmt)

    def _allow(self, actions: list[str], resources: list[str], conditions: dict | None = None) -> None:
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources,
                                                              conditions=conditions))

    def _grant(self, subnets: Sequence[ec2.ISubnet], security_groups: Sequence[ec2.ISecurityGroup]) -> None:
        """Least privilege: this model's jobs, buckets, key, registry group and log groups only."""
        stack, names = Stack.of(self), self.job_names
        processing = [self._arn("processing-job", f"{names.processing(s)}*")
                      for s in ("Validate", "Preprocess", "Evaluate")]
        self._allow(["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob",
                     "sagemaker:StopProcessingJob", "sagemaker:AddTags"], processing)
        training = [self._arn("training-job", f"{names.training}*")]
        if self._tuned:
            tuning = [self._arn("hyper-parameter-tuning-job", f"{names.tuning}*")]
            training = [self._arn("training-job", f"{names.tuning}*")]  # named <tuning job>-NNN-<hash>
            self._allow(["sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
                         "sagemaker:StopHyperParameterTuningJob", "sagemaker:AddTags",
                         "sagemaker:ListTrainingJobsForHyperParameterTuningJob"], tuning)
        self._allow(["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                     "sagemaker:AddTags"], training)
        packages = self._arn("model-package", f"{self._group}/*")
        group = self._arn("model-package-group", self._group)
        self._allow(["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                    [packages, group])
        self._allow(["sagemaker:DescribeModelPackageGroup"], [group])
        self._allow(["sagemaker:ListModelPackages"], ["*"])
        self._allow(["iam:PassRole"], [self.role.role_arn],
                    {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
        self._grant_storage()
        log_groups = [stack.format_arn(service="logs", resource="log-group", resource_name=f"{g}:*",
                                       arn_format=ArnFormat.COLON_RESOURCE_NAME) for g in JOB_LOG_GROUPS]
        self._allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    log_groups)
        self._allow(["cloudwatch:PutMetricData"], ["*"], {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}})
        if self._custom_repository:
            repository = stack.format_arn(service="ecr", resource="repository", resource_name=self._custom_repository)
            self._allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                        [repository])
            self._allow(["ecr:GetAuthorizationToken"], ["*"])
        if subnets:
            self._grant_vpc(subnets, security_groups)
        self._acknowledge()

    def _grant_storage(self) -> None:
        data, artifacts = self._data_bucket, self._artifact_bucket
        data_prefixes = self._data_prefixes
        self._allow(["s3:GetObject", "s3:GetObjectVersion"], [data.arn_for_objects(f"{p}*") for p in data_prefixes])
        self._allow(["s3:ListBucket"], [data.bucket_arn], {"StringLike": {"s3:prefix": [f"{p}*" for p in data_prefixes]}})
        self._allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], [artifacts.arn_for_objects(f"{contracts.ARTIFACT_PREFIX}/*")])
        self._allow(["s3:ListBucket"], [artifacts.bucket_arn], {"StringLike": {"s3:prefix": [f"{contracts.ARTIFACT_PREFIX}/*"]}})
        code = code_prefix(self.model_name)  # the zips CI builds per commit, read through CodeUrl
        self._allow(["s3:GetObject"], [artifacts.arn_for_objects(f"{code}*")])
        self._allow(["s3:ListBucket"], [artifacts.bucket_arn], {"StringLike": {"s3:prefix": [f"{code}*"]}})
        for asset in (self.code_asset, self.spec_asset):
            self._allow(["s3:GetObject"], [asset.bucket.arn_for_objects(asset.s3_object_key)])
            self._allow(["s3:ListBucket"], [asset.bucket.bucket_arn],
                        {"StringEquals": {"s3:prefix": [asset.s3_object_key]}})
        self._allow(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [self._key.key_arn])
        self._allow(["kms:CreateGrant"], [self._key.key_arn], {"Bool": {"kms:GrantIsForAWSResource": "true"}})

    def _grant_vpc(self, subnets: Sequence[ec2.ISubnet], security_groups: Sequence[ec2.ISecurityGroup]) -> None:
        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name=name)

        self._allow(["ec2:CreateNetworkInterface"],
                    [arn("network-interface", "*")] + [arn("subnet", s.subnet_id) for s in subnets]
                    + [arn("security-group", g.security_group_id) for g in security_groups])
        self._allow(["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                     "ec2:DeleteNetworkInterfacePermission"], [arn("network-interface", "*")])
        self._allow(["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                     "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], ["*"])

    def _acknowledge(self) -> None:
        acknowledge(
            default_policy(self.role),
            "The pipeline role's policy is inline so that it belongs to this role alone; a managed policy could be "
            "attached to other principals and widen access.",
            "NIST.800.53.R5-IAMNoInlinePolicy",
        )
        # Its wildcards are acknowledged from the reviewed list (mlops_constructs/_private/wildcard_allowlist.py).


def _basename(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _build_code_zip() -> CodeZip:
    """The reproducible zip of pipeline_code/ in a content-addressed temp dir (its hash names the folder), so
    the asset changes only with the code; written atomically since several synths may share the temp dir."""
    root = Path(tempfile.gettempdir()) / "mlops-code-zip"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        built = build_code_zip(PIPELINE_CODE_DIR, Path(scratch) / CODE_ZIP_NAME)
        final = root / built.sha256[:16] / CODE_ZIP_NAME
        final.parent.mkdir(exist_ok=True)
        os.replace(built.path, final)
    return CodeZip(final, built.sha256, built.entries)


def _write_spec(job_spec: dict) -> Path:
    """The spec as a file in a content-addressed temp dir, so its asset hash changes only with the spec."""
    text = json.dumps(job_spec, sort_keys=True, indent=2) + "\n"
    folder = Path(tempfile.gettempdir()) / "mlops-job-spec" / hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job-spec.json"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
