"""Registry lifecycle: set at registration, moved by the CD pipeline's recorder, recorded by the audit trail.

The recorder is exercised with botocore's Stubber, which validates every request against the SageMaker and
CodePipeline service models shipped with botocore (ModelLifeCycle's Stage/StageStatus/StageDescription).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber

import mlops_contracts as contracts
from governance_code import model_lifecycle as lifecycle
from mlops_cli.main import main
from tests.support import governance_helpers as h
from tests.support.lambda_handlers import load_handler
from tests.support.pipeline_definition_helpers import definition_of, walk_steps

GROUP = "fraud-detection"
PIPELINE = contracts.deploy_pipeline_name("fraud-detection")
FRAUD = "mlops-fraud-detection"


def _arn(version: int) -> str:
    return f"arn:aws:sagemaker:us-east-1:{h.ACCOUNT}:model-package/{GROUP}/{version}"


@pytest.fixture
def recorder():
    with load_handler("lifecycle_recorder", {contracts.ENV_MODEL_PACKAGE_GROUP: GROUP,
                                             contracts.ENV_PIPELINE_NAME: PIPELINE}) as module:
        sagemaker, codepipeline = Stubber(module._sagemaker()), Stubber(module._codepipeline())
        sagemaker.activate()
        codepipeline.activate()
        yield module, sagemaker, codepipeline
        sagemaker.assert_no_pending_responses()
        codepipeline.assert_no_pending_responses()


def _job(parameters) -> dict:
    text = parameters if isinstance(parameters, str) else json.dumps(parameters)
    return {"CodePipeline.job": {"id": "job-1", "data": {"actionConfiguration": {"configuration": {
        "FunctionName": "recorder", "UserParameters": text}}}}}


def _expect_update(stub, arn: str, stage: tuple[str, str]) -> None:
    stub.add_response("update_model_package", {"ModelPackageArn": arn}, {
        "ModelPackageArn": arn, "ModelLifeCycle": {"Stage": stage[0], "StageStatus": stage[1],
                                                   "StageDescription": ANY}})


def test_staging_passed_moves_the_deployed_package_only(recorder, lambda_context):
    module, sagemaker, codepipeline = recorder
    _expect_update(sagemaker, _arn(5), contracts.LIFECYCLE_STAGING_PASSED)
    codepipeline.add_response("put_job_success_result", {}, {"jobId": "job-1"})
    result = module.handler(_job({"transition": "staging-passed", "package": _arn(5), "execution": "e-1"}), lambda_context)
    assert result == {"updated": [_arn(5)]}


def test_prod_running_marks_what_serves_and_replaces_what_no_longer_does(recorder, lambda_context):
    """A/B prod: v5 (challenger) and v4 (champion, already running) serve; v3 ran before and is replaced."""
    module, sagemaker, codepipeline = recorder
    sagemaker.add_response("list_model_packages", {"ModelPackageSummaryList": [
        {"ModelPackageArn": _arn(v), "ModelPackageGroupName": GROUP, "ModelPackageVersion": v,
         "CreationTime": f"2026-06-0{v}T00:00:00Z", "ModelPackageStatus": "Completed",
         "ModelApprovalStatus": "Approved"} for v in (5, 4, 3, 2)]},
        {"ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"})
    stages = {5: contracts.LIFECYCLE_STAGING_PASSED, 4: contracts.LIFECYCLE_PROD_RUNNING,
              3: contracts.LIFECYCLE_PROD_RUNNING, 2: contracts.LIFECYCLE_PROD_REPLACED}
    for version, stage in stages.items():
        sagemaker.add_response("describe_model_package", {
            "ModelPackageName": GROUP, "ModelPackageArn": _arn(version), "CreationTime": "2026-06-01T00:00:00Z",
            "ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "ModelLifeCycle": {"Stage": stage[0], "StageStatus": stage[1]}}, {"ModelPackageName": _arn(version)})
    _expect_update(sagemaker, _arn(5), contracts.LIFECYCLE_PROD_RUNNING)
    _expect_update(sagemaker, _arn(3), contracts.LIFECYCLE_PROD_REPLACED)
    codepipeline.add_response("put_job_success_result", {}, {"jobId": "job-1"})
    result = module.handler(_job({"transition": "prod-running", "package": _arn(5),
                                  "serving": f"{_arn(5)},{_arn(4)}", "execution": "e-9"}), lambda_context)
    assert result == {"updated": [_arn(5), _arn(3)]}


@pytest.mark.parametrize(("parameters", "message"), [
    ("not json", "UserParameters is not JSON"),
    ({"transition": "archive", "package": _arn(1)}, "transition 'archive' is not one of"),
    ({"transition": "staging-passed", "package": "v1"}, "is not a model-package ARN"),
    ({"transition": "staging-passed", "package": _arn(1).replace(GROUP, "other-model")}, "not in group"),
])
def test_a_bad_request_fails_the_action_and_moves_nothing(recorder, parameters, message, lambda_context):
    module, _, codepipeline = recorder
    codepipeline.add_response("put_job_failure_result", {}, {"jobId": "job-1", "failureDetails": {
        "type": "JobFailed", "message": ANY}})
    assert message in module.handler(_job(parameters), lambda_context)["failed"]


def test_descriptions_fit_the_api_limit():
    request = lifecycle.parse_parameters(json.dumps({"transition": "prod-running", "package": _arn(1),
                                                     "serving": ",".join(_arn(v) for v in range(1, 3))}))
    made = lifecycle.updates(request, {}, "p" * 2000)
    assert made and all(len(u["ModelLifeCycle"]["StageDescription"]) <= lifecycle.MAX_DESCRIPTION for u in made)


# --- the audit trail records each transition; `mlops lineage` shows them --------------------------------------

def test_the_audit_trail_records_each_transition_and_lineage_shows_it(capsys, lambda_context):
    with h.audit_trail(lambda_context, {contracts.ENV_ENDPOINT_STACKS: "{}"}) as trail:
        sagemaker = trail.sagemaker
        state: dict = {}

        def as_the_api_returns_it(parsed, **_):  # moto keeps neither ModelLifeCycle nor the modifier's identity
            if parsed.get("ModelPackageArn") and state:
                parsed["ModelLifeCycle"] = dict(state["cycle"])
                parsed["LastModifiedBy"] = {"IamIdentity": {"Arn": state["actor"]}}

        sagemaker.meta.events.register("after-call.sagemaker.DescribeModelPackage", as_the_api_returns_it)
        execution = h.start_build(sagemaker, "a" * 40, "s3://data/")
        metadata = h.lineage_metadata("a" * 40, execution, "train-v1", "d" * 64)
        arn = h.register_package(sagemaker, metadata)
        build = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/fraud-detection-build/SageMaker"
        recorder = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/lifecycle-recorder/fn"
        steps = [("2026-06-01T09:00:00Z", contracts.LIFECYCLE_REGISTERED, build, "PendingManualApproval"),
                 ("2026-06-01T10:00:00Z", contracts.LIFECYCLE_REGISTERED, build, "Approved"),
                 ("2026-06-01T11:00:00Z", contracts.LIFECYCLE_STAGING_PASSED, recorder, "Approved"),
                 ("2026-06-01T12:00:00Z", contracts.LIFECYCLE_PROD_RUNNING, recorder, "Approved"),
                 ("2026-07-01T12:00:00Z", contracts.LIFECYCLE_PROD_REPLACED, recorder, "Approved")]
        for time, stage, actor, approval in steps:
            state.update(cycle={"Stage": stage[0], "StageStatus": stage[1], "StageDescription": f"at {time}"},
                         actor=actor)
            trail.write(h.package_event(time, arn, approval))
        capsys.readouterr()  # the writer's logs
        code = main(["lineage", arn, "--table", h.TABLE, "--region", h.REGION, "--json"])
        result = json.loads(capsys.readouterr().out)
        assert code == 3 and all("training job train-v1" in p for p in result["problems"])  # no job in moto
        assert [(t["stage"], t["status"], t["actor"]) for t in result["audit"]["lifecycle"]] == [
            (*contracts.LIFECYCLE_REGISTERED, build), (*contracts.LIFECYCLE_STAGING_PASSED, recorder),
            (*contracts.LIFECYCLE_PROD_RUNNING, recorder), (*contracts.LIFECYCLE_PROD_REPLACED, recorder)]
        main(["lineage", arn, "--table", h.TABLE, "--region", h.REGION])
        text = capsys.readouterr().out
        lines = [" ".join(line.split()) for line in text.splitlines()]
        assert f"2026-07-01T12:00:00Z Production/Replaced by {recorder} at 2026-07-01T12:00:00Z" in lines
        assert f"2026-06-01T11:00:00Z Staging/Passed by {recorder} at 2026-06-01T11:00:00Z" in lines


# --- synthesized: registration, pipeline actions and least privilege --------------------------------------------

def test_the_build_pipeline_registers_every_package_at_the_first_stage(example_app):
    definition = definition_of(example_app.templates[FRAUD])
    (register,) = [s for s in walk_steps(definition["Steps"]) if s["Type"] == "RegisterModel"]
    cycle = register["Arguments"]["ModelLifeCycle"]
    assert (cycle["Stage"], cycle["StageStatus"]) == contracts.LIFECYCLE_REGISTERED


def _resources_of(example_app, stack: str, kind: str) -> dict:
    return {k: v for k, v in example_app.templates[stack]["Resources"].items() if v["Type"] == kind}


def test_the_pipeline_records_staging_and_prod_with_the_packages_the_prod_stack_serves(example_app):
    (pipeline,) = [p for p in _resources_of(example_app, FRAUD, "AWS::CodePipeline::Pipeline").values()
                   if p["Properties"].get("Name") == PIPELINE]
    invoked = {a["Name"]: json.loads(a["Configuration"]["UserParameters"])
               for s in pipeline["Properties"]["Stages"] for a in s["Actions"]
               if a["ActionTypeId"]["Provider"] == "Lambda"}
    assert invoked["RecordStagingPassed"]["transition"] == "staging-passed"
    prod = invoked["RecordProdRunning"]
    assert (prod["transition"], prod["package"]) == ("prod-running", "#{Resolve.MODEL_PACKAGE_ARN}")
    namespace, output = prod["serving"].strip("#{}").split(".")
    assert namespace == "DeployProd" and output in example_app.templates[f"{FRAUD}-prod"]["Outputs"]
    for parameters in invoked.values():
        lifecycle.parse_parameters(json.dumps({**parameters, "package": _arn(1), "serving": _arn(1)}))


def test_only_the_recorder_may_update_packages_and_only_by_a_real_lifecycle_condition_key(example_app):
    """The condition key must be one IAM knows for model-package resources (cfn-lint's bundled IAM spec)."""
    import cfnlint

    spec = json.loads((Path(cfnlint.__file__).parent / "data/AdditionalSpecs/Policies.json").read_text())
    keys = spec["sagemaker"]["Resources"]["model-package"]["ConditionKeys"]
    updaters = []
    for name, policy in _resources_of(example_app, FRAUD, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "sagemaker:UpdateModelPackage" in actions or "sagemaker:*" in actions:
                updaters.append(name)
                assert actions == ["sagemaker:UpdateModelPackage"]
                (condition,) = statement["Condition"]["StringEqualsIfExists"].items()
                assert condition[0] in keys and condition[1] == list(contracts.LIFECYCLE_STAGES)
                assert json.dumps(statement["Resource"]).endswith(f':model-package/{GROUP}/*"]]}}')
    assert len(updaters) == 1 and "Lifecycle" in updaters[0]
