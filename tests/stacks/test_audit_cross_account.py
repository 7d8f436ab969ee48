"""Audit across accounts, in the cross-account synth matrix (tooling 333…, staging 111…, prod 222…).

Each stage's access stack (``<prefix>-<model>-<stage>-access``, deployed to the stage account; the endpoint stack
holds no IAM) forwards the endpoint's and its stack's events to the tooling account's governance bus; the bus admits
exactly the stage accounts; rules on it send those events to the audit writer, which reads the endpoint through the
audit role deployed with the stage. Event patterns are matched with moto's EventBridge pattern
matcher (the one its PutEvents uses; moto does not implement TestEventPattern), not by reading the JSON.
"""
from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

import mlops_contracts as contracts

TOOLING, STAGING, PROD = "333333333333", "111111111111", "222222222222"
REGION = "eu-west-1"
GOVERNANCE = "mlops-governance"
ENDPOINT_MODELS = ("fraud-detection", "support-assistant")


def _of_type(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _sample(kind: str, account: str, name: str) -> dict:
    if kind == "endpoint":
        return {"id": "1", "source": contracts.EVENT_SOURCE_SAGEMAKER, "detail-type": contracts.DETAIL_ENDPOINT_STATE,
                "account": account, "region": REGION, "time": "2026-07-01T00:00:00Z", "resources": [],
                "detail": {"EndpointName": name, "EndpointStatus": "IN_SERVICE"}}
    stack_id = f"arn:aws:cloudformation:{REGION}:{account}:stack/{name}/0b1c2d3e"
    return {"id": "2", "source": contracts.EVENT_SOURCE_CLOUDFORMATION, "detail-type": contracts.DETAIL_STACK_STATUS,
            "account": account, "region": REGION, "time": "2026-07-01T00:00:00Z", "resources": [],
            "detail": {"stack-id": stack_id, "status-details": {"status": "UPDATE_ROLLBACK_COMPLETE"}}}


def _matches(pattern: dict, event: dict) -> bool:
    """EventBridge matching as moto's EventBridge implements it (prefix, lists, nesting)."""
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def _resolve(value, template: dict):
    """Enough of CloudFormation for these patterns and ARNs: Fn::Join, AWS::Partition/Region/AccountId refs."""
    stack_env = template["_env"]
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(_resolve(p, template)) for p in parts)
        if value.get("Ref") in ("AWS::Partition", "AWS::Region", "AWS::AccountId"):
            return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": stack_env}[value["Ref"]]
        return {k: _resolve(v, template) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, template) for v in value]
    return value


@pytest.fixture(scope="module")
def templates(pinned_app) -> dict:
    found = {}
    for name, template in pinned_app.templates.items():
        stage = name.removesuffix("-access").rsplit("-", 1)[-1]
        account = {"staging": STAGING, "prod": PROD}.get(stage, TOOLING)
        found[name] = {**template, "_env": account}
    return found


def test_the_bus_policy_admits_exactly_the_stage_accounts(templates):
    governance = templates[GOVERNANCE]
    (bus,) = _of_type(governance, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == contracts.governance_bus_name("mlops")
    statements = [s for p in _of_type(governance, "AWS::Events::EventBusPolicy").values()
                  for s in [p["Properties"]["Statement"]]]
    statements += [s for b in [bus] for s in (b["Properties"].get("Policy") or {}).get("Statement", [])]
    principals = set()
    for statement in statements:
        assert statement["Effect"] == "Allow" and statement["Action"] == "events:PutEvents"
        listed = statement["Principal"]["AWS"]
        for entry in listed if isinstance(listed, list) else [listed]:
            principals.add(_resolve(entry, governance).split(":")[4])
    assert principals == {STAGING, PROD}


@pytest.mark.parametrize("model", ENDPOINT_MODELS)
@pytest.mark.parametrize(("stage", "account"), [("staging", STAGING), ("prod", PROD)])
def test_each_stage_forwards_its_endpoint_and_stack_events_to_the_governance_bus(templates, model, stage, account):
    stack = f"mlops-{model}-{stage}"
    endpoint = contracts.endpoint_name(model, stage)
    template = templates[f"{stack}-access"]
    assert not [k for k in templates[stack]["Resources"] if "Audit" in k], "the endpoint stack holds no forwarding"
    rules = {k: _resolve(v["Properties"], template) for k, v in _of_type(template, "AWS::Events::Rule").items()
             if "AuditForward" in k}
    assert len(rules) == 2
    bus_arn = f"arn:aws:events:{REGION}:{TOOLING}:event-bus/{contracts.governance_bus_name('mlops')}"
    for rule in rules.values():
        [target] = rule["Targets"]
        assert target["Arn"] == bus_arn and target.get("RoleArn")
    patterns = [r["EventPattern"] for r in rules.values()]
    for event in (_sample("endpoint", account, endpoint), _sample("stack", account, stack)):
        assert sum(_matches(p, event) for p in patterns) == 1, event["detail-type"]
        governance_rules = [_resolve(r["Properties"], templates[GOVERNANCE]) for r in
                            _of_type(templates[GOVERNANCE], "AWS::Events::Rule").values()
                            if r["Properties"].get("EventBusName")]
        hits = [r for r in governance_rules if _matches(r["EventPattern"], event)]
        assert len(hits) == 1 and "AuditWriter" in json.dumps(hits[0]["Targets"][0]["Arn"])
    other = _sample("endpoint", account, contracts.endpoint_name("someone-else", stage))
    assert not any(_matches(p, other) for p in patterns)


def test_events_from_an_account_outside_the_matrix_match_no_governance_rule(templates):
    governance_rules = [_resolve(r["Properties"], templates[GOVERNANCE]) for r in
                        _of_type(templates[GOVERNANCE], "AWS::Events::Rule").values()
                        if r["Properties"].get("EventBusName")]
    stranger = _sample("endpoint", "444444444444", contracts.endpoint_name("fraud-detection", "prod"))
    assert governance_rules and not any(_matches(r["EventPattern"], stranger) for r in governance_rules)


def test_the_writer_reads_each_stage_endpoint_through_the_role_deployed_with_it(templates):
    governance = templates[GOVERNANCE]
    (writer,) = [v for k, v in _of_type(governance, "AWS::Lambda::Function").items() if "AuditWriter" in k]
    readers = json.loads(_resolve(writer["Properties"]["Environment"]["Variables"][contracts.ENV_ENDPOINT_READERS],
                                  governance))
    assumable = {r for p in _of_type(governance, "AWS::IAM::Policy").values()
                 for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"
                 for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert {v["role"] for v in readers.values()} == {_resolve(r, governance) for r in assumable}
    for model in ENDPOINT_MODELS:
        for stage, account in (("staging", STAGING), ("prod", PROD)):
            endpoint = contracts.endpoint_name(model, stage)
            role_name = contracts.audit_reader_role_name(endpoint)
            assert readers[endpoint] == {"role": f"arn:aws:iam::{account}:role/{role_name}", "region": REGION}
            template = templates[f"mlops-{model}-{stage}-access"]
            (role,) = [v for v in _of_type(template, "AWS::IAM::Role").values()
                       if v["Properties"].get("RoleName") == role_name]
            [trust] = _resolve(role["Properties"]["AssumeRolePolicyDocument"], template)["Statement"]
            assert trust["Principal"]["AWS"] == f"arn:aws:iam::{TOOLING}:root"
            assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{TOOLING}:role/"
                                                                           f"{GOVERNANCE}-*"}}


def test_without_stage_accounts_there_is_no_bus_and_no_forwarding(example_app):
    assert not _of_type(example_app.templates[GOVERNANCE], "AWS::Events::EventBus")
    assert not [k for k in example_app.templates["mlops-fraud-detection-prod"]["Resources"] if "AuditForward" in k]
    assert not [name for name in example_app.templates if name.endswith("-access")]



def test_the_writer_describes_a_stage_endpoint_in_its_own_account(lambda_context):
    """moto keeps one backend per account: the endpoint exists only in the stage account, reached via the role."""
    import boto3

    from tests.support import governance_helpers as h

    endpoint = h.ENDPOINT
    role = f"arn:aws:iam::{PROD}:role/{contracts.audit_reader_role_name(endpoint)}"
    readers = {contracts.ENV_ENDPOINT_READERS: json.dumps({endpoint: {"role": role, "region": REGION}})}
    with h.audit_trail(lambda_context, readers) as trail:
        credentials = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"]
        stage = boto3.client("sagemaker", region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"])
        package = f"arn:aws:sagemaker:us-east-1:{h.ACCOUNT}:model-package/{h.MODEL}/3"
        stage.create_model(ModelName="m3", ExecutionRoleArn=f"arn:aws:iam::{PROD}:role/serving",
                           PrimaryContainer={"ModelPackageName": package})
        stage.create_endpoint_config(EndpointConfigName="c3", ProductionVariants=[
            {"VariantName": "primary", "ModelName": "m3", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        stage.create_endpoint(EndpointName=endpoint, EndpointConfigName="c3")
        event = h.event(contracts.DETAIL_ENDPOINT_STATE, "2026-07-01T00:00:00Z",
                        {"EndpointName": endpoint, "EndpointStatus": "IN_SERVICE"})
        event["account"] = PROD
        trail.write(event)
        record = trail.table.get_item(Key={"pk": f"endpoint#{endpoint}", "sk": "2026-07-01T00:00:00Z#" + event["id"]})
        assert record["Item"]["serving"][0]["model_package_arn"] == package
        assert record["Item"]["endpoint_config_name"] == "c3"


@pytest.mark.parametrize("stack", [GOVERNANCE])
def test_the_cross_account_templates_pass_cfn_lint(pinned_app, stack):
    from pathlib import Path

    from cfnlint.api import ManualArgs, lint_file

    template = Path(pinned_app.assembly.directory) / f"{stack}.template.json"
    matches = lint_file(template, ManualArgs(regions=[REGION]))
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []


def test_the_forwarding_role_is_named_by_contract_and_only_eventbridge_of_its_own_account_assumes_it(templates):
    """The audit roles carry the names ``contracts`` gives them (the writer's ENDPOINT_READERS names the reader);
    the forwarding role is a service-principal grant, so it is narrowed with aws:SourceAccount."""
    for model in ENDPOINT_MODELS:
        for stage, account in (("staging", STAGING), ("prod", PROD)):
            endpoint = contracts.endpoint_name(model, stage)
            template = templates[f"mlops-{model}-{stage}-access"]
            roles = {v["Properties"].get("RoleName"): v for k, v in _of_type(template, "AWS::IAM::Role").items()
                     if k.startswith("Audit")}
            assert set(roles) == {contracts.audit_forward_role_name(endpoint),
                                  contracts.audit_reader_role_name(endpoint)}
            forward = roles[contracts.audit_forward_role_name(endpoint)]
            [trust] = _resolve(forward["Properties"]["AssumeRolePolicyDocument"], template)["Statement"]
            assert trust["Principal"] == {"Service": "events.amazonaws.com"}
            assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
