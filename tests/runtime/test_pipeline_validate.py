"""The validate step: each rule names column, rule and counts; the data version is a manifest hash."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mlops_contracts as contracts
from pipeline_code.common import DataError, read_batch
from pipeline_code.data import validate

SPEC = {
    "label": "y", "positive_class": "1", "features": ["amount", "colour"], "categorical": ["colour"],
    "protected_attributes": ["band"], "max_null_fraction": 0.1, "seed": 1,
    "columns": {"amount": {"type": "numeric", "min": 0, "max": 100},
                "colour": {"type": "categorical", "allowed": ["red", "blue"]}},
}


def frame(**overrides) -> pd.DataFrame:
    rows = 20
    data = {"amount": np.linspace(1, 99, rows), "colour": ["red", "blue"] * (rows // 2),
            "band": ["a", "b"] * (rows // 2), "y": ["1", "0", "0", "0"] * (rows // 4)}
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_batch_has_no_problems():
    assert validate.check(frame(), SPEC) == []


@pytest.mark.parametrize("overrides, expected", [
    ({"amount": ["x"] * 2 + list(range(18))}, "column 'amount': rule 'type numeric': 2 of 20 values are not numbers"),
    ({"amount": [-5.0] + list(range(19))}, "column 'amount': rule 'min 0': 1 of 20 values outside"),
    ({"amount": [500.0] * 3 + list(range(17))}, "column 'amount': rule 'max 100': 3 of 20 values outside"),
    ({"colour": ["green"] * 4 + ["red"] * 16}, "column 'colour': rule 'allowed categories': 4 of 20 values not in"),
    ({"amount": [None] * 20}, "column 'amount': rule 'not all null': all 20 values are null"),
    ({"amount": [None] * 3 + list(range(17))}, "column 'amount': rule 'max_null_fraction 0.1': 3 of 20 values"),
    ({"y": ["0"] * 20}, "column 'y': rule 'both classes'"),
    ({"y": ["0", "1", "2", "3"] * 5}, "column 'y': rule 'binary label': 4 classes"),
])
def test_each_rule_names_column_rule_and_counts(overrides, expected):
    problems = validate.check(frame(**overrides), SPEC)
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_label_and_feature_columns_are_reported_together():
    problems = validate.check(frame().drop(columns=["y", "colour"]), SPEC)
    assert problems[0].startswith("column 'y': rule 'label present': missing")
    assert any("columns ['colour']: rule 'columns present'" in p for p in problems)


def test_main_writes_data_version_and_fails_with_exit_2(tmp_path, capsys):
    (tmp_path / "in" / "part").mkdir(parents=True)
    frame().to_csv(tmp_path / "in" / "part" / "a.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    args = ["--spec", str(tmp_path / "spec.json"), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o")]
    assert validate.run_cli(validate.main, args) == 0
    record = json.loads((tmp_path / "o" / contracts.DATA_VERSION_FILE).read_text())
    assert record["rows"] == 20 and record["files"][0]["path"] == "part/a.csv"
    frame(y=["0"] * 20).to_csv(tmp_path / "in" / "part" / "a.csv", index=False)
    assert validate.run_cli(validate.main, args) == 2
    assert "rule 'both classes'" in capsys.readouterr().err


def test_data_version_depends_on_content_and_path_only(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("y\n1\n")
    first = validate.data_version(tmp_path / "a")
    assert validate.data_version(tmp_path / "a") == first
    (tmp_path / "a" / "x.csv").write_text("y\n0\n")
    assert validate.data_version(tmp_path / "a")["data_version"] != first["data_version"]
    versioned = validate.data_version(tmp_path / "a", {"k/x.csv": "v1"})
    assert versioned["s3_versions"] == {"k/x.csv": "v1"}


@pytest.mark.parametrize("content, message", [("", "empty file"), ("amount,colour,band,y\n", "no rows")])
def test_empty_files_are_bad_input(tmp_path, content, message):
    (tmp_path / "x.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        read_batch(tmp_path, SPEC)
