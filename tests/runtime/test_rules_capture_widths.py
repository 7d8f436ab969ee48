"""A payload row whose width is not the schema's is skipped and counted as ``wrong_column_count`` on every decode
path (canonical CSV, per-line CSV, JSON rows and objects, BASE64 of either), and the file's other rows still
decode. Both too few and too many values count: a shifted row would put values in the wrong feature."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema
from monitoring_code.capture_records import capture_line

SCHEMA = CaptureSchema(("amount", "hour", "channel"), frozenset({"channel"}), categorical_codes=False)
GOOD = capture_line("1,2,chip", "0.5")
JSON = {"encoding": "JSON", "content_type": "application/json"}


def _slow(line: str) -> str:
    """The same record in a form the canonical fast path does not match (valid JSON, a space after a colon)."""
    return line.replace('"mode":"INPUT"', '"mode": "INPUT"')


def _json_array(rows) -> str:
    return json.dumps(rows)


def _wrong_rows(width_change: int) -> dict[str, str]:
    """One capture line per decode path whose second payload row has ``3 + width_change`` values."""
    good, bad = [7, 8, "atm"], ([7, 8, "atm", "extra"] if width_change > 0 else [7, 8])
    csv_payload = f"7,8,atm\n{','.join(map(str, bad))}"
    return {
        "canonical csv": capture_line(csv_payload, "0.1\n0.2"),
        "per-line csv": _slow(capture_line(csv_payload, "0.1\n0.2")),
        "csv content type other than text/csv": capture_line(csv_payload, "0.1\n0.2", content_type="application/csv"),
        "json rows": capture_line(_json_array([good, bad]), "0.1\n0.2", **JSON),
        "json instances": capture_line(json.dumps({"instances": [good, bad]}), "0.1\n0.2", **JSON),
        "json features objects": capture_line(
            json.dumps({"instances": [{"features": good}, {"features": bad}]}), "0.1\n0.2", **JSON),
        "base64 csv": capture_line(csv_payload, "0.1\n0.2", encoding="BASE64"),
        "base64 json": capture_line(_json_array([good, bad]), "0.1\n0.2", encoding="BASE64",
                                    content_type="application/json"),
    }


CASES = [(path, change, line) for change in (-1, +1) for path, line in _wrong_rows(change).items()]


@pytest.mark.parametrize(("path", "change", "line"), CASES,
                         ids=[f"{path}, {'one short' if change < 0 else 'one extra'}" for path, change, _ in CASES])
def test_a_wrong_width_row_is_counted_on_every_decode_path(path, change, line):
    out = CaptureDecoder(SCHEMA).decode(f"{GOOD}\n{line}\n{GOOD}\n")
    assert out.malformed == {"wrong_column_count": 1}, (path, out.malformed)
    assert out.records == 3
    # The record's other row and the neighbouring records are kept (row order is not part of the contract).
    assert out.rows == 3
    np.testing.assert_array_equal(np.sort(out.columns["amount"]), [1.0, 1.0, 7.0])
    assert sorted(out.columns["channel"]) == ["atm", "chip", "chip"]


@pytest.mark.parametrize("path", ["canonical csv", "per-line csv", "json rows", "base64 csv"])
def test_a_record_whose_only_row_has_the_wrong_width_contributes_no_row(path):
    lines = {
        "canonical csv": capture_line("1,2", "0.5"),
        "per-line csv": _slow(capture_line("1,2", "0.5")),
        "json rows": capture_line("[1, 2]", "0.5", **JSON),
        "base64 csv": capture_line("1,2", "0.5", encoding="BASE64"),
    }
    out = CaptureDecoder(SCHEMA).decode(lines[path])
    assert (out.records, out.rows, dict(out.malformed)) == (1, 0, {"wrong_column_count": 1})
    assert all(column.size == 0 for column in out.columns.values())


def test_base64_really_is_the_path_under_test():
    # Guards the fixture: the BASE64 line must not carry the CSV text in the clear.
    line = _wrong_rows(-1)["base64 csv"]
    assert "7,8,atm" not in line and base64.b64encode(b"7,8,atm").decode()[:8] in line
