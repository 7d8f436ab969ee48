"""The CI run stage's runner: parameters, start, wait, and SageMaker's failure reasons (botocore Stubber)."""
from __future__ import annotations

import argparse

import boto3
import pytest
from botocore.stub import Stubber

from mlops_cli.pipeline_commands import main as pipeline_main
from mlops_cli.pipeline_commands import run_start
from pipeline_code.pipeline_runner import (
    PipelineExecutionFailed,
    display_name,
    execution_parameters,
    wait_for_execution,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-detection-build/execution/abc123def456"


@pytest.fixture()
def sagemaker():
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _status(stubber, status, reason=None):
    response = {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}
    if reason:
        response["FailureReason"] = reason
    stubber.add_response("describe_pipeline_execution", response, {"PipelineExecutionArn": ARN})


def _args(**overrides):
    values = {"model": "fraud-detection", "pipeline_name": None, "trigger": "code", "git_commit": "3f2c1ab9d8e7f6a5",
              "input_data_url": None, "param": [], "wait": True, "poll_seconds": 0.0, "timeout_minutes": 1.0,
              "region": None}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_parameters_carry_trigger_commit_and_data():
    assert execution_parameters(trigger="code", git_commit="abc", input_data_url="s3://b/p/") == [
        {"Name": "Trigger", "Value": "code"}, {"Name": "GitCommit", "Value": "abc"},
        {"Name": "InputDataUrl", "Value": "s3://b/p/"}]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trigger": "push"}, "trigger 'push' is not one of"),
    ({"trigger": "code", "input_data_url": "/local/data"}, "must be an s3:// URI"),
    ({"trigger": "code", "extra": {"Trigger": "x"}}, "parameter 'Trigger' is set twice"),
    ({"trigger": "code", "extra": {"bad name": "x"}}, "parameter name 'bad name'"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        execution_parameters(**kwargs)


def test_display_name_fits_sagemaker_pattern():
    assert display_name("code", "3f2c1ab9d8e7f6a5b4c3") == "code-3f2c1ab9d8e7"
    assert display_name("new-data") == "new-data"


def test_run_start_passes_commit_and_trigger_and_succeeds(sagemaker, capsys):
    client, stubber = sagemaker
    stubber.add_response(
        "start_pipeline_execution", {"PipelineExecutionArn": ARN},
        {"PipelineName": "fraud-detection-build", "PipelineExecutionDisplayName": "code-3f2c1ab9d8e7",
         "PipelineExecutionDescription": "Started by mlops pipeline start (trigger code)",
         "PipelineParameters": [{"Name": "Trigger", "Value": "code"},
                                {"Name": "GitCommit", "Value": "3f2c1ab9d8e7f6a5"}]},
    )
    _status(stubber, "Executing")
    _status(stubber, "Succeeded")
    assert run_start(_args(), client=client) == 0
    assert f"{ARN} succeeded" in capsys.readouterr().out


def test_failed_execution_fails_the_build_with_the_step_and_reason(sagemaker, capsys):
    client, stubber = sagemaker
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN})
    _status(stubber, "Executing")
    _status(stubber, "Failed")
    _status(stubber, "Failed", reason="Step failure: One or multiple steps failed.")
    stubber.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": [
        {"StepName": "Validate", "StepStatus": "Succeeded"},
        {"StepName": "QualityGate", "StepStatus": "Failed",
         "FailureReason": "ClientError: recall 0.91 is below the floor 0.95"},
    ]}, {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"})
    assert run_start(_args(), client=client) == 1
    err = capsys.readouterr().err
    assert f"Pipeline execution {ARN} ended Failed." in err
    assert "Step QualityGate Failed: ClientError: recall 0.91 is below the floor 0.95" in err
    assert "Validate" not in err


def test_wait_times_out_with_a_clear_message(sagemaker):
    client, stubber = sagemaker
    for _ in range(3):
        _status(stubber, "Executing")
    with pytest.raises(TimeoutError, match="still Executing after 20 s"):
        wait_for_execution(client, ARN, poll_seconds=10, timeout_seconds=20, sleep=lambda s: None, log=lambda m: None)


def test_stopped_execution_counts_as_failure(sagemaker):
    client, stubber = sagemaker
    _status(stubber, "Stopped")
    _status(stubber, "Stopped")
    stubber.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": []})
    with pytest.raises(PipelineExecutionFailed) as failure:
        wait_for_execution(client, ARN, sleep=lambda s: None, log=lambda m: None)
    assert failure.value.status == "Stopped"


def test_bad_cli_input_exits_2_with_the_reason(capsys):
    assert pipeline_main(["start", "--model", "fraud-detection", "--param", "novalue"]) == 2
    assert "--param 'novalue' must look like NAME=VALUE" in capsys.readouterr().err


def test_run_buildspec_command_is_a_valid_runner_invocation(sagemaker, monkeypatch):
    """buildspecs/ci-run.yml and the CLI agree: the exact command, with CodeBuild's variables, starts and waits."""
    import shlex

    import yaml

    from tests.conftest import REPO

    client, stubber = sagemaker
    [command] = yaml.safe_load((REPO / "buildspecs/ci-run.yml").read_text())["phases"]["build"]["commands"]
    env = {"PIPELINE_NAME": "fraud-detection-build", "GIT_COMMIT": "3f2c1ab9d8e7f6a5", "WAIT_MINUTES": "475"}
    argv = shlex.split(command)
    for name, value in env.items():  # what bash does with CodeBuild's environment
        argv = [a.replace(f"${name}", value) for a in argv]
    assert argv[:3] == ["python", "-m", "mlops_cli.pipeline_commands"]
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, {
        "PipelineName": "fraud-detection-build", "PipelineExecutionDisplayName": "code-3f2c1ab9d8e7",
        "PipelineExecutionDescription": "Started by mlops pipeline start (trigger code)",
        "PipelineParameters": [{"Name": "Trigger", "Value": "code"},
                               {"Name": "GitCommit", "Value": "3f2c1ab9d8e7f6a5"}]})
    _status(stubber, "Succeeded")
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    assert pipeline_main(argv[3:]) == 0
