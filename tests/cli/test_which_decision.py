"""``mlops which-decision`` on moto: capture files in SageMaker's layout, an audit trail written by the real writer.

The story of ``fraud-detection-prod``: v1 serves alone; an update to v2 bakes and is rolled back; then an A/B
config serves v1 (champion) and v2 (challenger) with v3 on a shadow variant. Requests are captured throughout.
moto has no shadow variants or pending deployments: hooks add them to the Describe* responses as the real API
returns them (shapes checked against botocore's model in ``test_hooks_return_botocore_shapes``).
"""
from __future__ import annotations

import json

import boto3
import botocore.session
import numpy as np
import pytest
from botocore.validate import ParamValidator

import mlops_contracts as contracts
from mlops_cli.main import main
from monitoring_code.capture_records import capture_line
from pipeline_code.training.drift_stats import build_baseline
from tests.support import governance_helpers as h

BUCKET = "fraud-data"
ALICE = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/alice"
CAROL = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/carol"
HYPERPARAMETERS = {"max_depth": "6", "eta": "0.1", "seed": "42"}
# A record exactly as SageMaker data capture writes it (AWS docs, "Capture data from real-time endpoint"), with
# the client's InferenceId added the way InvokeEndpoint(InferenceId=...) adds it.
DOCS_LINE = ('{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
             '"data":"69,0,153.7,109,194.0,105,256.1,114,14.1,6,2,0,0,0,0,0,0,1,0,1,0,0,1","encoding":"CSV"},'
             '"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
             '"data":"0.0254181120544672","encoding":"CSV"}},"eventMetadata":{"eventId":'
             '"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","inferenceId":"req-docs","inferenceTime":"2026-07-01T11:05:09Z"},'
             '"eventVersion":"0"}')


def _training_job(sagemaker, name: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=h.ROLE, HyperParameters=HYPERPARAMETERS,
        AlgorithmSpecification={"TrainingImage": f"{h.ACCOUNT}.dkr.ecr/xgboost:1.7-1", "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://data/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://artifacts/out"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})


class ApiState:
    """What the real API would return that moto cannot: a pending deployment and shadow variants."""

    def __init__(self) -> None:
        self.pending_config: str | None = None
        self.shadow: dict[str, list[dict]] = {}

    def install(self, sagemaker) -> None:
        def endpoint(parsed, **_):
            if self.pending_config and "EndpointName" in parsed:
                parsed["EndpointStatus"] = "Updating"
                parsed["PendingDeploymentSummary"] = {"EndpointConfigName": self.pending_config}

        def config(parsed, **_):
            if parsed.get("EndpointConfigName") in self.shadow:
                parsed["ShadowProductionVariants"] = self.shadow[parsed["EndpointConfigName"]]

        sagemaker.meta.events.register("after-call.sagemaker.DescribeEndpoint", endpoint)
        sagemaker.meta.events.register("after-call.sagemaker.DescribeEndpointConfig", config)


def _put_capture(s3, variant: str, hour: str, name: str, lines: list[str]) -> None:
    key = f"{contracts.CAPTURE_PREFIX}/{h.ENDPOINT}/{variant}/{hour}/{name}.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())


def _noise(n: int, time: str) -> list[str]:
    return [capture_line(f"{i},0.{i}", f"0.{i:02d}", inference_id=f"other-{time}-{i}", inference_time=time)
            for i in range(n)]


@pytest.fixture(scope="module")
def story(lambda_context):
    with h.audit_trail(lambda_context) as trail, pytest.MonkeyPatch.context() as env:
        env.setenv("MLOPS_AUDIT_TABLE", h.TABLE)
        env.setenv("MLOPS_DATA_BUCKET", BUCKET)
        sagemaker, write = trail.sagemaker, trail.write
        api = ApiState()
        api.install(sagemaker)
        s3 = boto3.client("s3", region_name=h.REGION)
        s3.create_bucket(Bucket=BUCKET)

        packages = {}
        for version, commit, approver in (("v1", "a", ALICE), ("v2", "b", CAROL), ("v3", "c", CAROL)):
            execution = h.start_build(sagemaker, commit * 40, f"s3://data/{version}/")
            write(h.execution_event(f"2026-06-0{len(packages) + 1}T09:00:00Z", execution, "Succeeded"))
            _training_job(sagemaker, f"train-{version}")
            metadata = h.lineage_metadata(commit * 40, execution, f"train-{version}", version * 32)
            arn = h.register_package(sagemaker, metadata)
            trail.approve(arn, f"2026-06-0{len(packages) + 1}T10:00:00Z", metadata, approver=approver,
                          description=f"{version} meets the gates")
            packages[version] = arn

        h.serve(sagemaker, packages["v1"], "config-v1")
        h.point_endpoint_at(sagemaker, "config-v1")
        write(h.stack_event("2026-07-01T10:00:00Z", "CREATE_COMPLETE"))
        # v2 bakes on the new fleet from 12:00; the rollback alarm fires and the endpoint returns to config-v1.
        h.serve(sagemaker, packages["v2"], "config-v2")
        api.pending_config = "config-v2"
        write(h.endpoint_event("2026-07-02T12:00:00Z", "UPDATING"))
        api.pending_config = None
        write(h.stack_event("2026-07-02T12:20:00Z", "UPDATE_ROLLBACK_COMPLETE"))
        # A/B: champion v1, challenger v2, and v3 on a shadow variant.
        for version in ("v1", "v2", "v3"):
            sagemaker.create_model(ModelName=f"ab-{version}", ExecutionRoleArn=h.ROLE,
                                   PrimaryContainer={"ModelPackageName": packages[version]})
        variant = {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        sagemaker.create_endpoint_config(EndpointConfigName="config-ab", ProductionVariants=[
            {"VariantName": "champion", "ModelName": "ab-v1", **variant},
            {"VariantName": "challenger", "ModelName": "ab-v2", **variant}])
        api.shadow["config-ab"] = [{"VariantName": "shadow", "ModelName": "ab-v3", **variant}]
        h.point_endpoint_at(sagemaker, "config-ab")
        write(h.stack_event("2026-07-03T09:00:00Z", "UPDATE_COMPLETE"))

        # The drift baseline every package records (governance_helpers: s3://artifacts/baseline.json): the
        # model's input columns, in order, as the build writes them.
        s3.create_bucket(Bucket="artifacts")
        baseline = build_baseline({"amount": np.array([1.0, 2.0]), "card_present": np.array([0.0, 1.0]),
                                   "channel": np.array(["chip", "swipe"], dtype=object)}, {"channel"})
        s3.put_object(Bucket="artifacts", Key=contracts.BASELINE_FILE, Body=baseline.to_json().encode())
        _put_capture(s3, "primary", "2026/07/01/11", "docs", [*_noise(3, "2026-07-01T11:05:00Z"), DOCS_LINE])
        _put_capture(s3, "primary", "2026/07/02/12", "baking", _noise(2, "2026-07-02T12:05:00Z") + [
            capture_line("1.5,3,chip", "0.91", inference_id="req-baking", inference_time="2026-07-02T12:10:00Z"),
            capture_line("2.5,1,swipe", "0.12", inference_id="req-after", inference_time="2026-07-02T12:30:00Z")])
        _put_capture(s3, "challenger", "2026/07/03/10", "a", [
            capture_line('{"amount": 9.5}', "0.77", encoding="BASE64", content_type="application/json",
                         inference_id="req-ab", inference_time="2026-07-03T10:00:00Z")])
        _put_capture(s3, "shadow", "2026/07/03/10", "a", [
            capture_line('{"amount": 9.5}', "0.64", encoding="BASE64", content_type="application/json",
                         inference_id="req-ab", inference_time="2026-07-03T10:00:00Z")])
        # Objects in another hour: only the unbounded search reads them.
        for i in range(3):
            _put_capture(s3, "champion", "2026/07/03/11", f"n{i}", _noise(2, "2026-07-03T11:00:00Z"))
        yield {"packages": packages, "sagemaker": sagemaker}


def _cli(capsys, *argv, table: str = h.TABLE) -> tuple[int, str, str]:
    code = main(["which-decision", "--endpoint", h.ENDPOINT, *argv, "--table", table, "--region", h.REGION])
    out = capsys.readouterr()
    return code, out.out, out.err


def _decision(capsys, inference_id: str, *extra: str, expect: int = 0) -> dict:
    code, out, err = _cli(capsys, "--inference-id", inference_id, *extra, "--json")
    assert code == expect, err
    return json.loads(out)


def test_a_documented_capture_record_leads_to_v1_with_its_full_lineage(story, capsys):
    result = _decision(capsys, "req-docs", "--around", "2026-07-01T11:30:00Z")
    decision = result["decision"]
    assert decision["capture"]["variant"] == "primary" and decision["role"] == "production"
    assert decision["capture"]["input"].startswith("69,0,153.7") and decision["scores"] == [0.0254181120544672]
    assert decision["input_record"] == {}  # 23 values, not the baseline's 3 columns
    [package] = decision["candidates"]
    assert package["model_package_arn"] == story["packages"]["v1"]
    assert (package["approved_by"], package["approved_at"]) == (ALICE, "2026-06-01T10:00:00Z")
    assert package["deployed_at"] == "2026-07-01T10:00:00Z"
    assert package["hyperparameters"] == dict(sorted(HYPERPARAMETERS.items()))
    assert package["recorded"][contracts.META_DATA_VERSION] == "v1" * 32
    assert package["recorded"][contracts.META_CODE_SHA256] == h.code_sha256("a" * 40)
    assert package["training_image"].endswith("xgboost:1.7-1") and not result["ambiguous"]


def test_the_event_id_finds_the_same_record(story, capsys):
    result = _decision(capsys, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    assert result["decision"]["capture"]["inference_id"] == "req-docs"


def test_a_request_while_a_rolled_back_update_baked_names_both_packages(story, capsys):
    result = _decision(capsys, "req-baking", "--around", "2026-07-02T12:10:00Z", expect=5)
    live, pending = result["decision"]["candidates"]
    assert (live["fleet"], live["model_package_arn"]) == ("live", story["packages"]["v1"])
    assert (pending["fleet"], pending["model_package_arn"]) == ("pending", story["packages"]["v2"])
    assert pending["update_outcome"] == {"event_time": "2026-07-02T12:20:00Z",
                                         "event": "stack:UPDATE_ROLLBACK_COMPLETE", "rolled_back": True}
    assert pending["approved_by"] == CAROL


def test_a_request_after_the_rollback_is_v1_alone(story, capsys):
    result = _decision(capsys, "req-after", "--around", "2026-07-02T12:30:00Z")
    assert [c["model_package_arn"] for c in result["decision"]["candidates"]] == [story["packages"]["v1"]]
    assert result["decision"]["candidates"][0]["deployed_at"] == "2026-07-01T10:00:00Z"
    assert result["decision"]["input_record"] == {"amount": "2.5", "card_present": "1", "channel": "swipe"}


def test_on_the_ab_endpoint_the_challenger_decided_and_the_shadow_is_reported_apart(story, capsys):
    result = _decision(capsys, "req-ab", "--around", "2026-07-03T10:00:00Z")
    decision = result["decision"]
    assert (decision["capture"]["variant"], decision["role"]) == ("challenger", "production")
    assert decision["capture"]["input"] == '{"amount": 9.5}' and decision["scores"] == [0.77]
    assert decision["input_record"] == {}  # JSON, not a CSV row of the model's columns
    assert [c["model_package_arn"] for c in decision["candidates"]] == [story["packages"]["v2"]]
    assert decision["candidates"][0]["deployed_at"] == "2026-07-03T09:00:00Z"
    [shadow] = result["shadow"]
    assert (shadow["capture"]["variant"], shadow["role"], shadow["scores"]) == ("shadow", "shadow", [0.64])
    assert shadow["candidates"][0]["model_package_arn"] == story["packages"]["v3"]


def test_text_output_answers_the_auditor(story, capsys):
    code, out, _ = _cli(capsys, "--inference-id", "req-ab", "--around", "2026-07-03T10:00:00Z")
    assert code == 0
    assert "answered by variant challenger (production)" in out and story["packages"]["v2"] in out
    assert "also seen by variant shadow (shadow, did not decide)" in out and "b" * 40 in out
    assert '"max_depth": "6"' in out and "approved by  " + CAROL in out


def test_an_unknown_inference_id_is_not_found_with_exit_4(story, capsys):
    code, out, err = _cli(capsys, "--inference-id", "no-such-request")
    assert (code, out) == (4, "")
    assert err.count("\n") == 1 and err.startswith("not found: inference 'no-such-request' is not in the data capture of")
    assert "in any hour (7 capture objects searched)" in err


def test_around_limits_the_search_to_nearby_hours(story, capsys):
    code, _, err = _cli(capsys, "--inference-id", "req-docs", "--around", "2026-07-03T10:00:00Z")
    assert code == 4 and "within 2 h of 2026-07-03T10:00:00Z (5 capture objects searched)" in err
    code, _, err = _cli(capsys, "--inference-id", "req-docs", "--around", "2026-07-03T10:59:59Z",
                        "--window-hours", "0")
    assert code == 4 and "(2 capture objects searched)" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--endpoint", "nope-prod", "--inference-id", "x"], "endpoint 'nope-prod' has no data capture"),
    (["--inference-id", "x", "--around", "yesterday"], "--around: invalid timestamp 'yesterday'"),
    (["--inference-id", "x", "--bucket", "no-such-bucket"], "cannot list s3://no-such-bucket/capture/"),
    (["--inference-id", "x", "--window-hours", "-1"], "--window-hours must be 0 or more"),
])
def test_bad_input_gets_one_line_and_exit_1(story, capsys, argv, message):
    code, out, err = _cli(capsys, *argv)
    assert (code, out) == (1, "") and err.count("\n") == 1 and message in err


def test_an_unknown_audit_table_is_one_line_not_a_traceback(story, capsys):
    code, _, err = _cli(capsys, "--inference-id", "req-docs", table="no-such-table")
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: Query: ")


def test_hooks_return_botocore_shapes(story):
    """The responses the hooks build are valid DescribeEndpoint / DescribeEndpointConfig outputs."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    sagemaker = story["sagemaker"]
    described = sagemaker.describe_endpoint_config(EndpointConfigName="config-ab")
    shadow = {"ShadowProductionVariants": described["ShadowProductionVariants"]}
    shape = model.operation_model("CreateEndpointConfig").input_shape  # same variant shape as the output
    report = ParamValidator().validate({"EndpointConfigName": "x", "ProductionVariants":
                                        described["ProductionVariants"], **shadow}, shape)
    assert not report.has_errors(), report.generate_report()
    pending = model.operation_model("DescribeEndpoint").output_shape.members["PendingDeploymentSummary"]
    assert contracts.ENDPOINT_OUTPUT_CONFIG in pending.required_members


@pytest.mark.parametrize(("argv", "message"), [
    (["lineage", "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-detection/99"], "not found"),
    (["lineage", ""], "Invalid length for parameter ModelPackageName"),  # botocore's own validation
    (["which-model", "--endpoint", "nope-prod", "--at", "2026-07-01T00:00:00Z"], "has no audit records"),
])
def test_unknown_packages_and_endpoints_are_one_line_in_every_command(story, capsys, argv, message):
    code = main([*argv, "--table", h.TABLE, "--region", h.REGION])
    out = capsys.readouterr()
    assert (code, out.out) == (1, "") and out.err.count("\n") == 1 and message in out.err


def test_the_served_models_score_label_reply_gives_its_score_not_the_label_as_a_second_score():
    """pipeline_code.endpoint.serving.score_request answers ``score,label`` rows (CSV) or {"predictions": [{"score", "label"}]}
    (JSON); the decision printed is the score. Plain score replies (custom images, older packages) read as before."""
    from mlops_cli import decision_queries

    assert decision_queries.scores("0.73,1\n0.2,0\n") == [0.73, 0.2]
    assert decision_queries.scores('{"predictions": [{"score": 0.73, "label": 1}]}') == [0.73]
    assert decision_queries.scores("0.73\n0.2") == [0.73, 0.2]
    assert decision_queries.scores("[0.73, 0.2]") == [0.73, 0.2]


def test_a_capture_object_of_any_size_is_searched_line_by_line(story, monkeypatch):
    """Capture files reach gigabytes at high volume; none may be skipped for its size (a missed record would read
    as "not found"), and each is streamed, never held whole: here in 4 KiB pieces, lines crossing piece edges."""
    from mlops_cli import decision_queries

    monkeypatch.setattr(decision_queries, "CAPTURE_READ_BYTES", 4096)
    s3 = boto3.client("s3")
    target = capture_line("1,0.5", "0.91", inference_id="req-big", inference_time="2026-07-04T09:30:00Z")
    _put_capture(s3, "primary", "2026/07/04/09", "big", [*_noise(2000, "2026-07-04T09:05:00Z"), target])

    def reported_as_huge(parsed, **_):  # as S3 lists a 1 GiB capture object
        for obj in parsed.get("Contents", []):
            obj["Size"] = 1 << 30

    s3.meta.events.register("after-call.s3.ListObjectsV2", reported_as_huge)
    found, searched = decision_queries.find_captures(s3, BUCKET, h.ENDPOINT, "req-big", "2026-07-04T09:30:00Z")
    assert [c.inference_id for c in found] == ["req-big"] and searched == 1
