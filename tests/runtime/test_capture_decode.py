"""The capture decoder on real-looking capture files: every encoding, multi-row payloads, every bad-input kind."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema
from monitoring_code.capture_records import capture_line

SCHEMA = CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}), categorical_codes=False)
CODES = CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}))


def decode(*lines: str, schema=SCHEMA, **kwargs):
    return CaptureDecoder(schema, **kwargs).decode("\n".join(lines) + "\n", keep_ids=True)


def test_canonical_csv_records_give_columns_scores_and_ids():
    out = decode(capture_line("12.5,3,online", "0.91", inference_id="a"),
                 capture_line("7,,chip", "0.05", inference_id="b"))
    assert (out.records, out.rows, sum(out.malformed.values())) == (2, 2, 0)
    np.testing.assert_array_equal(out.columns["amount"], [12.5, 7.0])
    assert np.isnan(out.columns["hour"][1])  # empty field = missing, not malformed
    assert list(out.columns["channel"]) == ["online", "chip"]
    np.testing.assert_array_equal(out.predictions, [0.91, 0.05])
    assert out.scored == [("a", 0.91), ("b", 0.05)]


def test_multi_row_csv_payload_counts_one_record_many_rows():
    out = decode(capture_line("1,2,chip\n3,4,atm\n5,6,online", "0.1\n0.2\n0.3", inference_id="m"))
    assert (out.records, out.rows) == (1, 3)
    np.testing.assert_array_equal(out.columns["hour"], [2, 4, 6])
    np.testing.assert_array_equal(out.predictions, [0.1, 0.2, 0.3])
    assert out.scored == []  # several rows share one inference ID: not joinable to one label


@pytest.mark.parametrize("payload, content_type", [
    (json.dumps([[1, 2, "chip"], [3, 4, "atm"]]), "application/json"),
    (json.dumps({"instances": [{"features": [1, 2, "chip"]}, {"features": [3, 4, "atm"]}]}), "application/json"),
    (json.dumps({"instances": [{"amount": 1, "hour": 2, "channel": "chip"},
                               {"amount": 3, "hour": 4, "channel": "atm"}]}), "application/json"),
])
def test_json_payloads_in_their_common_shapes(payload, content_type):
    out = decode(capture_line(payload, "0.5\n0.6", encoding="JSON", content_type=content_type))
    assert (out.records, out.rows, sum(out.malformed.values())) == (1, 2, 0)
    np.testing.assert_array_equal(out.columns["amount"], [1, 3])
    assert list(out.columns["channel"]) == ["chip", "atm"]


@pytest.mark.parametrize("payload, content_type", [
    ("1,2,chip\n3,4,atm", "text/csv"),
    (json.dumps([[1, 2, "chip"], [3, 4, "atm"]]), "application/json"),
])
def test_base64_payloads_decode_by_content_type(payload, content_type):
    out = decode(capture_line(payload, "0.5\n0.6", encoding="BASE64", content_type=content_type))
    assert (out.rows, sum(out.malformed.values())) == (2, 0)
    np.testing.assert_array_equal(out.columns["hour"], [2, 4])


def test_slow_and_fast_paths_agree():
    rng = np.random.default_rng(3)
    rows = [f"{a:.4f},{h},{c}" for a, h, c in zip(rng.normal(50, 10, 200), rng.integers(0, 24, 200),
                                                  rng.choice(["chip", "atm"], 200))]
    fast = decode(*(capture_line(r, "0.5") for r in rows))
    # A space after the colon is valid JSON but not SageMaker's compact form: it takes the json.loads path.
    slow = decode(*(capture_line(r, "0.5").replace('"mode":"INPUT"', '"mode": "INPUT"') for r in rows))
    for name in SCHEMA.features:
        np.testing.assert_array_equal(fast.columns[name], slow.columns[name])
    np.testing.assert_array_equal(fast.predictions, slow.predictions)


def test_categorical_codes_stay_numeric_for_decoding_against_the_baseline():
    out = decode(capture_line("12.5,3,1", "0.9"), capture_line("1,2,0", "0.1"), schema=CODES)
    assert out.columns["channel"].dtype == np.float64
    np.testing.assert_array_equal(out.columns["channel"], [1, 0])


GOOD = capture_line("1,2,chip", "0.5")


@pytest.mark.parametrize("bad, reason", [
    (GOOD[: len(GOOD) // 2], "invalid_json"),  # truncated line
    (capture_line("1,2", "0.5"), "wrong_column_count"),
    (capture_line("1,2,chip,extra", "0.5"), "wrong_column_count"),
    (capture_line("abc,2,chip", "0.5"), "non_numeric"),
    (capture_line("1,2,chip", "0.5", encoding="BASE64").replace('"data":"', '"data":"%%%'), "invalid_base64"),
    (capture_line("1,2,chip", "0.5", content_type="image/png"), "unknown_content_type"),
    (capture_line("1,2,chip", "0.5").replace('"encoding":"CSV"', '"encoding":"PROTOBUF"', 1),
     "unknown_content_type"),
    (capture_line("1,2," + "x" * 2000, "0.5"), "too_large"),
    (json.dumps({"hello": "world"}), "not_a_capture_record"),
    (capture_line("[1, 2", "0.5", encoding="JSON", content_type="application/json"), "invalid_json"),
    (capture_line("1,2,chip", "yes"), "bad_prediction"),
])
def test_each_bad_record_is_skipped_and_counted_by_reason(bad, reason):
    out = decode(GOOD, bad, GOOD, max_record_bytes=1000)
    assert out.malformed[reason] == 1, out.malformed
    assert sum(out.malformed.values()) == 1
    assert out.columns["amount"].tolist()[:2] == [1.0, 1.0]


def test_non_numeric_value_in_one_row_of_a_multi_row_payload_drops_that_row_only():
    out = decode(capture_line("1,2,chip\nx,4,atm\n5,6,atm", "0.1\n0.2\n0.3"))
    assert out.malformed == {"non_numeric": 1}
    np.testing.assert_array_equal(out.columns["amount"], [1, 5])


def test_empty_file_is_counted_and_gives_empty_columns():
    out = CaptureDecoder(SCHEMA).decode(b"")
    assert out.malformed == {"empty_file": 1}
    assert out.rows == 0 and out.columns["amount"].size == 0 and out.predictions.size == 0


def test_invalid_utf8_does_not_crash():
    out = CaptureDecoder(SCHEMA).decode(GOOD.encode() + b"\n\xff\xfe{not json\n")
    assert out.rows == 1 and out.malformed["invalid_json"] == 1


def test_schema_needs_features():
    with pytest.raises(ValueError, match="at least one feature"):
        CaptureDecoder(CaptureSchema(()))


def test_base64_round_trip_of_fixture_writer():
    line = json.loads(capture_line("1,2,chip", "0.5", encoding="BASE64"))
    assert base64.b64decode(line["captureData"]["endpointInput"]["data"]) == b"1,2,chip"


def test_escapes_other_than_newline_are_unescaped_on_the_per_line_path():
    line = capture_line("1,2,chip", "0.5", inference_id="tab\there")  # JSON writes the tab as \t
    out = decode(line)
    assert out.scored == [("tab\there", 0.5)] and out.rows == 1
