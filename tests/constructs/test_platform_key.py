"""_private/platform_key.PlatformKey in a bare Stack: retention, rotation and the statements its owners add."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from mlops_constructs._private.platform_key import PlatformKey
from tests.conftest import new_app

LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def _key(**props) -> tuple[Stack, PlatformKey]:
    stack = Stack(new_app(), "Test")
    return stack, PlatformKey(stack, "Key", description="Encrypts things", **props)


def _statements(stack: Stack) -> list[dict]:
    (key,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    return key["Properties"]["KeyPolicy"]["Statement"]


def test_key_rotates_and_is_retained_with_the_given_periods():
    stack, _ = _key(rotation_days=90, pending_window_days=7)
    Template.from_stack(stack).has_resource("AWS::KMS::Key", {
        "Properties": Match.object_like({"Description": "Encrypts things", "EnableKeyRotation": True,
                                         "RotationPeriodInDays": 90, "PendingWindowInDays": 7}),
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_defaults_rotate_yearly_with_a_30_day_window():
    stack, _ = _key()
    Template.from_stack(stack).has_resource_properties("AWS::KMS::Key", {
        "RotationPeriodInDays": 365, "PendingWindowInDays": 30})


def test_cloudwatch_logs_of_this_account_and_region_only():
    stack, key = _key()
    key.allow_cloudwatch_logs()
    statement = _statements(stack)[-1]
    assert statement["Sid"] == "AllowCloudWatchLogsEncryption"
    assert statement["Principal"] == {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"},
                                                                    ".amazonaws.com"]]}}
    assert statement["Action"] == sorted(LOGS_ACTIONS)
    assert statement["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
        ":log-group:*"]]}}}


def test_cloudwatch_logs_of_one_log_group_in_another_account():
    stack, key = _key()
    key.allow_cloudwatch_logs(log_group_name="/mlops/endpoint", account="222222222222")
    statement = _statements(stack)[-1]
    assert "Sid" not in statement
    assert statement["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":222222222222:log-group:/mlops/endpoint"]]}}}


def test_service_principals_use_the_key_for_this_account_only():
    stack, key = _key()
    key.allow_service_principals("ServicesPublish", ["events.amazonaws.com", "cloudwatch.amazonaws.com"])
    statement = _statements(stack)[-1]
    assert statement == {
        "Sid": "ServicesPublish", "Effect": "Allow", "Resource": "*",
        "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},  # CDK sorts them
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}


def test_service_statement_without_services_fails_with_the_value():
    _, key = _key()
    with pytest.raises(ValueError, match=r"'ServicesPublish' needs at least one service principal; got \[\]"):
        key.allow_service_principals("ServicesPublish", [])
