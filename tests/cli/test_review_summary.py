"""The review summary of typical changes, exactly: each fixture is a real synth of a changed config, or a change
of the synthesized templates that CDK itself makes (a new asset hash) or that a code change would make (a wider
IAM statement)."""
from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml

from mlops_cli import main as cli
from mlops_cli.review_summary import SECURITY, _policy_documents, summarize
from tests.conftest import CONFIG_DIR, synthesize

ATTRITION = CONFIG_DIR.parent / "data" / "attrition" / "attrition.csv"


def _edit(path, change) -> None:
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture(scope="module")
def changed_app(tmp_path_factory, example_app):
    """The examples with three typical changes, one per model: a gate threshold (fraud-detection), a strategy
    change (support-assistant) and a new model (hr-attrition, written by mlops init)."""
    root = tmp_path_factory.mktemp("changed")
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config)
    _edit(config / "models" / "fraud-detection.yaml",
          lambda raw: raw["quality_gate"]["min_metrics"].update(auc=0.93))
    _edit(config / "models" / "support-assistant.yaml",
          lambda raw: raw["deployment"].update(strategy={"type": "LINEAR", "step_percent": 50, "bake_seconds": 600}))
    assert cli.main(["init", "hr-attrition", "--data", str(ATTRITION), "--label", "Attrition",
                     "--config-dir", str(config)]) == 0
    return synthesize(config, root / "cdk.out")


def test_typical_config_changes_read_in_platform_terms(example_app, changed_app):
    summary = summarize(example_app.templates, changed_app.templates)

    def added(stack: str) -> str:
        template = changed_app.templates[stack]
        policies = len(_policy_documents(template))  # endpoint stacks hold none (tests/stacks/test_deploy_iam.py)
        return (f"- stack {stack} added ({len(template['Resources'])} resources"
                + (f", {policies} IAM policies) {SECURITY}" if policies else ")"))

    endpoint = "arn:aws:sagemaker:${Region}:${Account}"
    assert summary == [
        "**fraud-detection**",
        "- quality gate auc 0.92 → 0.93",
        "",
        "**governance**",  # the audit writer may now read the new model's packages, executions and endpoints
        (f"- IAM AuditWriterRoleDefaultPolicy: Allow sagemaker:DescribeModelPackage resources + "
        f"{endpoint}:model-package/hr-attrition/* {SECURITY}"),
        (f"- IAM AuditWriterRoleDefaultPolicy: Allow sagemaker:DescribePipelineExecution, "
        f"sagemaker:ListPipelineParametersForExecution resources + {endpoint}:pipeline/hr-attrition-build/execution/* "
        f"{SECURITY}"),
        (f"- IAM AuditWriterRoleDefaultPolicy: Allow sagemaker:DescribeEndpoint resources + "
        f"{endpoint}:endpoint/hr-attrition-prod, {endpoint}:endpoint/hr-attrition-staging {SECURITY}"),
        "",
        "**hr-attrition**",
        added("mlops-hr-attrition"),
        added("mlops-hr-attrition-prod"),
        added("mlops-hr-attrition-staging"),
        "",
        "**support-assistant**",
        "- prod: strategy of endpoint Endpoint: CANARY 10%, bake 900 s → LINEAR 50%, bake 600 s",
        "- staging: strategy of endpoint Endpoint: CANARY 10%, bake 900 s → LINEAR 50%, bake 600 s",
        "",
        # the gate is part of fraud-detection's pipeline definition asset, which its build role may read
        ("<details><summary>1 IAM policy changed only by an asset hash (new code or image bundles; not "
        "security-relevant)</summary>"),
        "",
        "The statements are identical once 64-hex asset hashes are masked.",
        "</details>",
        "",
    ]


def _rotate_asset_hashes(templates: dict) -> dict:
    """What CDK does when a bundled asset's content changes: every reference to its hash changes."""
    text = json.dumps(templates)
    hashes = sorted(set(re.findall(r"\b[0-9a-f]{64}\b", text)))
    for index, old in enumerate(hashes):
        text = text.replace(old, f"{index:064x}")
    return json.loads(text)


def test_an_asset_only_change_is_folded(example_app):
    """New bundles everywhere: the pipeline code line per model, and the IAM churn folded away."""
    summary = summarize(example_app.templates, _rotate_asset_hashes(example_app.templates))
    assert summary == [
        "**employee-attrition**", "- pipeline code bundle changed (new sha256)", "",
        "**fraud-detection**", "- pipeline code bundle changed (new sha256)", "",
        "**support-assistant**", "- pipeline code bundle changed (new sha256)", "",
        ("<details><summary>3 IAM policies changed only by an asset hash (new code or image bundles; not "
        "security-relevant)</summary>"),
        "",
        "The statements are identical once 64-hex asset hashes are masked.",
        "</details>",
        "",
    ]


def test_a_real_iam_widening_comes_first_and_is_security_relevant(example_app):
    head = copy.deepcopy(example_app.templates)
    template = head["mlops-fraud-detection"]
    policy = next(r for k, r in template["Resources"].items()
                  if r["Type"] == "AWS::IAM::Policy" and k.startswith("BuildRoleDefaultPolicy"))
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Action": "s3:*", "Effect": "Allow", "Resource": "*"})
    summary = summarize(example_app.templates, head)
    assert summary[:3] == [
        "**fraud-detection**",
        f"- IAM BuildRoleDefaultPolicy: + Allow s3:* on * {SECURITY}",
        "",
    ]


def test_pipeline_steps_are_diffed_one_by_one(example_app):
    head = copy.deepcopy(example_app.templates)
    pipeline = next(r for r in head["mlops-fraud-detection"]["Resources"].values()
                    if r["Type"] == "AWS::SageMaker::Pipeline")
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    parts = body["Fn::Join"][1]
    first = next(i for i, part in enumerate(parts) if isinstance(part, str) and '"ml.m5.xlarge"' in part)
    parts[first] = parts[first].replace('"InstanceType":"ml.m5.xlarge"', '"InstanceType":"ml.m5.2xlarge"', 1)
    summary = summarize(example_app.templates, head)
    assert summary == [
        "**fraud-detection**",
        ("- pipeline step Validate: Arguments.ProcessingResources.ClusterConfig.InstanceType ml.m5.xlarge → "
        "ml.m5.2xlarge"),
        "",
    ]
