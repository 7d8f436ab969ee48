"""ModelCore and SecureBucket: encryption, retention, access logging, registry policy, topic."""
from __future__ import annotations

import json

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from mlops_constructs.core.model_core import ModelCore
from tests.conftest import new_app


def _core_template(**props) -> Template:
    stack = Stack(new_app(), "Test")
    ModelCore(stack, "Core", model_name="churn", owner="team@example.com", **props)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def core() -> Template:
    return _core_template(notification_emails=["a@example.com", "b@example.com"])


def test_key_rotates_and_is_retained(core):
    core.has_resource(
        "AWS::KMS::Key",
        {"Properties": Match.object_like({"EnableKeyRotation": True, "RotationPeriodInDays": 365,
                                          "PendingWindowInDays": 30}),
         "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
    )


def test_data_and_artifact_buckets_use_the_model_key(core):
    key_id = next(iter(core.find_resources("AWS::KMS::Key")))
    buckets = core.find_resources(
        "AWS::S3::Bucket",
        {"Properties": {"BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}},
             "BucketKeyEnabled": True}]}}},
    )
    assert len(buckets) == 2


def test_every_bucket_is_versioned_private_and_retained(core):
    buckets = core.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain", logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, logical_id


def test_data_and_artifact_buckets_log_to_the_access_log_bucket(core):
    log_bucket = next(k for k in core.find_resources("AWS::S3::Bucket") if k.startswith("CoreAccessLogs"))
    logged = core.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"DestinationBucketName": {"Ref": log_bucket}}}}
    )
    assert sorted(k[:14] for k in logged) == ["CoreArtifactBu", "CoreDataBucket"]


def test_every_bucket_denies_plain_http(core):
    policies = core.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_data_bucket_sends_events_to_eventbridge_without_custom_resource(core):
    core.has_resource_properties(
        "AWS::S3::Bucket", {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}}
    )
    assert not core.find_resources("Custom::S3BucketNotifications")


def test_registry_group_is_named_tagged_and_retained_without_policy_by_default(core):
    core.has_resource(
        "AWS::SageMaker::ModelPackageGroup",
        {"Properties": {"ModelPackageGroupName": "churn", "ModelPackageGroupDescription": "Model packages of churn",
                        "Tags": Match.array_with([{"Key": "mlops:owner", "Value": "team@example.com"}])},
         "DeletionPolicy": "Retain"},
    )
    group = next(iter(core.find_resources("AWS::SageMaker::ModelPackageGroup").values()))
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_registry_group_policy_lets_stage_accounts_use_packages():
    template = _core_template(stage_account_ids=["111111111111", "222222222222"])
    group = next(iter(template.find_resources("AWS::SageMaker::ModelPackageGroup").values()))
    statements = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    use = next(s for s in statements if s["Sid"] == "StageAccountsUsePackages")
    assert use["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
    principals = use["Principal"]["AWS"]
    assert len(principals) == 2 and all("iam::" in str(p) for p in principals)


def test_topic_is_encrypted_with_model_key_and_subscribes_emails(core):
    key_id = next(iter(core.find_resources("AWS::KMS::Key")))
    core.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    subs = core.find_resources("AWS::SNS::Subscription", {"Properties": {"Protocol": "email"}})
    assert sorted(s["Properties"]["Endpoint"] for s in subs.values()) == ["a@example.com", "b@example.com"]


def test_artifact_bucket_events_are_opt_in():
    def eventbridge_buckets(template: Template) -> list[str]:
        return sorted(k[:14] for k in template.find_resources("AWS::S3::Bucket", {"Properties": {
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}}}))

    assert eventbridge_buckets(_core_template()) == ["CoreDataBucket"]
    assert eventbridge_buckets(_core_template(artifact_bucket_events=True)) == ["CoreArtifactBu", "CoreDataBucket"]


def test_stage_account_endpoint_roles_may_write_capture_only():
    role = "arn:aws:iam::222222222222:role/churn-prod-serving"
    template = _core_template(capture_writer_role_arns=[role])
    data_bucket = next(k for k in template.find_resources("AWS::S3::Bucket") if k.startswith("CoreDataBucket"))
    policy = next(p for p in template.find_resources("AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": data_bucket})
    (capture,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:PutObject"]
    assert capture["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role}}
    assert capture["Resource"]["Fn::Join"][1][-1] == "/capture/*"
    assert "222222222222" in json.dumps(capture["Principal"])
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    (grant,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                if s.get("Condition", {}).get("ArnEquals") == {"aws:PrincipalArn": role}]
    assert sorted(grant["Action"]) == ["kms:Encrypt", "kms:GenerateDataKey"]
