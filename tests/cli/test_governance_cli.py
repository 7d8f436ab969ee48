"""``mlops lineage|which-model|reproduce`` against an audit trail written by the real writer, on moto.

The story: v1 is trained, approved by alice and deployed. v2 is rejected by bob, re-approved by carol, deployed,
and rolled back (the endpoint stays on v1); a second deployment of v2 succeeds.
"""
from __future__ import annotations

import json

import boto3
import pytest

import mlops_contracts as contracts
from mlops_cli import governance_queries as queries
from mlops_cli.main import main
from tests.support import governance_helpers as h

ALICE = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/alice"
BOB = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/bob"
CAROL = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/carol"
DATA_V1, DATA_V2 = "d" * 64, "e" * 64


def _training_job(sagemaker, name: str, data_url: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=h.ROLE, HyperParameters={"max_depth": "6", "eta": "0.1", "seed": "42"},
        AlgorithmSpecification={"TrainingImage": f"{h.ACCOUNT}.dkr.ecr/xgboost:1.7-1", "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": data_url}}}],
        OutputDataConfig={"S3OutputPath": "s3://artifacts/out"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})


def _build(trail: h.AuditTrail, commit: str, data_url: str, job: str, data_version: str, *, built: str,
           registered: str, trigger: str = "code") -> tuple[str, str, dict[str, str]]:
    """A build of ``commit`` on ``data_url`` that trains ``job`` and registers a pending package, as recorded."""
    execution = h.start_build(trail.sagemaker, commit, data_url, trigger=trigger)
    trail.write(h.execution_event(built, execution, "Succeeded"))
    _training_job(trail.sagemaker, job, data_url)
    metadata = h.lineage_metadata(commit, execution, job, data_version)
    package = h.register_package(trail.sagemaker, metadata)
    trail.write(h.package_event(registered, package, "PendingManualApproval"))
    return execution, package, metadata


@pytest.fixture(scope="module")
def story(lambda_context):
    with h.audit_trail(lambda_context) as trail, pytest.MonkeyPatch.context() as env:
        env.setenv("MLOPS_AUDIT_TABLE", h.TABLE)
        sagemaker, write = trail.sagemaker, trail.write
        s3 = boto3.client("s3", region_name=h.REGION)
        s3.create_bucket(Bucket=h.code_url("a" * 40).removeprefix("s3://").split("/")[0])
        for commit in ("a" * 40, "b" * 40):
            h.put_code_zip(s3, h.code_url(commit))
        exec1, v1, meta1 = _build(trail, "a" * 40, "s3://data/transactions/training/2026-05/", "train-v1", DATA_V1,
                                  built="2026-05-01T09:00:00Z", registered="2026-05-01T09:00:30Z")
        trail.approve(v1, "2026-05-01T10:00:00Z", meta1, approver=ALICE, description="meets gate, AUC 0.95")
        h.serve(sagemaker, v1, "config-v1")
        h.point_endpoint_at(sagemaker, "config-v1")
        write(h.stack_event("2026-05-01T10:30:00Z", "CREATE_COMPLETE"))

        exec2, v2, meta2 = _build(trail, "b" * 40, "s3://data/transactions/training/2026-06/", "train-v2", DATA_V2,
                                  built="2026-06-01T09:00:00Z", registered="2026-06-01T09:00:30Z", trigger="new-data")
        trail.approve(v2, "2026-06-02T10:00:00Z", meta2, approver=BOB, status="Rejected",
                      description="recall below gate on March fraud")
        trail.approve(v2, "2026-06-03T10:00:00Z", meta2, approver=CAROL, description="re-evaluated on corrected labels")
        h.serve(sagemaker, v2, "config-v2")
        # The blue/green update trips an alarm; SageMaker rolls back, the endpoint stays on config-v1.
        write(h.endpoint_event("2026-06-03T12:15:00Z", "IN_SERVICE"))
        write(h.stack_event("2026-06-03T12:20:00Z", "UPDATE_ROLLBACK_COMPLETE"))
        h.point_endpoint_at(sagemaker, "config-v2")
        write(h.stack_event("2026-06-10T09:10:00Z", "UPDATE_COMPLETE"))
        yield {"table": trail.table, "sagemaker": sagemaker, "s3": s3, "v1": v1, "v2": v2, "exec1": exec1,
               "exec2": exec2}


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([*argv, "--table", h.TABLE, "--region", h.REGION])
    out = capsys.readouterr()
    return code, out.out, out.err


def _which(capsys, at: str) -> dict:
    code, out, err = _cli(capsys, "which-model", "--endpoint", h.ENDPOINT, "--at", at, "--json")
    assert code == 0, err
    return json.loads(out)


def test_which_model_names_v1_its_approver_data_and_code(story, capsys):
    result = _which(capsys, "2026-05-15T00:00:00Z")
    [model] = result["models"]
    assert model["model_package_arn"] == story["v1"]
    assert model["approved_by"] == ALICE and model["approval_description"] == "meets gate, AUC 0.95"
    assert model["lineage"][contracts.META_GIT_COMMIT] == "a" * 40
    assert model["lineage"][contracts.META_DATA_VERSION] == DATA_V1
    assert model["trigger"] == "code" and "fake-user-profile-name" in model["trained_by"]


def test_a_rejected_package_does_not_serve_and_v1_keeps_serving(story, capsys):
    assert _which(capsys, "2026-06-02T12:00:00Z")["models"][0]["model_package_arn"] == story["v1"]


def test_after_a_rollback_the_old_package_is_reported_serving(story, capsys):
    result = _which(capsys, "2026-06-05T00:00:00+02:00")
    assert result["rolled_back"] is True
    assert result["event"] == "stack:UPDATE_ROLLBACK_COMPLETE"
    assert [m["model_package_arn"] for m in result["models"]] == [story["v1"]]


def test_after_re_approval_and_deployment_v2_serves_approved_by_carol(story, capsys):
    [model] = _which(capsys, "2026-06-11T00:00:00Z")["models"]
    assert model["model_package_arn"] == story["v2"]
    assert (model["approved_by"], model["status_then"]) == (CAROL, "Approved")
    assert model["lineage"][contracts.META_DATA_VERSION] == DATA_V2 and model["trigger"] == "new-data"


def test_the_instant_of_an_event_sees_that_event(story, capsys):
    assert _which(capsys, "2026-06-10T09:10:00Z")["models"][0]["model_package_arn"] == story["v2"]
    assert _which(capsys, "2026-06-10T09:09:59Z")["models"][0]["model_package_arn"] == story["v1"]


def test_which_model_before_the_first_record_says_when_records_start(story, capsys):
    code, _, err = _cli(capsys, "which-model", "--endpoint", h.ENDPOINT, "--at", "2026-04-01T00:00:00Z")
    assert code == 1 and "first record is at 2026-05-01T10:30:00Z" in err


def test_which_model_text_output_answers_the_auditor(story, capsys):
    code, out, _ = _cli(capsys, "which-model", "--endpoint", h.ENDPOINT, "--at", "2026-06-05T00:00:00Z")
    assert code == 0
    assert "rolled back" in out and story["v1"] in out and ALICE in out and "a" * 40 in out
    assert f"code zip    {h.code_url('a' * 40)} (sha256 {h.code_sha256('a' * 40)})" in out


def test_which_model_rejects_a_bad_time_and_a_missing_table(story, capsys, monkeypatch):
    assert main(["which-model", "--endpoint", h.ENDPOINT, "--at", "last tuesday"]) == 1
    assert "invalid timestamp 'last tuesday'" in capsys.readouterr().err
    monkeypatch.delenv("MLOPS_AUDIT_TABLE", raising=False)
    assert main(["which-model", "--endpoint", h.ENDPOINT, "--at", "2026-06-05T00:00:00Z"]) == 1
    assert "pass --table or set MLOPS_AUDIT_TABLE" in capsys.readouterr().err


def test_lineage_lists_rejection_then_re_approval_and_every_deployment(story, capsys):
    code, out, err = _cli(capsys, "lineage", story["v2"], "--json")
    assert code == 0, err
    result = json.loads(out)
    approvals = [(r["approval_status"], r["actor"]) for r in result["audit"]["approvals"]]
    assert approvals[1:] == [("Rejected", BOB), ("Approved", CAROL)]
    assert approvals[0][0] == "PendingManualApproval"
    assert [(d["endpoint"], d["event_status"]) for d in result["audit"]["deployments"]] == [
        (h.ENDPOINT, "stack:UPDATE_COMPLETE")]
    assert result["missing"] == [] and result["problems"] == []
    assert result["training_job"]["hyperparameters"] == {"eta": "0.1", "max_depth": "6", "seed": "42"}
    assert result["training_job"]["inputs"] == {"train": "s3://data/transactions/training/2026-06/"}
    assert result["pipeline_execution"]["parameters"][contracts.PARAM_GIT_COMMIT] == "b" * 40
    assert [r["status"] for r in result["audit"]["execution"]] == ["Succeeded"]


def test_lineage_of_v1_shows_the_deployments_it_kept_through_the_rollback(story):
    result = queries.lineage(story["sagemaker"], story["v1"], story["table"])
    deployments = [(d["event_status"], d["rolled_back"]) for d in result["audit"]["deployments"]]
    assert deployments == [("stack:CREATE_COMPLETE", False), ("endpoint:IN_SERVICE", False),
                           ("stack:UPDATE_ROLLBACK_COMPLETE", True)]


def test_lineage_text_flags_missing_metadata(story, capsys):
    bare = story["sagemaker"].create_model_package(
        ModelPackageGroupName=h.MODEL, CustomerMetadataProperties={contracts.META_GIT_COMMIT: "c" * 40},
        InferenceSpecification={"Containers": [{"Image": "img"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    code, out, _ = _cli(capsys, "lineage", bare)
    assert code == 3
    assert "data_version           MISSING" in out and "  - missing mlops:data_version" in out


def test_lineage_flags_a_training_image_that_contradicts_the_record(story, capsys):
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    meta[contracts.META_IMAGE_URI] = "elsewhere/xgboost:9"
    arn = h.register_package(story["sagemaker"], meta)
    code, out, _ = _cli(capsys, "lineage", arn, "--json")
    assert code == 3
    assert json.loads(out)["problems"] == [
        f"training job image {h.ACCOUNT}.dkr.ecr/xgboost:1.7-1 differs from recorded mlops:image_uri elsewhere/xgboost:9"]


def test_lineage_flags_a_commit_the_pipeline_did_not_run(story):
    meta = h.lineage_metadata("f" * 40, story["exec1"], "train-v1", DATA_V1)
    meta |= {contracts.META_CODE_URL: h.code_url("a" * 40), contracts.META_CODE_SHA256: h.code_sha256("a" * 40)}
    problems = queries.lineage(story["sagemaker"], h.register_package(story["sagemaker"], meta))["problems"]
    assert problems == [(f"pipeline execution ran GitCommit={'a' * 40} but the package records "
                        f"mlops:git_commit={'f' * 40}")]


def test_lineage_flags_a_code_zip_the_pipeline_did_not_run(story):
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    meta[contracts.META_CODE_SHA256] = "0" * 64
    problems = queries.lineage(story["sagemaker"], h.register_package(story["sagemaker"], meta))["problems"]
    assert problems == [(f"pipeline execution ran CodeSha256={h.code_sha256('a' * 40)} but the package records "
                        f"mlops:code_sha256={'0' * 64}")]


def test_lineage_text_shows_the_code_zip_and_its_hash(story, capsys):
    code, out, _ = _cli(capsys, "lineage", story["v1"])
    assert code == 0
    assert f"code_url               {h.code_url('a' * 40)}" in out
    assert f"code_sha256            {h.code_sha256('a' * 40)}" in out


def test_lineage_of_an_unknown_package_fails_clearly(story, capsys):
    code, _, err = _cli(capsys, "lineage", f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:model-package/nope/9")
    assert code == 1 and "model package 'arn:aws:sagemaker" in err and "not found" in err


def test_reproduce_starts_the_build_with_the_recorded_commit_and_data(story, capsys):
    code, out, err = _cli(capsys, "reproduce", story["v2"], "--json")
    assert code == 0, err
    started = json.loads(out)
    sagemaker = story["sagemaker"]
    params = queries.execution_parameters(sagemaker, started["PipelineExecutionArn"])
    assert params == {contracts.PARAM_INPUT_DATA: "s3://data/transactions/training/2026-06/",
                      contracts.PARAM_GIT_COMMIT: "b" * 40, contracts.PARAM_TRIGGER: "reproduce",
                      contracts.PARAM_APPROVAL_STATUS: "PendingManualApproval",
                      contracts.PARAM_CODE_URL: h.code_url("b" * 40),
                      contracts.PARAM_CODE_SHA256: h.code_sha256("b" * 40)}
    assert started["PipelineName"] == contracts.build_pipeline_name(h.MODEL)
    assert f"{contracts.META_DATA_VERSION}={DATA_V2}" in started["PipelineExecutionDescription"]


def test_reproduce_falls_back_to_the_parameters_in_the_audit_trail(story):
    class NoParameters:
        """SageMaker no longer lists the execution's parameters; the audit record still has them."""

        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            return getattr(self._client, name)

        def get_paginator(self, name):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ResourceNotFound", "Message": "gone"}}, name)

    request = queries.reproduce_request(NoParameters(story["sagemaker"]), story["v1"], story["table"])
    params = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    assert params[contracts.PARAM_INPUT_DATA] == "s3://data/transactions/training/2026-05/"
    assert params[contracts.PARAM_GIT_COMMIT] == "a" * 40
    assert params[contracts.PARAM_CODE_URL] == h.code_url("a" * 40)


def test_reproduce_pins_the_recorded_code_even_when_the_execution_ran_other_code(story, capsys):
    """The package's record wins: its code zip and hash are what the steps will check."""
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    meta |= {contracts.META_CODE_URL: "s3://artifacts/code/fraud-detection/pinned/pipeline_code.zip",
             contracts.META_CODE_SHA256: "1" * 64}
    h.put_code_zip(story["s3"], meta[contracts.META_CODE_URL])
    arn = h.register_package(story["sagemaker"], meta)
    code, out, err = _cli(capsys, "reproduce", arn, "--dry-run", "--json")
    assert code == 0, err
    params = {p["Name"]: p["Value"] for p in json.loads(out)["PipelineParameters"]}
    assert params[contracts.PARAM_CODE_URL] == "s3://artifacts/code/fraud-detection/pinned/pipeline_code.zip"
    assert params[contracts.PARAM_CODE_SHA256] == "1" * 64


def test_reproduce_refuses_code_built_before_the_package_split_and_says_how_to_reproduce_it(story, capsys):
    """A zip of the flat layout (pipeline_code/validate.py) cannot run the pipeline's pipeline_code.data.validate:
    refused before anything starts, naming the modules and the commit to check out."""
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    meta[contracts.META_CODE_URL] = "s3://artifacts/code/fraud-detection/legacy/pipeline_code.zip"
    h.put_code_zip(story["s3"], meta[contracts.META_CODE_URL], legacy=True)
    arn = h.register_package(story["sagemaker"], meta)
    executions = story["sagemaker"].list_pipeline_executions(PipelineName=contracts.build_pipeline_name(h.MODEL))
    code, _, err = _cli(capsys, "reproduce", arn)
    assert code == 1
    assert f"lacks {list(contracts.STEP_MODULES.values())}" in err and f"git checkout {'a' * 40}" in err
    assert story["sagemaker"].list_pipeline_executions(PipelineName=contracts.build_pipeline_name(h.MODEL))[
        "PipelineExecutionSummaries"] == executions["PipelineExecutionSummaries"]  # nothing started


def test_reproduce_refuses_a_package_whose_code_zip_is_gone(story, capsys):
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    meta[contracts.META_CODE_URL] = "s3://artifacts/code/fraud-detection/deleted/pipeline_code.zip"
    code, _, err = _cli(capsys, "reproduce", h.register_package(story["sagemaker"], meta), "--dry-run")
    assert code == 1 and "cannot read the recorded code zip s3://artifacts/code/fraud-detection/deleted/" in err


def test_reproduce_refuses_a_package_whose_code_was_not_recorded(story, capsys):
    meta = h.lineage_metadata("a" * 40, story["exec1"], "train-v1", DATA_V1)
    del meta[contracts.META_CODE_URL], meta[contracts.META_CODE_SHA256]
    code, _, err = _cli(capsys, "reproduce", h.register_package(story["sagemaker"], meta), "--dry-run")
    assert code == 1 and "lacks lineage metadata ['mlops:code_url', 'mlops:code_sha256']" in err


def test_reproduce_refuses_a_package_without_lineage(story, capsys):
    bare = story["sagemaker"].create_model_package(
        ModelPackageGroupName=h.MODEL, InferenceSpecification={
            "Containers": [{"Image": "img"}], "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    code, _, err = _cli(capsys, "reproduce", bare)
    assert code == 1
    assert ("lacks lineage metadata ['mlops:git_commit', 'mlops:data_version', 'mlops:pipeline_execution_arn', "
            "'mlops:code_url', 'mlops:code_sha256']") in err


def test_cli_without_table_still_prints_lineage(story, capsys, monkeypatch):
    monkeypatch.delenv("MLOPS_AUDIT_TABLE", raising=False)
    code = main(["lineage", story["v1"], "--region", h.REGION])
    out = capsys.readouterr().out
    assert code == 0 and "audit history  (not queried" in out and "a" * 40 in out


def test_serving_at_a_time_is_one_query(story):
    class CountingTable:
        def __init__(self, table):
            self.table, self.queries = table, 0

        def query(self, **kwargs):
            self.queries += 1
            return self.table.query(**kwargs)

    table = CountingTable(story["table"])
    record = queries.serving_record(table, h.ENDPOINT, "2026-06-05T00:00:00Z")
    assert table.queries == 1 and record["event_time"] == "2026-06-03T12:20:00Z"


def test_reproduce_can_train_from_restored_data_but_expects_the_recorded_version(story, capsys):
    code, out, err = _cli(capsys, "reproduce", story["v1"], "--dry-run", "--json",
                          "--input-data-url", "s3://data/restored/2026-05/")
    assert code == 0, err
    request = json.loads(out)
    assert {"Name": contracts.PARAM_INPUT_DATA, "Value": "s3://data/restored/2026-05/"} in request[
        "PipelineParameters"]
    assert f"{contracts.META_DATA_VERSION}={DATA_V1}" in request["PipelineExecutionDescription"]
    assert "PipelineExecutionArn" not in request  # dry run: nothing started
    code, _, err = _cli(capsys, "reproduce", story["v1"], "--input-data-url", "/tmp/local")
    assert code == 1 and "--input-data-url must be an s3:// URI; got '/tmp/local'" in err
