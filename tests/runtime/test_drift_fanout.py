"""The drift fan-out at run time (moto S3 and SageMaker): planner, N children and the reduce step give the single
pass's report byte for byte; bounded pieces give the whole file's counts; the ResultWriter format is honoured.

``run_fanout`` plays the state machine: it evaluates the definition's ItemSelector and the reduce step's
Parameters (JSONPath) on the execution input, calls the count function once per batch and writes the children's
outputs in the ResultWriter's documented layout (manifest.json + SUCCEEDED_0.json). The construct test runs it
with the definition synthesized from ``DriftFanOut``.
"""
from __future__ import annotations

import io
import json
import os

import boto3
import numpy as np
import pytest

import mlops_contracts as contracts
from monitoring_code import drift_fanout
from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema, iter_line_chunks
from monitoring_code.capture_records import capture_line
from monitoring_code.drift_detect import DriftWindow
from tests.support import monitoring_aws as aws
from tests.support.monitoring_data import capture_file, fraud_baseline

# What DriftFanOut renders (the construct test passes the synthesized ones).
ITEM_SELECTOR = {"bucket.$": "$.bucket", "plan_key.$": "$.plan_key", "batch.$": "$$.Map.Item.Value"}
REPORT_PARAMETERS = {"bucket.$": "$.bucket", "plan_key.$": "$.plan_key",
                     "result_writer.$": "$.map.ResultWriterDetails"}


class StepFunctions:
    """Records start_execution calls (the planner's only Step Functions call)."""

    def __init__(self):
        self.started = []

    def start_execution(self, **kwargs):
        self.started.append(kwargs)
        return {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:sm:{kwargs['name']}"}


def _path(document: dict, path: str):
    value = document
    for part in path.split(".")[1:]:
        value = value[part]
    return value


def _parameters(template: dict, state_input: dict, context: dict) -> dict:
    """ASL Parameters/ItemSelector: ``key.$`` fields take the JSONPath's value (``$$.`` reads the context)."""
    result = {}
    for key, value in template.items():
        if key.endswith(".$"):
            result[key[:-2]] = _path(context, value[1:]) if value.startswith("$$.") else _path(state_input, value)
        else:
            result[key] = value
    return result


def run_fanout(handler, monkeypatch, capsys, lambda_context, execution_input: dict, *, item_selector=ITEM_SELECTOR,
               report_parameters=REPORT_PARAMETERS) -> dict:
    """The state machine's work, in-process: the map's children, its ResultWriter, then the reduce step."""
    s3 = boto3.client("s3")
    bucket = execution_input["bucket"]
    batches = json.loads(s3.get_object(Bucket=bucket, Key=execution_input["batches_key"])["Body"].read())
    monkeypatch.setenv(contracts.ENV_DRIFT_STEP, contracts.DRIFT_STEP_COUNT)
    executions = []
    for index, batch in enumerate(batches):
        event = _parameters(item_selector, execution_input, {"Map": {"Item": {"Index": index, "Value": batch}}})
        output = handler.handler(event, lambda_context)
        executions.append({"Name": str(index), "Status": "SUCCEEDED", "Input": json.dumps(event),
                           "Output": json.dumps(output)})
    # ResultWriter: results under <prefix>/<map run id>/, a manifest naming them by status.
    run_prefix = f"{execution_input['results_prefix']}/run-1"
    s3.put_object(Bucket=bucket, Key=f"{run_prefix}/SUCCEEDED_0.json", Body=json.dumps(executions).encode())
    manifest = {"DestinationBucket": bucket, "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:sm/x:1",
                "ResultFiles": {"FAILED": [], "PENDING": [],
                                "SUCCEEDED": [{"Key": f"{run_prefix}/SUCCEEDED_0.json", "Size": 1}]}}
    s3.put_object(Bucket=bucket, Key=f"{run_prefix}/manifest.json", Body=json.dumps(manifest).encode())
    state = {**execution_input, "map": {"MapRunArn": manifest["MapRunArn"],
                                        "ResultWriterDetails": {"Bucket": bucket, "Key": f"{run_prefix}/manifest.json"}}}
    monkeypatch.setenv(contracts.ENV_DRIFT_STEP, contracts.DRIFT_STEP_REDUCE)
    result = handler.handler(_parameters(report_parameters, state, {}), lambda_context)
    capsys.readouterr()
    return {"result": result, "children": len(batches)}


def stored_report_bytes() -> bytes:
    key = f"{contracts.MONITORING_REPORTS_PREFIX}/{aws.ENDPOINT}/{aws.WINDOW}/drift.json"
    return boto3.client("s3").get_object(Bucket=aws.BUCKET, Key=key)["Body"].read()


def hour_with_two_variants(baseline, *, raw: bool = True) -> None:
    """``raw``: capture holds category names, as the platform's served model receives them; else encoder codes."""
    aws.serve(baseline.to_json(), variants=("champion", "challenger"))
    for i in range(4):  # stable champion, drifting challenger; malformed, blank and multi-row records in places
        aws.put_capture(capture_file(400, seed=10 + i, drift=0.0, baseline=baseline, raw=raw)
                        + ("{truncated\n" if i else ""), variant="champion", name=f"c-{i}.jsonl")
        aws.put_capture(capture_file(300, seed=20 + i, drift=1.0, baseline=baseline, rows_per_record=1 + i % 2,
                                     raw=raw) + "\n\n", variant="challenger", name=f"x-{i}.jsonl")


def fanout_input(handler, batch_bytes: int) -> tuple[dict, StepFunctions]:
    stepfunctions = StepFunctions()
    result = handler.fan_out(boto3.client("s3"), stepfunctions, "arn:aws:states:us-east-1:123456789012:"
                             "stateMachine:sm", *_plan(handler), batch_bytes)
    assert result["verdict"] == "fanned_out"
    return json.loads(stepfunctions.started[0]["input"]), stepfunctions


def _plan(handler):
    hour = handler.monitoring_window.window_hour(aws.EVENT_TIME)
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    uris, _, errors = handler.serving_baselines(s3, sm, aws.ENDPOINT)
    window = handler.monitoring_window
    objects = {v: window.window_objects(s3, aws.BUCKET, window.capture_prefix(aws.ENDPOINT, v, hour)) for v in uris}
    settings = {"model": aws.MODEL, "endpoint": aws.ENDPOINT, "bucket": aws.BUCKET, "hour": hour.isoformat(),
                "metric": "psi", "threshold": 0.2, "min_samples": 500, "baselines": uris, "errors": errors,
                "categorical_codes": os.environ[contracts.ENV_CATEGORICAL_INPUT] == contracts.CATEGORICAL_CODES}
    return settings, objects


@pytest.mark.parametrize("categorical_input", [contracts.CATEGORICAL_NAMES, contracts.CATEGORICAL_CODES])
def test_merged_counts_of_n_children_give_the_single_pass_report_byte_for_byte(
        drift_detector, drift_baseline, monkeypatch, capsys, categorical_input, lambda_context):
    """Names: what capture holds in front of the platform's served model; codes: a custom image declared
    ``input: encoded``. The plan carries the setting to the children, which read each form as the single pass."""
    monkeypatch.setenv(contracts.ENV_CATEGORICAL_INPUT, categorical_input)
    hour_with_two_variants(drift_baseline, raw=categorical_input == contracts.CATEGORICAL_NAMES)
    single_result = drift_detector.handler({"time": aws.EVENT_TIME}, lambda_context)
    single = stored_report_bytes()
    capsys.readouterr()
    execution_input, _ = fanout_input(drift_detector, batch_bytes=150_000)  # several children per variant
    fanned = run_fanout(drift_detector, monkeypatch, capsys, lambda_context, execution_input)
    assert fanned["children"] >= 4
    assert stored_report_bytes() == single
    assert fanned["result"] == single_result
    report = json.loads(single)
    assert report["variants"]["challenger"]["verdict"] == "drift" and report["verdict"] == "drift"
    assert report["variants"]["champion"]["verdict"] == "no_drift"  # categoricals read in the form they arrive
    assert report["variants"]["champion"]["malformed_by_reason"] == {"invalid_json": 3}
    assert report["variants"]["challenger"]["blank_lines"] == 8  # two empty lines after each of four files


def test_planner_fans_out_only_above_the_threshold(drift_detector, drift_baseline, monkeypatch):
    hour_with_two_variants(drift_baseline)
    stepfunctions, client = StepFunctions(), boto3.client
    monkeypatch.setattr(drift_detector.boto3, "client", lambda name, **kw: stepfunctions if name == "stepfunctions"
                        else client(name, **kw))
    common = {"model": aws.MODEL, "endpoint": aws.ENDPOINT, "bucket": aws.BUCKET, "event_time": aws.EVENT_TIME,
              "metric": "psi", "threshold": 0.2, "min_samples": 500, "state_machine": "arn:aws:states:x"}
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    small = drift_detector.run(s3, sm, **common, fanout_bytes=10 ** 9)
    assert small["verdict"] == "drift" and stepfunctions.started == []
    large = drift_detector.run(s3, sm, **common, fanout_bytes=1000, batch_bytes=10 ** 9)
    assert large == {"verdict": "fanned_out", "batches": 2, "execution": large["execution"]}  # one per variant
    [started] = stepfunctions.started
    assert started["stateMachineArn"] == "arn:aws:states:x" and started["name"] == f"{aws.ENDPOINT}-2026110112"


def test_a_failed_child_leaves_no_report_from_part_of_the_hour():
    manifest = {"DestinationBucket": "b", "MapRunArn": "arn:run",
                "ResultFiles": {"FAILED": [{"Key": "f", "Size": 1}], "SUCCEEDED": [{"Key": "s", "Size": 1}]}}
    with pytest.raises(RuntimeError, match="FAILED"):
        list(drift_fanout.result_writer_outputs(lambda bucket, key: [], manifest))


def test_batches_respect_the_byte_budget_and_keep_variants_apart():
    objects = {"a": [{"Key": f"k{i}", "Size": 40} for i in range(5)], "b": [{"Key": "big", "Size": 500}]}
    batches = drift_fanout.plan_batches(objects, batch_bytes=100)
    assert [(b["variant"], b["keys"]) for b in batches] == [
        ("a", ["k0", "k1"]), ("a", ["k2", "k3"]), ("a", ["k4"]), ("b", ["big"])]


@pytest.mark.parametrize("chunk_bytes", [1, 700, 4096, 10 ** 7])
def test_pieces_of_any_size_give_the_whole_file_counts(drift_baseline, chunk_bytes):
    text = (capture_file(300, seed=3, drift=0.5, baseline=drift_baseline, rows_per_record=3) + "\n  \n"
            + capture_line("1,2", "0.5") + "\n{broken\n"
            + capture_file(200, seed=4, drift=0.0, baseline=drift_baseline))
    whole, pieces = DriftWindow(drift_baseline), DriftWindow(drift_baseline)
    whole.add(whole.decoder.decode(text))
    pieces.add_stream(io.BytesIO(text.encode()))
    assert _chunked_state(drift_baseline, text, chunk_bytes) == whole.counts_state()
    assert pieces.counts_state() == whole.counts_state()
    assert whole.blank_lines == 2 and whole.wrong_widths == {2: 1} and whole.malformed["invalid_json"] == 1


def _chunked_state(baseline, text: str, chunk_bytes: int) -> dict:
    window = DriftWindow(baseline)
    window.files += 1
    for decoded in window.decoder.decode_stream(io.BytesIO(text.encode()), chunk_bytes=chunk_bytes):
        window._add_counts(decoded)
    return window.counts_state()


def test_a_line_longer_than_the_limit_is_dropped_while_read_not_held():
    good = capture_line("1,2,chip", "0.5").encode() + b"\n"
    stream = io.BytesIO(good + b"x" * 50_000 + b"\n" + good)
    pieces = list(iter_line_chunks(stream, chunk_bytes=1000, max_line_bytes=5000))
    assert max(len(p) for p, _ in pieces) <= 1000 + 5000
    assert sum(d for _, d in pieces) == 1 and b"".join(p for p, _ in pieces) == good + good
    decoder = CaptureDecoder(CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}),
                                           categorical_codes=False), max_record_bytes=5000)
    decoded = list(decoder.decode_stream(io.BytesIO(good + b"x" * 50_000 + b"\n" + good), chunk_bytes=1000))
    assert sum(d.records for d in decoded) == 3 and sum(d.malformed["too_large"] for d in decoded) == 1
    np.testing.assert_array_equal(np.concatenate([d.columns["amount"] for d in decoded]), [1.0, 1.0])


def test_states_of_other_baselines_are_refused(drift_baseline):
    other = fraud_baseline(rows=2_000, seed=9)
    state = DriftWindow(other).counts_state()
    state["counts"]["amount"] = state["counts"]["amount"] + [0]
    with pytest.raises(ValueError, match="different baselines"):
        DriftWindow(drift_baseline).merge_state(state)
