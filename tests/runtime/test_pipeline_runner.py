"""The CI run stage's runner: parameters, start, wait, and SageMaker's failure reasons (botocore Stubber)."""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

import mlops_contracts as contracts
from mlops_cli.pipeline_commands import main as pipeline_main
from mlops_cli.pipeline_commands import run_start
from pipeline_code.code_bundle import build_code_zip
from tests.conftest import REPO
from tooling_code.pipeline_runner import (
    PipelineExecutionFailed,
    display_name,
    execution_parameters,
    upload_code,
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
              "region": None, "upload_code": None, "code_bucket": None, "code_kms_key": None}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_parameters_carry_trigger_commit_and_data():
    assert execution_parameters(trigger="code", git_commit="abc", input_data_url="s3://b/p/") == [
        {"Name": contracts.PARAM_TRIGGER, "Value": "code"}, {"Name": contracts.PARAM_GIT_COMMIT, "Value": "abc"},
        {"Name": contracts.PARAM_INPUT_DATA, "Value": "s3://b/p/"}]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trigger": "push"}, "trigger 'push' is not one of"),
    ({"trigger": "code", "input_data_url": "/local/data"}, "must be an s3:// URI"),
    ({"trigger": "code", "extra": {contracts.PARAM_TRIGGER: "x"}}, "parameter 'Trigger' is set twice"),
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
         "PipelineParameters": [{"Name": contracts.PARAM_TRIGGER, "Value": "code"},
                                {"Name": contracts.PARAM_GIT_COMMIT, "Value": "3f2c1ab9d8e7f6a5"}]},
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


def test_run_buildspec_uploads_this_commits_code_and_starts_the_pipeline_with_it(sagemaker, code_bucket, monkeypatch):
    """buildspecs/ci-run.yml and the CLI agree: the exact command, with CodeBuild's variables and the checked-out
    repository as working directory, uploads the commit's code zip, then starts with it and waits."""
    import shlex

    import yaml

    client, stubber = sagemaker
    s3, bucket, key_arn = code_bucket
    [command] = yaml.safe_load((REPO / "buildspecs/ci-run.yml").read_text())["phases"]["build"]["commands"]
    env = {contracts.ENV_MODEL_NAME: "fraud-detection", contracts.ENV_PIPELINE_NAME: "fraud-detection-build",
           contracts.ENV_GIT_COMMIT: COMMIT,
           contracts.ENV_WAIT_MINUTES: "475", contracts.ENV_CODE_BUCKET: bucket, contracts.ENV_CODE_KMS_KEY: key_arn}
    argv = shlex.split(command)
    for name, value in env.items():  # what bash does with CodeBuild's environment
        argv = [a.replace(f"${name}", value) for a in argv]
    assert argv[:3] == ["python", "-m", "mlops_cli.pipeline_commands"]
    code_url = f"s3://{bucket}/code/fraud-detection/{COMMIT}/pipeline_code.zip"
    expected_sha = build_code_zip(REPO / "pipeline_code", Path(tempfile.mkdtemp()) / "x.zip").sha256
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, {
        "PipelineName": "fraud-detection-build", "PipelineExecutionDisplayName": "code-3f2c1ab9d8e7",
        "PipelineExecutionDescription": "Started by mlops pipeline start (trigger code)",
        "PipelineParameters": [{"Name": contracts.PARAM_TRIGGER, "Value": "code"}, {"Name": contracts.PARAM_GIT_COMMIT, "Value": COMMIT},
                               {"Name": contracts.PARAM_CODE_URL, "Value": code_url},
                               {"Name": contracts.PARAM_CODE_SHA256, "Value": expected_sha}]})
    _status(stubber, "Succeeded")
    monkeypatch.setattr(boto3, "client", lambda service, **k: {"sagemaker": client, "s3": s3}[service])
    monkeypatch.chdir(REPO)  # CodeBuild runs in the source artifact: the repository at GIT_COMMIT
    assert pipeline_main(argv[3:]) == 0
    stored = s3.get_object(Bucket=bucket, Key=contracts.code_object_key("fraud-detection", COMMIT))
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == expected_sha


# --- the commit's code zip ----------------------------------------------------------------------------------------

COMMIT = "3f2c1ab9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"


@pytest.fixture()
def code_bucket():
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        yield s3, "artifacts", key_arn


@pytest.fixture()
def package(tmp_path):
    root = tmp_path / "pipeline_code"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "step.py").write_text("print('v1')\n")
    return root


def test_upload_puts_the_zip_under_the_commit_encrypted_with_the_key_and_its_hash(code_bucket, package):
    s3, bucket, key_arn = code_bucket
    uploaded = upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit=COMMIT,
                           kms_key_id=key_arn)
    key = contracts.code_object_key("fraud-detection", COMMIT)
    assert uploaded.url == f"s3://{bucket}/{key}"
    stored = s3.get_object(Bucket=bucket, Key=key)
    body = stored["Body"].read()
    assert hashlib.sha256(body).hexdigest() == uploaded.sha256
    assert stored["Metadata"] == {"sha256": uploaded.sha256, "git-commit": COMMIT}
    assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    assert zipfile.ZipFile(io.BytesIO(body)).read("pipeline_code/step.py") == b"print('v1')\n"
    assert uploaded.parameters() == {contracts.PARAM_CODE_URL: uploaded.url, contracts.PARAM_CODE_SHA256: uploaded.sha256}


def test_the_same_commit_uploads_the_same_bytes_and_a_change_a_new_hash(code_bucket, package):
    s3, bucket, _ = code_bucket
    first = upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit=COMMIT)
    os.utime(package / "step.py", (2_000_000_000, 2_000_000_000))  # a fresh checkout: new times, same content
    again = upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit=COMMIT)
    assert again == first
    (package / "step.py").write_text("print('v2')\n")
    changed = upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit="0" * 40)
    assert changed.sha256 != first.sha256 and changed.url.endswith(f"/{'0' * 40}/pipeline_code.zip")


@pytest.mark.parametrize("commit", ["", "main/../../other-model", "a b"])
def test_a_commit_that_cannot_name_a_prefix_is_refused_before_uploading(code_bucket, package, commit):
    s3, bucket, _ = code_bucket
    with pytest.raises(ValueError, match="must be 1-128 letters, digits"):
        upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit=commit)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_run_start_with_upload_passes_code_url_and_sha256(sagemaker, code_bucket, package, capsys):
    client, stubber = sagemaker
    s3, bucket, key_arn = code_bucket
    expected = upload_code(s3, package, bucket=bucket, model="fraud-detection", git_commit=COMMIT)
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, {
        "PipelineName": "fraud-detection-build", "PipelineExecutionDisplayName": "code-3f2c1ab9d8e7",
        "PipelineExecutionDescription": "Started by mlops pipeline start (trigger code)",
        "PipelineParameters": [{"Name": contracts.PARAM_TRIGGER, "Value": "code"}, {"Name": contracts.PARAM_GIT_COMMIT, "Value": COMMIT},
                               {"Name": contracts.PARAM_CODE_URL, "Value": expected.url},
                               {"Name": contracts.PARAM_CODE_SHA256, "Value": expected.sha256}]})
    args = _args(git_commit=COMMIT, wait=False, upload_code=str(package), code_bucket=bucket, code_kms_key=key_arn)
    assert run_start(args, client=client, s3_client=s3) == 0
    assert f"Uploaded code {expected.url} (sha256 {expected.sha256})" in capsys.readouterr().out


@pytest.mark.parametrize(("overrides", "message"), [
    ({"model": None, "pipeline_name": None}, "pass --model or --pipeline-name"),
    ({"upload_code": "pipeline_code", "code_bucket": None}, "--upload-code also needs --code-bucket"),
    ({"upload_code": "pipeline_code", "model": None, "pipeline_name": "x-build", "git_commit": None,
      "code_bucket": "b"}, "--upload-code also needs --model, --git-commit"),
    ({"code_bucket": "b"}, "only apply with --upload-code"),
    ({"upload_code": "pipeline_code", "code_bucket": "b", "param": ["CodeUrl=s3://x/y.zip"]},
     "parameter 'CodeUrl' is set twice"),
])
def test_bad_code_options_exit_2_and_upload_nothing(overrides, message, capsys):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"unexpected {name}")

    assert run_start(_args(**overrides), client=NoCalls(), s3_client=NoCalls()) == 2
    assert message in capsys.readouterr().err
