"""Every record shape decodes the same in its compact form (SageMaker's), its spaced form (Python's json.dumps) and
a loose form that only the per-line path reads; alone and mixed in one file."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema

SCHEMA = CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}), categorical_codes=False)
CODES = CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}))
FORMS = {"compact": {"separators": (",", ":")}, "spaced": {}, "loose": {"separators": (" ,  ", " :  ")}}


def record(data: str, output: str, *, encoding: str = "CSV", content_type: str = "text/csv",
           output_content_type: str = "text/csv; charset=utf-8", output_encoding: str = "CSV",
           inference_id: str | None = "id-1") -> dict:
    """A capture record in SageMaker's key order."""
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    metadata = {"eventId": "e-1", **({"inferenceId": inference_id} if inference_id is not None else {}),
                "inferenceTime": "2026-11-01T12:00:00Z"}
    return {"captureData": {
        "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
        "endpointOutput": {"observedContentType": output_content_type, "mode": "OUTPUT", "data": output,
                           "encoding": output_encoding}},
        "eventMetadata": metadata, "eventVersion": "0"}


JSON_IN = {"encoding": "JSON", "content_type": "application/json"}
SHAPES = {
    "csv row": record("12.5,3,online", "0.91"),
    "csv row, no inference id": record("12.5,3,online", "0.91", inference_id=None),
    "csv row, trailing newline": record("12.5,3,online\n", "0.91\n"),
    "csv row, leading newline": record("\n12.5,3,online", "0.91"),
    "csv row, empty field": record("7,,chip", "0.05"),
    "csv rows": record("1,2,chip\n3,4,atm\n5,6,online", "0.1\n0.2\n0.3"),
    "csv rows, scores comma-separated": record("1,2,chip\n3,4,atm", "0.1,0.2"),
    "csv row, too few fields": record("1,2", "0.5"),
    "csv row, too many fields": record("1,2,chip,extra", "0.5"),
    "csv rows, one too short": record("1,2,chip\n3,4", "0.1\n0.2"),
    "csv row, non-numeric": record("abc,2,chip", "0.5"),
    "csv row, empty payload": record("", "0.5"),
    "csv row, escaped id": record("1,2,chip", "0.5", inference_id='tab\there "quoted"'),
    "csv row, bad score": record("1,2,chip", "yes"),
    "csv row, json output list": record("1,2,chip", "[0.3]", output_content_type="application/json"),
    "csv row, json output object": record("1,2,chip", '{"predictions": [0.3]}',
                                          output_content_type="application/json"),
    "csv row, json output scores": record("1,2,chip", '[{"score": 0.3}]', output_content_type="application/json"),
    "csv row, json-encoded output": record("1,2,chip", "0.3", output_content_type="application/json",
                                           output_encoding="JSON"),
    "csv row, application/csv": record("1,2,chip", "0.5", content_type="application/csv"),
    "json row": record(json.dumps([1, 2, "chip"]), "0.5", **JSON_IN),
    "json rows": record(json.dumps([[1, 2, "chip"], [3, 4, "atm"]]), "0.5\n0.6", **JSON_IN),
    "json instances": record(json.dumps({"instances": [[1, 2, "chip"]]}), "0.5", **JSON_IN),
    "json instances of features": record(json.dumps({"instances": [{"features": [1, 2, "chip"]}]}), "0.5",
                                         **JSON_IN),
    "json instances of objects": record(json.dumps({"instances": [{"amount": 1, "hour": 2, "channel": "chip"}]}),
                                        "0.5", **JSON_IN),
    "json object": record(json.dumps({"amount": 1, "hour": None, "channel": "chip"}), "0.5", **JSON_IN),
    "json inputs": record(json.dumps({"inputs": [[1, 2, "chip"]]}), "0.5", **JSON_IN),
    "json with NaN": record("[1, NaN, \"chip\"]", "0.5", **JSON_IN),
    "json, csv-encoded": record(json.dumps([1, 2, "chip"]), "0.5", content_type="application/json"),
    "jsonlines": record(json.dumps([1, 2, "chip"]), "0.5", encoding="JSON", content_type="application/jsonlines"),
    "base64 csv": record("1,2,chip\n3,4,atm", "0.5\n0.6", encoding="BASE64"),
    "base64 json": record(json.dumps([[1, 2, "chip"]]), "0.5", encoding="BASE64", content_type="application/json"),
    "bad base64": {**record("1,2,chip", "0.5"), "captureData": {
        **record("1,2,chip", "0.5")["captureData"],
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "%%%", "encoding": "BASE64"}}},
    "unknown content type": record("1,2,chip", "0.5", content_type="image/png"),
    "unknown encoding": record("1,2,chip", "0.5", encoding="PROTOBUF"),
    "not a capture record": {"hello": "world"},
    "no output": {"captureData": {"endpointInput": record("1,2,chip", "")["captureData"]["endpointInput"]},
                  "eventMetadata": {"eventId": "e"}, "eventVersion": "0"},
}


def line(body: dict, form: str) -> str:
    return json.dumps(body, **FORMS[form])


def summary(decoded) -> dict:
    """What a decode yields, order-free (the vectorized path puts its rows before the per-line path's)."""
    rows = sorted(zip(*(decoded.columns[n].tolist() for n in SCHEMA.features)), key=repr)
    return {"records": decoded.records, "rows": decoded.rows, "malformed": dict(decoded.malformed),
            "wrong_widths": dict(decoded.wrong_widths), "blank_lines": decoded.blank_lines,
            "values": repr(rows), "predictions": sorted(decoded.predictions.tolist()),
            "scored": sorted(decoded.scored)}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("schema", [SCHEMA, CODES], ids=["names", "codes"])
def test_every_form_of_a_shape_decodes_the_same(shape, schema):
    decoder = CaptureDecoder(schema)
    results = {form: summary(decoder.decode(line(SHAPES[shape], form) + "\n", keep_ids=True)) for form in FORMS}
    assert results["spaced"] == results["compact"], shape
    assert results["loose"] == results["compact"], shape


def test_a_file_of_every_shape_decodes_the_same_in_every_form():
    decoder = CaptureDecoder(SCHEMA)
    results = {form: summary(decoder.decode("\n".join(line(SHAPES[s], form) for s in sorted(SHAPES)) + "\n\n",
                                            keep_ids=True)) for form in FORMS}
    assert results["spaced"] == results["compact"] == results["loose"]
    compact = results["compact"]
    assert compact["blank_lines"] == 1 and compact["records"] == len(SHAPES)
    assert compact["wrong_widths"] == {0: 1, 2: 2, 4: 1}


def test_the_fast_forms_take_the_fast_path():
    """Compact and spaced CSV lines are matched by the vectorized path's patterns, the loose form is not."""
    from monitoring_code.capture_decode import _FAST_LINE, _FAST_LINE_SPACED

    body = SHAPES["csv row"]
    assert _FAST_LINE.match(line(body, "compact")).group(1) == "12.5,3,online"
    assert _FAST_LINE_SPACED.match(line(body, "spaced")).group(1) == "12.5,3,online"
    assert _FAST_LINE.match(line(body, "loose")).group(1) is None
    assert _FAST_LINE_SPACED.match(line(body, "loose")).group(1) is None
    json_output = line(SHAPES["csv row, json output list"], "compact")
    assert _FAST_LINE.match(json_output).group(1) is None  # a JSON output is parsed as JSON, per line


def test_json_output_with_csv_encoding_is_a_score_not_a_malformed_prediction():
    decoded = CaptureDecoder(SCHEMA).decode(line(SHAPES["csv row, json output object"], "compact"))
    assert decoded.malformed == {} and decoded.predictions.tolist() == [0.3]
    np.testing.assert_array_equal(decoded.columns["amount"], [1.0])


def test_crlf_line_endings_decode_like_lf():
    decoder = CaptureDecoder(SCHEMA)
    lines = [line(SHAPES[s], form) for s in sorted(SHAPES) for form in ("compact", "spaced")]
    lf = summary(decoder.decode("\n".join(lines) + "\n\n", keep_ids=True))
    crlf = summary(decoder.decode("\r\n".join(lines) + "\r\n\r\n", keep_ids=True))
    assert crlf == lf


def test_the_same_rows_as_csv_and_as_json_decode_to_the_same_columns():
    """JSON numbers convert at once, JSON strings and CSV text through the text path: the same values either way."""
    rng = np.random.default_rng(5)
    rows = [[round(float(a), 4), int(h), None if i % 7 == 0 else int(c)]
            for i, (a, h, c) in enumerate(zip(rng.normal(50, 9, 300), rng.integers(0, 24, 300),
                                              rng.integers(0, 3, 300)))]
    as_csv = [record(",".join("" if v is None else str(v) for v in row), "0.5") for row in rows]
    as_json = [record(json.dumps(row), "0.5", **JSON_IN) for row in rows]
    as_json_text = [record(json.dumps(["" if v is None else str(v) for v in row]), "0.5", **JSON_IN) for row in rows]
    as_bool = record(json.dumps([True, 2, 1]), "0.5", **JSON_IN)  # a boolean is not a number: the row is dropped
    for schema in (SCHEMA, CODES):
        decoder = CaptureDecoder(schema)
        results = [summary(decoder.decode("\n".join(line(r, "compact") for r in rs))) for rs in
                   (as_csv, as_json, as_json_text)]
        assert results[0] == results[1] == results[2]
        mixed = decoder.decode("\n".join(line(r, "compact") for r in [*as_json[:5], as_bool]))
        assert mixed.rows == 5 and mixed.malformed == {"non_numeric": 1}
