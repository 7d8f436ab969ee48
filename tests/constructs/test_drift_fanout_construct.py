"""DriftFanOut's state machine is real: its definition is valid ASL (cfn-lint's Step Functions schema), every
Lambda it invokes exists in the template, its role holds every permission AWS documents for what it does, and the
synthesized definition drives the Lambda code to the single pass's report (tests/runtime/test_drift_fanout.py).

Permissions a Distributed Map needs, from the Step Functions Developer Guide ("IAM policies for using Distributed
Map states"): states:StartExecution on the state machine itself, states:DescribeExecution and StopExecution on its
executions; s3:GetObject for an ItemReader reading a file; s3:PutObject, s3:GetObject, s3:ListMultipartUploadParts
and s3:AbortMultipartUpload for a ResultWriter; kms:Decrypt (read) and kms:GenerateDataKey (write) when the bucket
is encrypted with a customer managed key. A Task state needs lambda:InvokeFunction on its function.
"""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from aws_cdk import Stack

import mlops_contracts as contracts
from mlops_constructs._private.wildcard_review import add_nag_checks
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.monitor.drift_fanout import DriftFanOut
from tests.conftest import new_app

ENDPOINT = "fraud-detection-prod"


@pytest.fixture(scope="module")
def synthesized():
    app = new_app()
    stack = Stack(app, "FanOut")
    core = ModelCore(stack, "Core", model_name="fraud-detection", owner="risk@example.com")
    fanout = DriftFanOut(stack, "DriftFanOut", endpoint_name=ENDPOINT, data_bucket=core.data_bucket,
                         artifact_bucket=core.artifact_bucket, baselines_prefix=f"{contracts.ARTIFACT_PREFIX}/", key=core.key,
                         topic=core.topic, environment={contracts.ENV_MODEL_NAME: "fraud-detection"})
    add_nag_checks(app)  # cdk-nag, with IAM wildcards acknowledged from the reviewed allow-list
    assembly = app.synth()  # cdk-nag findings fail here
    template = assembly.get_stack_by_name("FanOut").template
    return template, stack, fanout, Path(assembly.directory) / "FanOut.template.json", core


def _token(value) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return f"${{Ref:{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"${{GetAtt:{'.'.join(value['Fn::GetAtt'])}}}"
    raise AssertionError(f"unexpected token in the definition: {value}")


def _deployed(value) -> str:
    """A token as CloudFormation would resolve it in us-east-1 (for the schema's ARN patterns)."""
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{value['Fn::GetAtt'][0]}"
    return value["Ref"].lower()  # a bucket name


def definition(template: dict, *, deployed: bool = False) -> tuple[str, dict]:
    """The state machine's logical ID and its definition, tokens rendered as ${Ref:X} / ${GetAtt:X.Arn} (or, with
    ``deployed``, as the values CloudFormation would put there)."""
    [(logical_id, machine)] = [(k, r) for k, r in template["Resources"].items()
                               if r["Type"] == "AWS::StepFunctions::StateMachine"]
    body = machine["Properties"]["DefinitionString"]
    render = _deployed if deployed else _token
    text = body if isinstance(body, str) else "".join(
        p if isinstance(p, str) else render(p) for p in body["Fn::Join"][1])
    return logical_id, json.loads(text)


def states(graph: dict):
    for name, state in graph["States"].items():
        yield name, state
        if "ItemProcessor" in state:
            yield from states(state["ItemProcessor"])


def role_statements(template: dict, role_logical_id: str) -> list[dict]:
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _render(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_render(p) for p in value["Fn::Join"][1])
    if isinstance(value, dict) and "Fn::Select" in value:
        return "${StateMachineName}"  # Fn::Select(6, Fn::Split(":", <state machine ARN>))
    return _token(value)


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    """Some Allow statement grants ``action`` on ``resource`` (IAM wildcards in either list honoured)."""
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
                fnmatch.fnmatchcase(resource, _render(r)) for r in resources):
            return True
    return False


def _machine(template):
    machine_id, asl = definition(template)
    role = template["Resources"][machine_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return machine_id, asl, role_statements(template, role)


def asl_errors(asl: dict) -> list[str]:
    """Violations of cfn-lint's Amazon States Language schema (cfn-lint skips definitions built with Fn::Join)."""
    from cfnlint.data.schemas.other import step_functions
    from cfnlint.jsonschema.validators import StandardValidator

    schema = json.loads((Path(step_functions.__file__).parent / "statemachine.json").read_text())
    return [f"{list(e.path)}: {e.message}" for e in StandardValidator(schema).iter_errors(asl)]


def test_definition_is_valid_amazon_states_language(synthesized):
    template, *_ = synthesized
    _, asl = definition(template, deployed=True)
    assert asl_errors(asl) == []
    [(_, distributed)] = [(n, s) for n, s in states(asl) if s.get("ItemProcessor")]
    assert distributed["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert {"ItemReader", "ResultWriter", "ItemSelector"} <= set(distributed)
    assert distributed.get("ToleratedFailurePercentage", 0) == 0  # a failed child fails the hour, never a part
    broken = json.loads(json.dumps(asl))
    broken["States"][asl["StartAt"]]["ResultWriterr"] = broken["States"][asl["StartAt"]].pop("ResultWriter")
    assert asl_errors(broken)  # the schema check can fail


def test_template_passes_cfn_lint(synthesized):
    from cfnlint.api import ManualArgs, lint_file

    path = synthesized[3]
    findings = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
    assert [str(f) for f in findings if f.rule.id[0] in "EW"] == []


def test_every_invoked_lambda_exists_and_may_be_invoked(synthesized):
    template, *_ = synthesized
    _, asl, statements = _machine(template)
    tasks = [s for _, s in states(asl) if s["Type"] == "Task"]
    assert len(tasks) == 2
    for task in tasks:
        resource = task["Resource"]
        if resource.endswith(":states:::lambda:invoke"):
            resource = task["Parameters"]["FunctionName"]
        function_id = resource.removeprefix("${GetAtt:").removesuffix(".Arn}")
        assert template["Resources"][function_id]["Type"] == "AWS::Lambda::Function", resource
        assert allowed(statements, "lambda:InvokeFunction", resource)


def test_distributed_map_holds_every_documented_permission(synthesized):
    template, *_ = synthesized
    machine_id, asl, statements = _machine(template)
    [map_state] = [s for _, s in states(asl) if s.get("ItemProcessor")]
    machine_arn = f"${{Ref:{machine_id}}}"
    assert allowed(statements, "states:StartExecution", machine_arn)
    for action in ("states:DescribeExecution", "states:StopExecution"):
        assert allowed(statements, action, "arn:${Ref:AWS::Partition}:states:${Ref:AWS::Region}:"
                                           "${Ref:AWS::AccountId}:execution:${StateMachineName}:child-1")
    reader, writer = map_state["ItemReader"], map_state["ResultWriter"]
    assert reader["Resource"].endswith(":states:::s3:getObject")
    assert writer["Resource"].endswith(":states:::s3:putObject")
    reader_object = f"arn:${{Ref:AWS::Partition}}:s3:::{reader['Parameters']['Bucket']}/monitoring/x/batches.json"
    assert allowed(statements, "s3:GetObject", reader_object)
    writer_object = (f"arn:${{Ref:AWS::Partition}}:s3:::{writer['Parameters']['Bucket']}/"
                     f"{writer['Parameters']['Prefix']}/run-id/SUCCEEDED_0.json")
    for action in ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"):
        assert allowed(statements, action, writer_object), action
    bucket_id = writer["Parameters"]["Bucket"].removeprefix("${Ref:").removesuffix("}")
    encryption = template["Resources"][bucket_id]["Properties"]["BucketEncryption"]
    key_arn = _token(encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                     ["KMSMasterKeyID"])
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allowed(statements, action, key_arn), action


def test_functions_may_read_what_the_definition_hands_them(synthesized):
    template, stack, fanout, _, core = synthesized
    count_role = stack.get_logical_id(fanout.count_function.role.node.default_child)
    reduce_role = stack.get_logical_id(fanout.reduce_function.role.node.default_child)
    data = "arn:${Ref:AWS::Partition}:s3:::${Ref:" + stack.get_logical_id(core.data_bucket.node.default_child) + "}"
    count, reduce = role_statements(template, count_role), role_statements(template, reduce_role)

    def can(statements, action, key):  # arn_for_objects renders as <bucket ARN>/key
        bucket_arn = "${GetAtt:" + data.split("${Ref:")[-1].rstrip("}") + ".Arn}"
        return allowed(statements, action, f"{bucket_arn}/{key}") or allowed(statements, action, f"{data}/{key}")

    hour = f"{contracts.MONITORING_REPORTS_PREFIX}/{ENDPOINT}/drift-fanout/2026/11/01/12"
    assert can(count, "s3:GetObject", f"{contracts.CAPTURE_PREFIX}/{ENDPOINT}/primary/2026/11/01/12/a.jsonl")
    assert can(count, "s3:GetObject", f"{hour}/plan.json")
    assert not can(count, "s3:PutObject", f"{contracts.MONITORING_REPORTS_PREFIX}/{ENDPOINT}/2026/11/01/12/drift.json")
    assert can(reduce, "s3:GetObject", f"{hour}/results/run/manifest.json")
    assert can(reduce, "s3:PutObject", f"{contracts.MONITORING_REPORTS_PREFIX}/{ENDPOINT}/2026/11/01/12/drift.json")
    assert not can(reduce, "s3:GetObject", f"{contracts.CAPTURE_PREFIX}/{ENDPOINT}/primary/2026/11/01/12/a.jsonl")


def test_synthesized_definition_drives_the_lambdas_to_the_single_pass_report(
        synthesized, drift_detector, drift_baseline, monkeypatch, capsys, lambda_context):
    from tests.runtime import test_drift_fanout as runtime

    template, *_ = synthesized
    _, asl = definition(template)
    [map_state] = [s for _, s in states(asl) if s.get("ItemProcessor")]
    report_state = asl["States"][map_state["Next"]]
    assert map_state["ResultPath"] == "$.map"
    runtime.hour_with_two_variants(drift_baseline)
    drift_detector.handler({"time": runtime.aws.EVENT_TIME}, lambda_context)
    single = runtime.stored_report_bytes()
    execution_input, _ = runtime.fanout_input(drift_detector, batch_bytes=150_000)
    runtime.run_fanout(drift_detector, monkeypatch, capsys, lambda_context, execution_input,
                       item_selector=map_state["ItemSelector"], report_parameters=report_state["Parameters"])
    assert runtime.stored_report_bytes() == single
