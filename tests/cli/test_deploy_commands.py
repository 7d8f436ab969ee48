"""The CD pipeline's runtime steps with botocore's Stubber: resolve, integration test (incl. silent rollback), A/B
promotion."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

import mlops_contracts as contracts
from mlops_cli import deploy_commands
from mlops_cli.endpoint_checks import CheckFailed, parse_scores, recall_on_cases, resolve_packages, weight_updates
from mlops_cli.main import main
from pipeline_code.training.drift_stats import build_baseline

CONFIG = Path(__file__).resolve().parents[2] / "config"
CASES = CONFIG / "cases" / "fraud-detection-known-fraud.csv"
ENDPOINT = "fraud-detection-staging"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud-detection/7"
BASELINE_URI = "s3://artifacts/pipelines/exec-1/Evaluate/baseline.json"
NEW_CONFIG, OLD_CONFIG = "EndpointConfig-new", "EndpointConfig-old"


def _summary(version: int, day: int) -> dict:
    return {"ModelPackageArn": f"arn:aws:sagemaker:us-east-1:111111111111:model-package/m/{version}",
            "CreationTime": datetime(2026, 11, day, tzinfo=UTC), "ModelPackageStatus": "Completed",
            "ModelPackageGroupName": "m", "ModelApprovalStatus": "Approved"}


def test_resolve_takes_the_requested_package_and_the_previous_approved_as_champion():
    approved = [_summary(3, 3), _summary(5, 5), _summary(4, 4)]
    resolved = resolve_packages(approved, _summary(4, 4)["ModelPackageArn"])
    assert (resolved.package_arn.rsplit("/", 1)[1], resolved.champion_arn.rsplit("/", 1)[1]) == ("4", "3")
    newest = resolve_packages(approved, None)
    assert (newest.package_arn.rsplit("/", 1)[1], newest.champion_arn.rsplit("/", 1)[1]) == ("5", "4")
    only = resolve_packages([_summary(1, 1)], None)
    assert only.champion_arn == only.package_arn


def test_resolve_refuses_a_package_that_is_not_approved():
    with pytest.raises(CheckFailed, match="model-package/m/9 is not approved"):
        resolve_packages([_summary(1, 1)], "arn:aws:sagemaker:us-east-1:111111111111:model-package/m/9")
    with pytest.raises(CheckFailed, match="no approved package"):
        resolve_packages([], None)


def test_resolve_writes_one_template_configuration_per_stage_with_the_ab_champion(tmp_path):
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [_summary(2, 2), _summary(1, 1)]},
                          {"ModelPackageGroupName": "support-assistant", "ModelApprovalStatus": "Approved",
                           "SortBy": "CreationTime", "SortOrder": "Descending"})
        parsed = _parse(["deploy-resolve", "--config-dir", str(CONFIG), "--model", "support-assistant",
                         "--package-arn", "", "--data-bucket", "data", "--artifact-bucket", "art",
                         "--key-arn", "arn:aws:kms:us-east-1:111111111111:key/k", "--topic-arn", "arn:t",
                         "--output-dir", str(tmp_path)])
        configs = deploy_commands.resolve(parsed, sagemaker)
    assert set(configs) == {"staging", "prod"}
    params = configs["staging"]["Parameters"]
    assert params["ModelPackageArn"].endswith("/m/2") and params[contracts.ENDPOINT_PARAM_CHAMPION_PACKAGE].endswith("/m/1")
    assert configs["prod"]["Tags"][contracts.TAG_STAGE] == "prod"


def _parse(argv):
    from mlops_cli.main import build_parser

    return build_parser().parse_args(argv)


def test_scores_and_recall_skip_and_count_unscorable_rows():
    assert parse_scores("0.9\n0.2\n", 2) == [0.9, 0.2]
    assert parse_scores("0.9,oops", 2) == [0.9, None]
    assert parse_scores("0.9", 2) == [None, None]  # a short response cannot be matched to rows
    result = recall_on_cases(["1", "1", "1", "0"], [0.9, 0.4, None, 0.99], positive_class="1", threshold=0.5)
    assert (result.positives, result.detected, result.skipped, result.recall) == (2, 1, 1, 0.5)


# The integration test end to end, through the CLI.

def _baseline_body() -> bytes:
    frame = pd.read_csv(CASES)
    features = [c for c in frame.columns if c != "is_fraud"]
    baseline = build_baseline({c: frame[c].to_numpy() for c in features}, {"merchant_category", "channel"})
    return baseline.to_json().encode()


def _body(text: str) -> StreamingBody:
    return StreamingBody(io.BytesIO(text.encode()), len(text.encode()))


class Clients:
    """Stubbed clients handed to the CLI in place of boto3's."""

    def __init__(self):
        self.sagemaker = boto3.client("sagemaker")
        self.runtime = boto3.client("sagemaker-runtime")
        self.s3 = boto3.client("s3")
        self.stubs = {n: Stubber(getattr(self, n)) for n in ("sagemaker", "runtime", "s3")}

    def client(self, service):
        return {"sagemaker": self.sagemaker, "sagemaker-runtime": self.runtime, "s3": self.s3}[service]

    def endpoint(self, config: str, status: str = "InService"):
        self.stubs["sagemaker"].add_response("describe_endpoint", {
            "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:us-east-1:111111111111:endpoint/{ENDPOINT}",
            "EndpointConfigName": config, "EndpointStatus": status, "CreationTime": datetime(2026, 11, 1),
            "LastModifiedTime": datetime(2026, 11, 2)}, {"EndpointName": ENDPOINT})

    def baseline(self):
        self.stubs["sagemaker"].add_response("describe_model_package", {
            "ModelPackageName": "fraud-detection", "ModelPackageArn": PACKAGE, "CreationTime": datetime(2026, 11, 1),
            "ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "CustomerMetadataProperties": {contracts.META_BASELINE_URI: BASELINE_URI}},
            {"ModelPackageName": PACKAGE})
        body = _baseline_body()
        self.stubs["s3"].add_response("get_object", {"Body": _body(body.decode())},
                                      {"Bucket": "artifacts", "Key": f"{contracts.ARTIFACT_PREFIX}/exec-1/Evaluate/baseline.json"})

    def scores(self, *batches: str):
        for text in batches:
            self.stubs["runtime"].add_response(
                "invoke_endpoint", {"Body": _body(text), "ContentType": "text/csv"},
                {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Accept": "text/csv", "Body": self.sent})

    class Sent:
        """Matches any body and keeps it, so a test can read what was sent."""

        def __init__(self):
            self.bodies = []

        def __eq__(self, other):
            self.bodies.append(other)
            return True

    @property
    def sent(self):
        self.__dict__.setdefault("_sent", Clients.Sent())
        return self.__dict__["_sent"]

    def run(self, monkeypatch, capsys) -> tuple[int, str]:
        monkeypatch.setattr(deploy_commands, "_client", self.client)
        for stub in self.stubs.values():
            stub.activate()
        code = main(["endpoint-test", "--config-dir", str(CONFIG), "--model", "fraud-detection", "--stage",
                     "staging", "--expected-config", NEW_CONFIG, "--package-arn", PACKAGE])
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
        out = capsys.readouterr()
        return code, out.out + out.err


def test_endpoint_test_passes_on_the_new_config_with_enough_recall(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(NEW_CONFIG)
    clients.scores("\n".join(["0.97,1"] * 49 + ["0.10,0"]), "\n".join(["0.80,1"] * 48 + ["0.20,0", "0.30,0"]))
    code, output = clients.run(monkeypatch, capsys)
    assert code == 0, output
    assert "recall 0.970 on 100 known positive cases (97 detected, 0 skipped); minimum 0.95" in output
    # The known cases go out as raw records: the case file's rows, features in training order, names as they are.
    cases = pd.read_csv(CASES, dtype=str)
    features = [c for c in cases.columns if c != "is_fraud"]
    sent = b"".join(clients.sent.bodies).decode().splitlines()
    assert len(sent) == len(cases) and sent[0].split(",")[3:5] == list(cases[features].iloc[0, 3:5])


def test_a_silent_rollback_fails_before_any_case_is_sent(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(OLD_CONFIG)  # blue/green rolled back: InService, but on the previous config
    code, output = clients.run(monkeypatch, capsys)
    assert code == 1
    assert f"serves endpoint config {OLD_CONFIG}, not {NEW_CONFIG}" in output and "rolled back" in output


def test_an_endpoint_that_is_not_in_service_fails(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(NEW_CONFIG, status="Failed")
    code, output = clients.run(monkeypatch, capsys)
    assert code == 1 and "is Failed, expected InService" in output


def test_malformed_rows_are_skipped_and_counted(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(NEW_CONFIG)
    clients.scores("\n".join(["0.97"] * 49 + ["oops"]), "\n".join(["0.9"] * 50))
    code, output = clients.run(monkeypatch, capsys)
    assert code == 0, output
    assert "recall 1.000 on 99 known positive cases (99 detected, 1 skipped)" in output


def test_too_many_unscorable_cases_fail(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(NEW_CONFIG)
    clients.scores("\n".join(["0.9"] * 50), "not,a,score")  # second batch cannot be matched to its 50 rows
    code, output = clients.run(monkeypatch, capsys)
    assert code == 1 and "50 of 100 known positive cases could not be scored" in output


def test_recall_below_the_floor_fails(monkeypatch, capsys):
    clients = Clients()
    clients.endpoint(NEW_CONFIG)
    clients.scores("\n".join(["0.9"] * 40 + ["0.1"] * 10), "\n".join(["0.9"] * 50))
    code, output = clients.run(monkeypatch, capsys)
    assert code == 1 and "recall 0.900 on 100 known positive cases" in output and "minimum 0.95" in output


# A/B promotion.

def test_promote_sets_weights_on_existing_variants_only(capsys):
    sagemaker = boto3.client("sagemaker")
    description = {"EndpointName": "support-assistant-prod", "EndpointArn": "arn:aws:sagemaker:us-east-1:"
                   "111111111111:endpoint/support-assistant-prod", "EndpointConfigName": "c",
                   "EndpointStatus": "InService", "CreationTime": datetime(2026, 11, 1),
                   "LastModifiedTime": datetime(2026, 11, 1),
                   "ProductionVariants": [{"VariantName": "champion"}, {"VariantName": "challenger"}]}
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", description, {"EndpointName": "support-assistant-prod"})
        stub.add_response("update_endpoint_weights_and_capacities",
                          {"EndpointArn": description["EndpointArn"]},
                          {"EndpointName": "support-assistant-prod", "DesiredWeightsAndCapacities": [
                              {"VariantName": "challenger", "DesiredWeight": 1.0},
                              {"VariantName": "champion", "DesiredWeight": 0.0}]})
        deploy_commands.promote(sagemaker, "support-assistant-prod", {"champion": 0, "challenger": 1})
        stub.assert_no_pending_responses()
    with pytest.raises(CheckFailed, match=r"variants \['chalenger'\] are not on the endpoint"):
        weight_updates({"chalenger": 1.0}, ["champion", "challenger"])
    with pytest.raises(CheckFailed, match="at least one variant needs a weight above 0"):
        weight_updates({"champion": 0.0}, ["champion"])


def test_promote_cli_rejects_malformed_weights(capsys):
    assert main(["endpoint-promote", "--endpoint", "e", "--weights", "champion:1"]) == 1
    assert "must look like <variant>=<number>" in capsys.readouterr().err


def test_template_configuration_is_json_serializable():
    from mlops_cli.endpoint_checks import template_configuration

    body = template_configuration({"B": "2", "A": "1"}, {"t": "v"})
    assert json.loads(json.dumps(body)) == {"Parameters": {"A": "1", "B": "2"}, "Tags": {"t": "v"}}


# Stages in their own account.

def test_resolve_gives_stages_in_their_own_account_no_topic_parameter(tmp_path):
    import shutil

    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    platform = (config / "platform.yaml").read_text().replace(
        "  staging: {}", "  staging: {account: '222222222222', region: eu-west-1}")
    (config / "platform.yaml").write_text(platform + "tooling: {account: '111111111111', region: eu-west-1}\n")
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [_summary(2, 2)]}, None)
        parsed = _parse(["deploy-resolve", "--config-dir", str(config), "--model", "fraud-detection",
                         "--package-arn", "latest", "--data-bucket", "d", "--artifact-bucket", "a",
                         "--key-arn", "k", "--topic-arn", "t", "--output-dir", str(tmp_path / "out")])
        configs = deploy_commands.resolve(parsed, sagemaker)
    # Staging lives in another account: its alarms reach the topic through EventBridge, not a TopicArn.
    assert contracts.ENDPOINT_PARAM_TOPIC not in configs["staging"]["Parameters"]
    assert configs["prod"]["Parameters"]["TopicArn"] == "t"
    assert configs["prod"]["Parameters"]["ModelPackageArn"].endswith("/m/2")


class StageSession:
    """Stands in for the assumed-role session in the stage account."""

    def __init__(self, clients: Clients):
        self.sagemaker = boto3.client("sagemaker")
        self.stub = Stubber(self.sagemaker)
        self.runtime = clients.runtime

    def client(self, service):
        return {"sagemaker": self.sagemaker, "sagemaker-runtime": self.runtime}[service]


def test_endpoint_test_reaches_a_stage_account_through_the_assumed_role(monkeypatch, capsys):
    clients = Clients()
    stage = StageSession(clients)
    stage.stub.add_response("describe_endpoint", {
        "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:us-east-1:222222222222:endpoint/{ENDPOINT}",
        "EndpointConfigName": OLD_CONFIG, "EndpointStatus": "InService", "CreationTime": datetime(2026, 11, 1),
        "LastModifiedTime": datetime(2026, 11, 2)}, {"EndpointName": ENDPOINT})
    stage.stub.activate()
    assumed = []
    monkeypatch.setattr(deploy_commands, "_client", clients.client)
    monkeypatch.setattr(deploy_commands, "_stage_session", lambda arn: assumed.append(arn) or stage)
    code = main(["endpoint-test", "--config-dir", str(CONFIG), "--model", "fraud-detection", "--stage", "staging",
                 "--expected-config", NEW_CONFIG, "--package-arn", PACKAGE,
                 "--role-arn", "arn:aws:iam::222222222222:role/fraud-detection-staging-integration-test"])
    stage.stub.assert_no_pending_responses()
    assert assumed == ["arn:aws:iam::222222222222:role/fraud-detection-staging-integration-test"]
    assert code == 1 and "rolled back" in capsys.readouterr().err
