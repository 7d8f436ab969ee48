"""Stateful resources survive their stack, and service principals act only for this account or resource.

Checked over every template of the examples, in one account and in three (``pinned_app``). Which types are
stateful comes from cfn-lint's own list (``cfnlint/data/AdditionalSpecs/StatefulResources.json``), plus the types
that hold state or identity this platform depends on.
"""
from __future__ import annotations

import json
from pathlib import Path

import cfnlint
import pytest

CFN_LINT_STATEFUL = json.loads((Path(cfnlint.__file__).parent / "data/AdditionalSpecs/StatefulResources.json")
                               .read_text())["ResourceTypes"]
STATEFUL = set(CFN_LINT_STATEFUL) | {
    "AWS::SNS::Topic",  # its ARN is wired into stage-account stacks and confirmed subscriptions
    "AWS::SageMaker::ModelPackageGroup", "AWS::SageMaker::ModelCard",  # the registry and its audit evidence
    "AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig",  # what a rolled-back endpoint still runs
    "AWS::ECR::Repository", "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Events::Archive",
}
# Stateful resources that need not be RETAIN, by resource type, with the reason. Empty today: keep it short.
NOT_RETAINED: dict[str, str] = {}

# Documented scoping for principals that define no aws:SourceAccount/aws:SourceArn for the call in question.
OTHER_SCOPING = {
    # CloudWatch Logs calls KMS with the log group ARN as encryption context; its guide ("Encrypt log data in
    # CloudWatch Logs using AWS KMS") scopes the key with kms:EncryptionContext:aws:logs:arn.
    "logs.": "kms:EncryptionContext:aws:logs:arn",
}
CONFUSED_DEPUTY_KEYS = {"aws:SourceAccount", "aws:SourceArn"}
RESOURCE_POLICIES = {"AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument",
                     "AWS::S3::BucketPolicy": "PolicyDocument", "AWS::SQS::QueuePolicy": "PolicyDocument"}


@pytest.fixture(scope="module", params=["one account", "three accounts"])
def templates(request, example_app, pinned_app) -> dict[str, dict]:
    return (example_app if request.param == "one account" else pinned_app).templates


def test_every_stateful_resource_is_retained_or_listed_with_a_reason(templates):
    loose = [f"{stack}/{logical_id} ({resource['Type']}): DeletionPolicy {resource.get('DeletionPolicy', 'Delete')}, "
             f"UpdateReplacePolicy {resource.get('UpdateReplacePolicy', 'Delete')}"
             for stack, template in templates.items()
             for logical_id, resource in template.get("Resources", {}).items()
             if resource["Type"] in STATEFUL and resource["Type"] not in NOT_RETAINED
             and not resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain"]
    assert not loose, "stateful resources CloudFormation would delete (RETAIN them or list them with a reason):\n" + \
        "\n".join(loose)


def _service_principals(statement: dict) -> list[str]:
    services = (statement.get("Principal") or {}).get("Service", []) if isinstance(statement.get("Principal"),
                                                                                     dict) else []
    services = services if isinstance(services, list) else [services]
    return [s if isinstance(s, str) else json.dumps(s) for s in services]


def test_every_service_principal_grant_names_our_account_or_resource(templates):
    unscoped = []
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            document = resource.get("Properties", {}).get(RESOURCE_POLICIES.get(resource["Type"], ""))
            for statement in (document or {}).get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                keys = {k for operator in (statement.get("Condition") or {}).values() for k in operator}
                for service in _service_principals(statement):
                    other = next((key for prefix, key in OTHER_SCOPING.items() if prefix in service), None)
                    if keys & CONFUSED_DEPUTY_KEYS or (other and other in keys):
                        for operator in statement["Condition"].values():
                            assert all(v != "*" for k, v in operator.items() if k in CONFUSED_DEPUTY_KEYS)
                        continue
                    unscoped.append(f"{stack}/{logical_id} statement {statement.get('Sid', '?')}: {service} "
                                    f"may {statement.get('Action')} with conditions on {sorted(keys) or 'nothing'}")
    assert not unscoped, "service-principal grants without aws:SourceAccount/aws:SourceArn:\n" + "\n".join(unscoped)


def _statements(template: dict):
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def test_application_auto_scaling_writes_are_limited_to_sagemaker(example_app):
    """Its writes have no resource-level scoping beyond ``scalable-target/*``; the documented condition key
    ``application-autoscaling:service-namespace`` (Application Auto Scaling User Guide, "How Application Auto
    Scaling works with IAM") keeps them to SageMaker variants (checkov CKV_AWS_111)."""
    seen = 0  # with stages in other accounts, CloudFormation deploys with their CDK bootstrap roles instead
    for stack, template in example_app.templates.items():
        for logical_id, statement in _statements(template):
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            # Tagging takes scalable-target ARNs instead of the namespace key (TagResource API reference).
            tagging = {"application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                       "application-autoscaling:ListTagsForResource"}
            if set(actions) <= tagging:
                assert ":scalable-target/" in json.dumps(statement["Resource"]), f"{stack}/{logical_id}"
                continue
            writes = [a for a in actions if a.startswith("application-autoscaling:")
                      and not a.split(":")[1].startswith("Describe")]
            if not writes or statement.get("Effect") != "Allow":
                continue
            seen += 1
            namespace = (statement.get("Condition") or {}).get("StringEquals", {}).get(
                "application-autoscaling:service-namespace")
            assert namespace == "sagemaker", f"{stack}/{logical_id} may {writes} in any service namespace"
    assert seen, "some role manages autoscaling (the endpoint stacks' deploy roles)"
