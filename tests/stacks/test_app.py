"""The whole example app: cdk-nag clean, cfn-lint clean, deterministic, stateful logical IDs pinned."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from mlops_config import load_config
from tests.conftest import CONFIG_DIR, new_app, synthesize

# Stateful resources: replacing one loses data or history. A refactor that changes these IDs must be deliberate.
PINNED_STATEFUL_IDS = {
    "AWS::KMS::Key": ["CoreKey543B1A30"],
    "AWS::S3::Bucket": ["CoreAccessLogs763242DF", "CoreArtifactBucketD0063EF6", "CoreDataBucket9D957D57"],
    "AWS::SageMaker::ModelPackageGroup": ["CoreModelPackageGroupB9859496"],
}


def _stateful_ids(template: dict, kind: str) -> list[str]:
    return sorted(k for k, v in template["Resources"].items() if v["Type"] == kind)


@pytest.mark.parametrize("model", ["fraud-detection", "employee-attrition", "support-assistant"])
def test_stateful_logical_ids_are_pinned(example_app, model):
    template = example_app.templates[f"mlops-{model}"]
    for kind, ids in PINNED_STATEFUL_IDS.items():
        assert _stateful_ids(template, kind) == ids, kind


def _is_cache_table(resource: dict) -> bool:
    """An idempotency/de-duplication cache: items expire by TTL and nothing is lost when it goes."""
    props = resource["Properties"]
    return resource["Type"] == "AWS::DynamoDB::Table" and props.get("TimeToLiveSpecification", {}).get("Enabled")


def test_every_stateful_resource_is_retained(example_app):
    stateful = {"AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup", "AWS::DynamoDB::Table",
                "AWS::DynamoDB::GlobalTable", "AWS::Logs::LogGroup"}
    for name, template in example_app.templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in stateful and not _is_cache_table(resource):
                assert resource.get("DeletionPolicy") == "Retain", f"{name}/{logical_id}"


def test_cdk_nag_reports_no_unacknowledged_findings(example_app):
    report = json.loads((Path(example_app.assembly.directory) / "validation-report.json").read_text())
    packs = {p["pluginName"] for p in report["pluginReports"]}
    violations = [(p["pluginName"], v["ruleName"], c["constructPath"])
                  for p in report["pluginReports"] for v in p.get("violations", []) for c in v["violatingConstructs"]]
    assert violations == []
    assert packs <= {"AwsSolutions", "NIST.800.53.R5"}


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding():
    """The gate is real: an unencrypted, unlogged bucket makes synthesis fail."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = new_app()
    stack = Stack(app, "Bad")
    s3.Bucket(stack, "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()


def _example_stack_names() -> list[str]:
    """Every stack of the example app, known from config alone (so xdist can spread the lint runs)."""
    from mlops_contracts import endpoint_stack_name

    config = load_config(CONFIG_DIR)
    names = [f"{config.platform.prefix}-governance"]
    for model in config.models:
        names.append(f"{config.platform.prefix}-{model.name}")
        if model.deployment.mode != "batch":
            names += [endpoint_stack_name(config.platform.prefix, model.name, s) for s in config.platform.stages]
    return sorted(names)


def test_stack_list_matches_the_synthesized_app(example_app):
    assert sorted(example_app.templates) == _example_stack_names()


@pytest.mark.parametrize("stack", _example_stack_names())
def test_cfn_lint_reports_no_errors_or_warnings(example_app, stack):
    """cfn-lint's default rules, as `cfn-lint <template>` runs them (informational I-rules are not reported)."""
    from cfnlint.api import ManualArgs, lint_file

    template = Path(example_app.assembly.directory) / f"{stack}.template.json"
    matches = lint_file(template, ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []


def test_cfn_lint_catches_a_bad_property(tmp_path):
    """The lint gate is real: an invalid property value is reported."""
    from cfnlint.api import ManualArgs, lint_file

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue",
                                                   "Properties": {"MessageRetentionPeriod": "forever"}}}}))
    assert [m.rule.id for m in lint_file(bad, ManualArgs(regions=["us-east-1"]))] == ["E3012"]


def test_two_synths_are_byte_identical(example_app, tmp_path):
    """A second synth of the same config (the session app is the first) writes the same bytes."""
    synthesize(CONFIG_DIR, tmp_path)
    first = Path(example_app.assembly.directory)
    files = sorted(p.name for p in first.glob("*.template.json"))
    assert files and files == sorted(p.name for p in tmp_path.glob("*.template.json"))
    for name in files:
        assert (first / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_stacks_are_env_agnostic_by_default(example_app):
    for stack in example_app.stacks.values():
        assert stack.environment == "aws://unknown-account/unknown-region"


def test_stage_accounts_pin_stage_stacks_and_share_the_registry(pinned_app):
    """Synthesized with cdk-nag: acknowledgments must hold for pinned accounts too."""
    report = json.loads((Path(pinned_app.assembly.directory) / "validation-report.json").read_text())
    assert [v["ruleName"] for p in report["pluginReports"] for v in p.get("violations", [])] == []
    assert pinned_app.stacks["mlops-fraud-detection-prod"].account == "222222222222"
    assert pinned_app.stacks["mlops-fraud-detection"].account == "333333333333"
    template = pinned_app.templates["mlops-fraud-detection"]
    group = next(v for v in template["Resources"].values() if v["Type"] == "AWS::SageMaker::ModelPackageGroup")
    principals = json.dumps(group["Properties"]["ModelPackageGroupPolicy"])
    assert "111111111111" in principals and "222222222222" in principals
    capture_writers = [
        statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        for policy in template["Resources"].values() if policy["Type"] == "AWS::S3::BucketPolicy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "s3:PutObject" and "ArnEquals" in statement.get("Condition", {})
    ]
    assert sorted(json.dumps(w) for w in capture_writers) == sorted(json.dumps(
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/fraud-detection-{stage}-serving"]]})
        for account, stage in (("111111111111", "staging"), ("222222222222", "prod")))
