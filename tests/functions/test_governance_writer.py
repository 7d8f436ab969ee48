"""The audit writer Lambda: records from real-shaped events, immutability, bad events skipped and counted."""
from __future__ import annotations

import json

import pytest
from boto3.dynamodb.conditions import Key
from botocore.stub import Stubber

import mlops_contracts as contracts
from governance_code import audit_schema as schema
from tests.support import governance_helpers as h


@pytest.fixture
def aws(lambda_context):
    with h.audit_trail(lambda_context, {"POWERTOOLS_SERVICE_NAME": contracts.SERVICE_AUDIT_WRITER}) as trail:  # as PlatformFunction
        yield trail.writer, trail.sagemaker, trail.table


def _items(table, pk: str) -> list[dict]:
    return table.query(KeyConditionExpression=Key("pk").eq(pk))["Items"]


def test_package_approval_records_approver_description_and_lineage(aws, lambda_context):
    writer, sagemaker, table = aws
    meta = h.lineage_metadata("a" * 40, "arn:exec", "train-1", "d" * 64)
    arn = h.register_package(sagemaker, meta)
    h.set_approval(sagemaker, arn, "Approved", "AUC 0.95 beats champion", meta)
    result = writer.handler(h.package_event("2026-05-01T10:00:00Z", arn, "Approved"), lambda_context)
    assert result == {"written": 1, "skipped": ""}
    [item] = _items(table, schema.package_pk(arn))
    assert item["approval_status"] == "Approved"
    assert item["approval_description"] == "AUC 0.95 beats champion"
    assert item["actor"] == "studio-user:fake-domain-id/fake-user-profile-name"
    assert item["lineage"][contracts.META_DATA_VERSION] == "d" * 64
    assert item["sk"].startswith("2026-05-01T10:00:00Z#evt-")
    assert item["lineage_missing"] == []


def test_a_package_without_full_lineage_is_recorded_and_counted(aws, capsys, lambda_context):
    writer, sagemaker, table = aws
    arn = h.register_package(sagemaker, {contracts.META_GIT_COMMIT: "a" * 40, contracts.META_IMAGE_URI: "img"})
    writer.handler(h.package_event("2026-05-01T10:00:00Z", arn, "PendingManualApproval"), lambda_context)
    [item] = _items(table, schema.package_pk(arn))
    assert contracts.META_DATA_VERSION in item["lineage_missing"]
    assert len(item["lineage_missing"]) == len(schema.LINEAGE_KEYS) - 2
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get(contracts.METRIC_INCOMPLETE_LINEAGE) == [1.0] for m in metrics)


def test_a_redelivered_event_writes_nothing_new(aws, lambda_context):
    writer, sagemaker, table = aws
    arn = h.register_package(sagemaker, h.lineage_metadata("a" * 40, "arn:exec", "t", "d" * 64))
    event = h.package_event("2026-05-01T10:00:00Z", arn, "PendingManualApproval")
    assert writer.handler(event, lambda_context)["written"] == 1
    assert writer.handler(event, lambda_context)["written"] == 0
    assert len(_items(table, schema.package_pk(arn))) == 1


def test_endpoint_event_records_serving_package_and_a_deployment_on_the_package(aws, lambda_context):
    writer, sagemaker, table = aws
    arn = h.register_package(sagemaker, h.lineage_metadata("a" * 40, "arn:exec", "t", "d" * 64))
    h.serve(sagemaker, arn, "config-1")
    h.point_endpoint_at(sagemaker, "config-1")
    assert writer.handler(h.endpoint_event("2026-05-02T08:00:00Z"), lambda_context)["written"] == 2
    [record] = _items(table, schema.endpoint_pk(h.ENDPOINT))
    assert record["serving"] == [{"variant": "primary", "role": "production", "model_name": "model-config-1",
                                  "model_package_arn": arn}]
    assert (record["endpoint_config_name"], record["rolled_back"]) == ("config-1", False)
    [deployment] = _items(table, schema.package_pk(arn))
    assert (deployment["kind"], deployment["endpoint"]) == (schema.KIND_DEPLOYMENT, h.ENDPOINT)


def test_stack_rollback_records_the_old_config_still_serving(aws, lambda_context):
    writer, sagemaker, table = aws
    old = h.register_package(sagemaker, h.lineage_metadata("a" * 40, "arn:exec", "t", "d" * 64))
    new = h.register_package(sagemaker, h.lineage_metadata("b" * 40, "arn:exec2", "t2", "e" * 64))
    h.serve(sagemaker, old, "config-old")
    h.serve(sagemaker, new, "config-new")
    h.point_endpoint_at(sagemaker, "config-old")  # the failed update left the endpoint here
    writer.handler(h.stack_event("2026-06-03T12:20:00Z", "UPDATE_ROLLBACK_COMPLETE"), lambda_context)
    [record] = _items(table, schema.endpoint_pk(h.ENDPOINT))
    assert record["rolled_back"] is True and record["actor"] == f"cloudformation:{h.STACK}"
    assert [s["model_package_arn"] for s in record["serving"]] == [old]
    assert _items(table, schema.package_pk(new)) == []


def test_a_deleted_endpoint_is_recorded_as_serving_nothing(aws, lambda_context):
    writer, _, table = aws
    assert writer.handler(h.stack_event("2026-07-01T00:00:00Z", "DELETE_COMPLETE"), lambda_context)["written"] == 1
    [record] = _items(table, schema.endpoint_pk(h.ENDPOINT))
    assert (record["endpoint_status"], record["serving"]) == ("NotFound", [])


def test_pipeline_execution_records_who_started_it_and_its_parameters(aws, lambda_context):
    writer, sagemaker, table = aws
    arn = h.start_build(sagemaker, "c" * 40, "s3://data/train/", trigger="drift")
    writer.handler(h.execution_event("2026-05-01T09:00:00Z", arn, "Succeeded"), lambda_context)
    [record] = _items(table, schema.execution_pk(arn))
    assert (record["status"], record["trigger"]) == ("Succeeded", "drift")
    assert record["parameters"][contracts.PARAM_INPUT_DATA] == "s3://data/train/"
    assert record["actor"].startswith("studio-user:")


@pytest.mark.parametrize("event, reason", [
    (h.stack_event("2026-05-01T00:00:00Z", "UPDATE_COMPLETE", stack="someone-elses-stack"),
     "stack 'someone-elses-stack' does not deploy an audited endpoint"),
    (h.event(contracts.DETAIL_ENDPOINT_STATE, "2026-05-01T00:00:00Z", {"EndpointStatus": "IN_SERVICE"}),
     "event detail lacks ['EndpointName']"),
    (h.event(contracts.DETAIL_PACKAGE_STATE, "not-a-time", {"ModelPackageArn": ""}),
     "event detail lacks ['ModelPackageArn']"),
    (h.event("EC2 Instance State-change Notification", "2026-05-01T00:00:00Z", {}),
     "unsupported detail-type 'EC2 Instance State-change Notification'"),
])
def test_bad_events_are_skipped_and_counted_not_raised(aws, capsys, event, reason, lambda_context):
    writer, _, table = aws
    result = writer.handler(event, lambda_context)
    assert result["written"] == 0 and reason in result["skipped"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [skipped] = [m for m in metrics if contracts.METRIC_AUDIT_EVENTS_SKIPPED in m]
    # The governance alarms watch exactly this namespace and dimension.
    assert skipped[contracts.METRIC_AUDIT_EVENTS_SKIPPED] == [1.0] and skipped["service"] == contracts.SERVICE_AUDIT_WRITER
    assert skipped["_aws"]["CloudWatchMetrics"][0]["Namespace"] == contracts.GOVERNANCE_METRIC_NAMESPACE
    assert table.scan()["Items"] == []


def test_approver_iam_identity_from_describe_model_package(aws, lambda_context):
    """moto has no IAM identity in LastModifiedBy; a stubbed DescribeModelPackage gives the real API's shape."""
    writer, sagemaker, table = aws
    arn = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:model-package/{h.MODEL}/7"
    approver = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/dana"
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_model_package", {
            "ModelPackageName": h.MODEL, "ModelPackageGroupName": h.MODEL, "ModelPackageVersion": 7,
            "ModelPackageArn": arn, "CreationTime": "2026-05-01T00:00:00Z", "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "Approved", "ApprovalDescription": "signed off by risk committee",
            "LastModifiedBy": {"IamIdentity": {"Arn": approver, "PrincipalId": "AROA:dana"}},
            "CustomerMetadataProperties": {contracts.META_GIT_COMMIT: "f" * 40, "other": "ignored"},
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
        }, {"ModelPackageName": arn})
        writer.handler(h.package_event("2026-05-03T00:00:00Z", arn, "Approved"), lambda_context)
        stub.assert_no_pending_responses()
    [item] = _items(table, schema.package_pk(arn))
    assert (item["actor"], item["model_package_version"]) == (approver, 7)
    assert item["lineage"] == {contracts.META_GIT_COMMIT: "f" * 40}


def test_aws_errors_raise_so_eventbridge_retries(aws, lambda_context):
    writer, sagemaker, _ = aws
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_endpoint", "ThrottlingException", "slow down")
        with pytest.raises(Exception, match="ThrottlingException"):
            writer.handler(h.endpoint_event("2026-05-02T08:00:00Z"), lambda_context)


def test_a_package_gone_before_the_event_is_recorded_from_the_event_itself(aws, lambda_context):
    writer, _, table = aws
    arn = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:model-package/{h.MODEL}/9"
    event = h.package_event("2026-05-03T00:00:00Z", arn, "Rejected")
    event["detail"].update({"ModelPackageVersion": 9, "ApprovalDescription": "superseded",
                            "LastModifiedBy": {"UserProfileName": "erin", "DomainId": "d-1"}})
    assert writer.handler(event, lambda_context)["written"] == 1
    [item] = _items(table, schema.package_pk(arn))
    assert (item["approval_status"], item["actor"], item["approval_description"]) == (
        "Rejected", "studio-user:d-1/erin", "superseded")
