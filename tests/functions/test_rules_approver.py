"""Who approved a package is its LastModifiedBy, never its CreatedBy (the build's pipeline role registered it).
CreatedBy stands in only while nobody has modified the package; a pipeline execution's actor is who started it."""
from __future__ import annotations

import pytest
from boto3.dynamodb.conditions import Key
from botocore.stub import Stubber
from moto import mock_aws

import mlops_contracts as contracts
from governance_code import audit_schema as schema
from tests.support import governance_helpers as h
from tests.support.lambda_handlers import load_handler

ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:model-package/{h.MODEL}/3"
REGISTRAR = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/BuildPipelineRole/SageMaker"
APPROVER = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/dana"


def _package(**users) -> dict:
    return {"ModelPackageName": h.MODEL, "ModelPackageGroupName": h.MODEL, "ModelPackageVersion": 3,
            "ModelPackageArn": ARN, "CreationTime": "2026-05-01T00:00:00Z", "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "Approved", "ModelPackageStatusDetails": {"ValidationStatuses": []}, **users}


def _iam(arn: str) -> dict:
    return {"IamIdentity": {"Arn": arn, "PrincipalId": "AROAEXAMPLE:x"}}


def test_the_actor_of_an_approval_is_the_last_modifier_not_the_creator():
    package = _package(CreatedBy=_iam(REGISTRAR), LastModifiedBy=_iam(APPROVER))
    record = schema.package_record(h.package_event("2026-05-02T00:00:00Z", ARN, "Approved"), package,
                                   "2026-05-02T00:00:01Z")
    assert record["actor"] == APPROVER


def test_a_package_nobody_modified_is_attributed_to_its_creator():
    record = schema.package_record(h.package_event("2026-05-01T00:00:00Z", ARN, "PendingManualApproval"),
                                   _package(CreatedBy=_iam(REGISTRAR)), "2026-05-01T00:00:01Z")
    assert record["actor"] == REGISTRAR


@pytest.mark.parametrize(("user", "actor"), [
    ({"UserProfileName": "erin", "DomainId": "d-1"}, "studio-user:d-1/erin"),
    ({"UserProfileName": "erin"}, "studio-user:?/erin"),
    ({"IamIdentity": {"Arn": APPROVER}, "UserProfileName": "erin"}, APPROVER),
    ({}, "unknown"),
    (None, "unknown"),
])
def test_identity_prefers_the_iam_arn_then_the_studio_profile(user, actor):
    assert schema.identity(user) == actor


@pytest.fixture
def writer():
    with mock_aws(), load_handler(contracts.SERVICE_AUDIT_WRITER, h.WRITER_ENVIRONMENT) as module:
        yield module, h.create_table()


def test_the_writer_records_the_approver_when_creator_and_modifier_differ(writer, lambda_context):
    module, table = writer
    sagemaker = module._sagemaker()
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_model_package",
                          _package(CreatedBy=_iam(REGISTRAR), LastModifiedBy=_iam(APPROVER)), {"ModelPackageName": ARN})
        assert module.handler(h.package_event("2026-05-02T00:00:00Z", ARN, "Approved"), lambda_context)["written"] == 1
    [item] = table.query(KeyConditionExpression=Key("pk").eq(schema.package_pk(ARN)))["Items"]
    assert item["actor"] == APPROVER


def test_an_execution_actor_is_who_started_it():
    arn = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:pipeline/{h.MODEL}-build/execution/abc"
    execution = {"CreatedBy": _iam(REGISTRAR), "LastModifiedBy": _iam(APPROVER)}
    record = schema.execution_record(h.execution_event("2026-05-02T00:00:00Z", arn, "Executing"), execution,
                                     {contracts.PARAM_TRIGGER: "drift"}, "2026-05-02T00:00:01Z")
    assert (record["actor"], record["trigger"]) == (REGISTRAR, "drift")
