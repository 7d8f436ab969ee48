"""Shared by the governance tests: an audit trail written by the real writer on moto, EventBridge events, moto
resources."""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

import boto3
from moto import mock_aws

import mlops_contracts as contracts
from tests.support.lambda_handlers import LambdaContext, load_handler

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "audit-test"
MODEL = "fraud-detection"
ENDPOINT = contracts.endpoint_name(MODEL, "prod")
STACK = f"mlops-{ENDPOINT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
_ids = itertools.count(1)


# The writer's configuration as the governance stack gives it, for the one endpoint stack of these tests.
WRITER_ENVIRONMENT = {contracts.ENV_AUDIT_TABLE: TABLE, contracts.ENV_ENDPOINT_STACKS: json.dumps({STACK: ENDPOINT}),
                      "POWERTOOLS_METRICS_NAMESPACE": contracts.GOVERNANCE_METRIC_NAMESPACE}


@dataclass
class AuditTrail:
    """The audit table, the writer module and its SageMaker client; ``approvers`` maps a package ARN to the IAM
    identity the API reports as its last modifier (``record_approver_identity``)."""

    writer: ModuleType
    table: object
    sagemaker: object
    context: LambdaContext
    approvers: dict[str, str] = field(default_factory=dict)

    def write(self, event: dict) -> dict:
        """Deliver ``event`` to the writer, which must record it (not skip it)."""
        result = self.writer.handler(event, self.context)
        assert result["skipped"] == "", result
        return result

    def approve(self, arn: str, time: str, metadata: dict[str, str], *, approver: str, description: str,
                status: str = "Approved") -> None:
        """``approver`` sets the package's approval status; the writer records the state change at ``time``."""
        self.approvers[arn] = approver
        set_approval(self.sagemaker, arn, status, description, metadata)
        self.write(package_event(time, arn, status))


@contextmanager
def audit_trail(context: LambdaContext, environment: Mapping[str, str] | None = None) -> Iterator[AuditTrail]:
    """On moto: the audit table, the model's package group and the writer, imported with ``WRITER_ENVIRONMENT``
    updated by ``environment``; approver identities are reported as the real API reports them."""
    with mock_aws():
        table = create_table()
        with load_handler(contracts.SERVICE_AUDIT_WRITER, {**WRITER_ENVIRONMENT, **(environment or {})}) as writer:
            trail = AuditTrail(writer, table, writer._sagemaker(), context)
            record_approver_identity(trail.sagemaker, trail.approvers)
            trail.sagemaker.create_model_package_group(ModelPackageGroupName=MODEL)
            yield trail


def event(detail_type: str, time: str, detail: dict, source: str = contracts.EVENT_SOURCE_SAGEMAKER) -> dict:
    return {"version": "0", "id": f"evt-{next(_ids):04d}", "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": time, "region": REGION, "resources": [], "detail": detail}


def package_event(time: str, arn: str, status: str) -> dict:
    return event(contracts.DETAIL_PACKAGE_STATE, time,
                 {"ModelPackageArn": arn, "ModelPackageGroupName": MODEL, "ModelApprovalStatus": status})


def endpoint_event(time: str, status: str = "IN_SERVICE") -> dict:
    return event(contracts.DETAIL_ENDPOINT_STATE, time, {"EndpointName": ENDPOINT, "EndpointStatus": status})


def stack_event(time: str, status: str, stack: str = STACK) -> dict:
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/0b1c2d3e-aaaa-bbbb-cccc-123456789012"
    return event(contracts.DETAIL_STACK_STATUS, time,
                 {"stack-id": stack_id, "status-details": {"status": status, "status-reason": ""}},
                 source=contracts.EVENT_SOURCE_CLOUDFORMATION)


def execution_event(time: str, arn: str, status: str) -> dict:
    return event(contracts.DETAIL_PIPELINE_EXECUTION, time,
                 {"pipelineArn": arn.split("/execution/")[0], "pipelineExecutionArn": arn,
                  "currentPipelineExecutionStatus": status, "previousPipelineExecutionStatus": "Executing"})


def create_table():
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])


PIPELINE_DEFINITION = json.dumps({"Version": "2020-12-01", "Steps": [], "Parameters": [
    {"Name": name, "Type": "String"} for name in (contracts.PARAM_INPUT_DATA, contracts.PARAM_GIT_COMMIT,
                                                   contracts.PARAM_TRIGGER, contracts.PARAM_APPROVAL_STATUS,
                                                   contracts.PARAM_CODE_URL, contracts.PARAM_CODE_SHA256)]})


def code_url(git_commit: str) -> str:
    return f"s3://artifacts/{contracts.code_object_key(MODEL, git_commit)}"


def put_code_zip(s3, url: str, *, legacy: bool = False) -> None:
    """Upload the code zip of this checkout to ``url``; ``legacy``: the flat ``pipeline_code/<step>.py`` layout
    of zips built before the package split."""
    import tempfile
    import zipfile
    from pathlib import Path

    from pipeline_code.code_bundle import build_code_zip

    with tempfile.TemporaryDirectory() as scratch:
        path = build_code_zip(Path(__file__).resolve().parents[2] / "pipeline_code", Path(scratch) / "code.zip").path
        if legacy:
            with zipfile.ZipFile(path) as current, zipfile.ZipFile(Path(scratch) / "legacy.zip", "w") as old:
                for name in current.namelist():
                    parts = name.split("/")
                    old.writestr("/".join([parts[0], parts[-1]]) if parts[0] == "pipeline_code" else name,
                                 current.read(name))
            path = Path(scratch) / "legacy.zip"
        bucket, _, key = url.removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def code_sha256(git_commit: str) -> str:
    """A stand-in for the hash of the commit's code zip: distinct per commit."""
    return (git_commit[0] * 2 + "c0de") * 10 + git_commit[0] * 4


def start_build(sagemaker, git_commit: str, data_url: str, trigger: str = "code") -> str:
    """A build pipeline execution (creating the pipeline once) with its recorded parameters."""
    name = contracts.build_pipeline_name(MODEL)
    if name not in [p["PipelineName"] for p in sagemaker.list_pipelines()["PipelineSummaries"]]:
        sagemaker.create_pipeline(PipelineName=name, PipelineDefinition=PIPELINE_DEFINITION, RoleArn=ROLE)
    return sagemaker.start_pipeline_execution(PipelineName=name, PipelineParameters=[
        {"Name": contracts.PARAM_INPUT_DATA, "Value": data_url}, {"Name": contracts.PARAM_GIT_COMMIT, "Value": git_commit},
        {"Name": contracts.PARAM_TRIGGER, "Value": trigger},
        {"Name": contracts.PARAM_APPROVAL_STATUS, "Value": "PendingManualApproval"},
        {"Name": contracts.PARAM_CODE_URL, "Value": code_url(git_commit)},
        {"Name": contracts.PARAM_CODE_SHA256, "Value": code_sha256(git_commit)}])["PipelineExecutionArn"]


def lineage_metadata(git_commit: str, execution_arn: str, job: str, data_version: str) -> dict[str, str]:
    return {contracts.META_GIT_COMMIT: git_commit, contracts.META_CONFIG_HASH: "c0nf19" * 4,
            contracts.META_DATA_VERSION: data_version, contracts.META_PIPELINE_EXECUTION: execution_arn,
            contracts.META_TRAINING_JOB: job, contracts.META_IMAGE_URI: f"{ACCOUNT}.dkr.ecr/xgboost:1.7-1",
            contracts.META_HYPERPARAMETERS_HASH: "h" * 64, contracts.META_BASELINE_URI: "s3://artifacts/baseline.json",
            contracts.META_CODE_URL: code_url(git_commit), contracts.META_CODE_SHA256: code_sha256(git_commit)}


def register_package(sagemaker, metadata: dict[str, str]) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=MODEL, ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=metadata,
        InferenceSpecification={"Containers": [{"Image": metadata[contracts.META_IMAGE_URI],
                                                "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]


def set_approval(sagemaker, arn: str, status: str, description: str, metadata: dict[str, str]) -> None:
    # moto drops CustomerMetadataProperties on UpdateModelPackage unless they are passed again; the real API keeps them.
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description,
                                   CustomerMetadataProperties=metadata)


def serve(sagemaker, package_arn: str, config: str) -> None:
    """A model and endpoint config for ``package_arn``, as the endpoint stack creates them."""
    model = f"model-{config}"
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn})
    sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
        {"VariantName": "primary", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])


def point_endpoint_at(sagemaker, config: str) -> None:
    """The endpoint now serves ``config`` (moto has no UpdateEndpoint: re-create it)."""
    names = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    if ENDPOINT in names:
        sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)


def record_approver_identity(sagemaker, approvers: dict[str, str]) -> None:
    """moto reports a fake Studio profile as LastModifiedBy; add the approver's IAM identity the real API returns.

    ``approvers`` maps package ARN -> IAM ARN of whoever last changed it; the test updates it between approvals.
    """
    def add_identity(parsed, **_):
        arn = parsed.get("ModelPackageArn")
        if arn in approvers:
            parsed["LastModifiedBy"] = {"IamIdentity": {"Arn": approvers[arn], "PrincipalId": "AROAEXAMPLE:x"}}

    sagemaker.meta.events.register("after-call.sagemaker.DescribeModelPackage", add_identity)
