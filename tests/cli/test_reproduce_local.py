"""``mlops reproduce <record> --local DATA``: re-run a build from its record and compare model and metrics hashes."""
from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

import mlops_contracts as c
from mlops_cli import reproduce
from mlops_cli.main import main as mlops
from tests.conftest import CONFIG_DIR, REPO

ATTRITION = REPO / "data" / "attrition" / "attrition.csv"
ARN = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/employee-attrition/3"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recorded")
    assert mlops(["run-local", "employee-attrition", "--config-dir", str(CONFIG_DIR), "--data", str(ATTRITION),
                  "--out", str(out), "--local-versions"]) == 0
    return out / "run.json"


def test_same_code_data_and_versions_reproduce_identical_hashes(recorded, tmp_path, capsys):
    code = mlops(["reproduce", str(recorded), "--local", str(ATTRITION), "--out", str(tmp_path / "again"),
                  "--config-dir", str(CONFIG_DIR)])
    out = capsys.readouterr().out
    run = json.loads(recorded.read_text())
    assert code == 0, out
    assert f"identical: model sha256 {run['model_sha256']}" in out


def test_a_differing_model_and_metric_are_named(recorded, tmp_path, capsys):
    record = reproduce.record_from_run(recorded)
    evaluation = json.loads(json.dumps(record.evaluation))
    evaluation["binary_classification_metrics"]["auc"]["value"] = 0.5
    evaluation["champion"] = {"passed": 1.0, "reason": "champion metrics differ, and are left out"}
    altered = reproduce.BuildRecord(**{**record.__dict__, "model_sha256": "0" * 64, "evaluation": evaluation})
    code = reproduce.reproduce("employee-attrition", altered, ATTRITION, tmp_path / "again", CONFIG_DIR)
    out = capsys.readouterr().out
    assert code == 1
    assert f"- model sha256: recorded {'0' * 64}, reproduced {record.model_sha256}" in out
    assert "- metrics sha256: recorded " in out and "  binary_classification_metrics.auc.value: recorded 0.5, " in out
    assert "champion" not in out.split("differs from")[1]


def test_record_of_a_registered_package_is_its_metadata_and_evaluation():
    sagemaker, s3 = boto3.client("sagemaker", region_name="eu-west-1"), boto3.client("s3", region_name="eu-west-1")
    evaluation = {"binary_classification_metrics": {"auc": {"value": 0.8}}, c.MODEL_SHA256_KEY: "ab" * 32}
    metadata = {c.META_GIT_COMMIT: "3f2c1ab", c.META_CONFIG_HASH: "cf" * 32, c.META_CODE_SHA256: "cc" * 32,
                c.META_DATA_VERSION: "da" * 32, c.META_STEP_IMAGE: "3.0-5", c.META_STEP_LIBRARIES: "python=3.10",
                c.META_MODEL_SHA256: "ab" * 32}
    with Stubber(sagemaker) as sm, Stubber(s3) as store:
        sm.add_response("describe_model_package", {
            "ModelPackageName": "employee-attrition", "ModelPackageArn": ARN, "ModelPackageGroupName":
            "employee-attrition", "CreationTime": "2026-11-30T00:00:00Z", "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []}, "CustomerMetadataProperties": metadata,
            "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                             "S3Uri": "s3://artifacts/pipelines/x/evaluation.json"}}}},
            {"ModelPackageName": ARN})
        store.add_response("get_object", {"Body": io.BytesIO(json.dumps(evaluation).encode())},
                           {"Bucket": "artifacts", "Key": f"{c.ARTIFACT_PREFIX}/x/evaluation.json"})
        record = reproduce.record_from_package(ARN, sagemaker, s3)
    assert (record.model, record.git_commit, record.step_image, record.model_sha256) == (
        "employee-attrition", "3f2c1ab", "3.0-5", "ab" * 32)
    assert record.evaluation == evaluation and not record.local_versions


def test_changed_code_is_reported_before_running_with_the_commit_to_check_out(recorded):
    record = reproduce.record_from_run(recorded)
    changed = reproduce.BuildRecord(**{**record.__dict__, "code_sha256": "1" * 64, "git_commit": "3f2c1ab"})
    lines = reproduce.input_differences(changed, "employee-attrition", CONFIG_DIR)
    assert lines == [f"code: recorded sha256 {'1' * 64}, this checkout {record.code_sha256} (check out commit 3f2c1ab)"]
