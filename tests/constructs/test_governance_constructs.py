"""GovernanceStack and AuditTrail: the store's protections, the rules' patterns, the writer's scoped permissions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_constructs.govern.audit_trail import AuditTrail
from stacks.governance_stack import GovernanceStack, endpoint_stacks
from tests.conftest import new_app

PINNED = {"AWS::DynamoDB::Table": ["AuditTable18A3095C"], "AWS::KMS::Key": ["AuditKey2ED08D30"]}
MODELS = ["employee-attrition", "fraud-detection", "support-assistant"]
REALTIME_ENDPOINTS = ["fraud-detection-prod", "fraud-detection-staging", "support-assistant-prod",
                      "support-assistant-staging"]


@pytest.fixture(scope="module")
def synthesized(example_config, tmp_path_factory):
    """The governance stack alone, synthesized with both nag packs (so its gates do not wait on other stacks)."""
    from mlops_constructs._private.wildcard_review import add_nag_checks

    app = new_app(outdir=str(tmp_path_factory.mktemp("governance")))
    stack = GovernanceStack(app, "mlops-governance", platform=example_config.platform, models=example_config.models)
    add_nag_checks(app)
    assembly = app.synth()
    return stack, Path(assembly.directory)


@pytest.fixture(scope="module")
def template(synthesized) -> Template:
    return Template.from_stack(synthesized[0])


def _ids(template: Template, kind: str) -> list[str]:
    return sorted(template.find_resources(kind))


def test_stateful_logical_ids_are_pinned(template):
    for kind, ids in PINNED.items():
        assert _ids(template, kind) == ids, kind


def test_audit_table_has_pitr_deletion_protection_cmk_and_is_retained(template):
    template.has_resource("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like({
            "DeletionProtectionEnabled": True,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                                 "KMSMasterKeyId": {"Fn::GetAtt": ["AuditKey2ED08D30", "Arn"]}},
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        })})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain",
                                            "Properties": Match.object_like({"EnableKeyRotation": True})})


def test_table_policy_denies_updates_and_deletes_to_all_and_writes_to_all_but_the_writer(template):
    writer_role = _writer_role(template)
    template.has_resource_properties("AWS::DynamoDB::Table", {"ResourcePolicy": {"PolicyDocument": {
        "Statement": Match.array_with([
            Match.object_like({"Effect": "Deny", "Principal": {"AWS": "*"},
                               "Action": Match.array_with(["dynamodb:DeleteItem", "dynamodb:UpdateItem"])}),
            Match.object_like({"Effect": "Deny", "Action": Match.array_with(["dynamodb:PutItem"]),
                               "Condition": {"ArnNotEquals": {
                                   "aws:PrincipalArn": {"Fn::GetAtt": [writer_role, "Arn"]}}}}),
        ])}}})


def _writer_role(template: Template) -> str:
    role = Capture()
    template.has_resource_properties("AWS::Lambda::Function", {
        "Role": {"Fn::GetAtt": [role, "Arn"]},
        "Environment": {"Variables": Match.object_like({contracts.ENV_AUDIT_TABLE: {"Ref": "AuditTable18A3095C"}})}})
    return role.as_string()


def _writer_statements(template: Template) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {
        "Roles": [{"Ref": _writer_role(template)}]}})
    assert len(policies) == 1, "the writer's permissions live in one policy attached to the writer's role"
    return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]


def _statement(template: Template, sid: str) -> dict:
    return next(s for s in _writer_statements(template) if s.get("Sid") == sid)


def test_writer_may_only_put_items_in_the_audit_table(template):
    statements = _writer_statements(template)
    dynamodb_actions = {a for s in statements for a in _as_list(s["Action"]) if a.startswith("dynamodb:")}
    assert dynamodb_actions == {"dynamodb:PutItem"}
    assert _statement(template, "AppendAuditRecords")["Resource"] == {"Fn::GetAtt": ["AuditTable18A3095C", "Arn"]}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _arn_suffixes(resource) -> list[str]:
    return [r["Fn::Join"][1][-1] for r in _as_list(resource)]


def test_writer_describes_only_the_audited_groups_pipelines_and_endpoints(template):
    assert sorted(_arn_suffixes(_statement(template, "ReadModelPackages")["Resource"])) == [
        f":model-package/{m}/*" for m in MODELS]
    assert sorted(_arn_suffixes(_statement(template, "ReadPipelineExecutions")["Resource"])) == [
        f":pipeline/{m}-build/execution/*" for m in MODELS]
    assert _arn_suffixes(_statement(template, "ReadEndpoints")["Resource"]) == [
        f":endpoint/{e}" for e in REALTIME_ENDPOINTS]
    assert not any("*" == s["Resource"] for s in _writer_statements(template) if s.get("Sid"))


def _rule_pattern(template: Template, detail_type: str) -> dict:
    rules = [r["Properties"] for r in template.find_resources("AWS::Events::Rule").values()
             if r["Properties"]["EventPattern"]["detail-type"] == [detail_type]]
    assert len(rules) == 1, detail_type
    [function] = template.find_resources("AWS::Lambda::Function")
    [queue] = template.find_resources("AWS::SQS::Queue")
    assert [(t["Arn"], t["DeadLetterConfig"]) for t in rules[0]["Targets"]] == [
        ({"Fn::GetAtt": [function, "Arn"]}, {"Arn": {"Fn::GetAtt": [queue, "Arn"]}})]
    return rules[0]["EventPattern"]


def test_package_rule_matches_every_configured_group(template):
    pattern = _rule_pattern(template, "SageMaker Model Package State Change")
    assert pattern["source"] == [contracts.EVENT_SOURCE_SAGEMAKER]
    assert sorted(pattern["detail"]["ModelPackageGroupName"]) == MODELS


def test_pipeline_rule_matches_the_build_pipelines(template):
    pattern = _rule_pattern(template, "SageMaker Model Building Pipeline Execution Status Change")
    assert sorted(_arn_suffixes(pattern["detail"]["pipelineArn"])) == [f":pipeline/{m}-build" for m in MODELS]


def test_endpoint_rules_cover_realtime_endpoints_and_their_stacks_only(template):
    assert _rule_pattern(template, "SageMaker Endpoint State Change")["detail"] == {
        "EndpointName": REALTIME_ENDPOINTS}
    stack_pattern = _rule_pattern(template, "CloudFormation Stack Status Change")
    assert [p["prefix"]["Fn::Join"][1][-1] for p in stack_pattern["detail"]["stack-id"]] == [
        f":stack/mlops-{e}/" for e in REALTIME_ENDPOINTS]
    assert "UPDATE_ROLLBACK_COMPLETE" in stack_pattern["detail"]["status-details"]["status"]


def test_writer_knows_which_stack_deploys_which_endpoint(template, example_config):
    mapping = endpoint_stacks(example_config.platform, example_config.models)
    assert sorted(mapping.values()) == REALTIME_ENDPOINTS
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like(
        {contracts.ENV_ENDPOINT_STACKS: json.dumps(mapping, sort_keys=True)})}})


def test_audit_trail_needs_a_group():
    with pytest.raises(ValueError, match="model_package_groups is empty; give at least one group"):
        AuditTrail(Stack(new_app(), "T"), "Audit", model_package_groups=[], build_pipelines=[])


def test_nag_and_cfn_lint_are_clean(synthesized):
    from cfnlint.api import ManualArgs, lint_file

    _, directory = synthesized
    report = json.loads((directory / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []
    matches = lint_file(directory / "mlops-governance.template.json", ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_a_gap_in_the_trail_alarms_the_platform_team(template, example_config):
    [topic] = template.find_resources("AWS::SNS::Topic", {"Properties": {
        "KmsMasterKeyId": {"Fn::GetAtt": ["AuditKey2ED08D30", "Arn"]}}})
    for email in example_config.platform.notifications.emails:
        template.has_resource_properties("AWS::SNS::Subscription", {
            "Protocol": "email", "Endpoint": email, "TopicArn": {"Ref": topic}})
    [queue] = template.find_resources("AWS::SQS::Queue")
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1, "AlarmActions": [{"Ref": topic}],
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]})
    for metric in (contracts.METRIC_AUDIT_EVENTS_SKIPPED, contracts.METRIC_INCOMPLETE_LINEAGE):
        template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "Namespace": contracts.GOVERNANCE_METRIC_NAMESPACE, "MetricName": metric, "AlarmActions": [{"Ref": topic}],
            "Dimensions": [{"Name": contracts.DIM_SERVICE, "Value": contracts.SERVICE_AUDIT_WRITER}], "TreatMissingData": "notBreaching"})
