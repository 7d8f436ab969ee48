"""The served model: raw records in, training's encoder applied, score and label out; bad requests are 4xx.

A real ``mlops run-local`` build of employee-attrition (the real HR data) produces the served package; its scores
through ``mlops predict`` on the raw test split equal the evaluate step's, byte for byte.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

import mlops_contracts as contracts
from mlops_cli.main import main as mlops
from mlops_constructs.build.job_spec import job_spec
from pipeline_code.code_bundle import code_files
from pipeline_code.data import preprocess
from pipeline_code.endpoint import packaging, serving
from pipeline_code.training.evaluate import TEST_SCORES_FILE

REPO = Path(__file__).resolve().parents[2]
ATTRITION = REPO / "data" / "attrition" / "attrition.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("attrition")
    # --local-versions: in-process with the dev environment's xgboost, like tests/cli/test_run_local.py.
    assert mlops(["run-local", "employee-attrition", "--config-dir", str(REPO / "config"), "--data", str(ATTRITION),
                  "--out", str(out), "--local-versions"]) == 0
    return out


@pytest.fixture(scope="module")
def served(built, tmp_path_factory):
    folder = packaging.extract_archive(built / "served" / packaging.MODEL_ARCHIVE, tmp_path_factory.mktemp("m"))
    return serving.load(folder)


@pytest.fixture(scope="module")
def raw_test_split(example_config) -> pd.DataFrame:
    """The test split's rows as they are in the HR extract: text categoricals, no label."""
    spec = job_spec(example_config.model("employee-attrition"))
    frame = pd.read_csv(ATTRITION, dtype=str)
    rows = preprocess.split_indices(preprocess.labels(frame, spec), spec)["test"]
    return frame.iloc[rows].drop(columns=[spec["label"]])


def test_the_package_holds_booster_encoder_threshold_and_the_build_code(built, tmp_path):
    folder = packaging.extract_archive(built / "served" / packaging.MODEL_ARCHIVE, tmp_path)
    assert (folder / "encoder.json").read_text() == (built / "encoder" / "encoder.json").read_text()
    assert (folder / "xgboost-model").read_bytes() == (built / "model" / "xgboost-model").read_bytes()
    assert json.loads((folder / contracts.SERVING_FILE).read_text()) == {
        "decision_threshold": 0.3, "model": "employee-attrition"}
    code = folder / contracts.SERVING_CODE_DIR
    assert "from pipeline_code.endpoint.serving import model_fn, transform_fn" in (code / contracts.SERVING_PROGRAM).read_text()
    encoding_file = Path("pipeline_code", "data", "encoding.py")
    assert (code / encoding_file).read_bytes() == (REPO / encoding_file).read_bytes()
    # the served code is what the build ran: the package and the contracts it imports, nothing else
    shipped = sorted(p.relative_to(code).as_posix() for p in code.rglob("*.py") if p.name != contracts.SERVING_PROGRAM)
    assert shipped == [p.relative_to(REPO).as_posix() for p in code_files(REPO / "pipeline_code")]
    assert "mlops_contracts/__init__.py" in shipped and not any(p.startswith("monitoring_code/") for p in shipped)


def test_mlops_predict_on_the_raw_test_split_equals_evaluation_byte_for_byte(built, raw_test_split, tmp_path):
    source = tmp_path / "test.csv"
    raw_test_split.to_csv(source, index=False)
    assert mlops(["predict", "--model", str(built), "--input", str(source), "--output", str(tmp_path / "out.csv")]) == 0
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "score,label" and len(lines) == len(raw_test_split) + 1
    scores = "".join(line.split(",")[0] + "\n" for line in lines[1:])
    assert scores == (built / TEST_SCORES_FILE).read_text()
    assert all(line.split(",")[1] == str(int(float(line.split(",")[0]) >= 0.3)) for line in lines[1:])
    # JSON lines, the other input format, score the same.
    jsonl = tmp_path / "test.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in raw_test_split.to_dict(orient="records")))
    assert mlops(["predict", "--model", str(built), "--input", str(jsonl), "--accept", "application/json",
                  "--output", str(tmp_path / "out.json")]) == 0
    predictions = json.loads((tmp_path / "out.json").read_text())["predictions"]
    assert "".join(f"{p['score']!r}\n" for p in predictions) == (built / TEST_SCORES_FILE).read_text()


def test_predict_names_column_and_value_of_a_bad_record(built, raw_test_split, tmp_path, capsys):
    source = tmp_path / "bad.csv"
    raw_test_split.head(3).assign(JobRole=["Sales_Executive", "Astronaut", "Manager"]).to_csv(source, index=False)
    assert mlops(["predict", "--model", str(built), "--input", str(source)]) == 2
    err = capsys.readouterr().err
    assert "column 'JobRole'" in err and "Astronaut" in err and "Traceback" not in err


def _row(frame: pd.DataFrame, index: int = 0) -> list[str]:
    return frame.iloc[index].tolist()


def _csv(rows) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode()


BAD = {
    "unseen category": (lambda r, f: _csv([[("Astronaut" if n == "JobRole" else v) for n, v in zip(f, r)]]), "text/csv",
                        400, "unseen_category", "JobRole", "Astronaut"),
    "missing column (csv)": (lambda r, f: _csv([r[:-1]]), "text/csv", 400, "missing_column", "YearsWithCurrManager", None),
    "extra column (csv)": (lambda r, f: _csv([r + ["42"]]), "text/csv", 400, "extra_column", "#31", "42"),
    "non-numeric": (lambda r, f: _csv([["forty"] + r[1:]]), "text/csv", 400, "non_numeric", "Age", "forty"),
    "empty body": (lambda r, f: b"", "text/csv", 400, "empty_body", None, None),
    "missing key (json)": (lambda r, f: json.dumps({k: v for k, v in zip(f, r) if k != "Gender"}).encode(),
                           "application/json", 400, "missing_column", "Gender", None),
    "extra key (json)": (lambda r, f: json.dumps({**dict(zip(f, r)), "EmployeeNumber": 7}).encode(),
                         "application/json", 400, "extra_column", "EmployeeNumber", 7),
    "not json": (lambda r, f: b"{nope", "application/json", 400, "malformed", None, None),
    "unsupported type": (lambda r, f: _csv([r]), "application/x-parquet", 415, "unsupported_content_type", None, None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_request_is_4xx_naming_column_and_value_and_is_logged_for_the_metric(case, served, raw_test_split,
                                                                                   capsys):
    body, content_type, status, reason, column, value = BAD[case]
    features = served.encoder["features"]
    reply = serving.handle(served, body(_row(raw_test_split), features), content_type, "text/csv")
    assert reply.status == status and reply.content_type == "application/json"
    answer = json.loads(reply.body)
    assert answer["error"] == reason
    assert answer["column"] == column and answer["value"] == value
    if column:
        assert column in answer["message"]
    if value is not None:
        assert str(value) in answer["message"]
    event = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert event[contracts.REJECTION_EVENT_FIELD] == contracts.REJECTION_EVENT
    assert event[contracts.DIM_REASON] == reason and reason in contracts.REJECTION_REASONS
    assert event[contracts.DIM_MODEL] == "employee-attrition"


def test_csv_with_a_header_and_many_rows_and_json_agree(served, raw_test_split):
    features = served.encoder["features"]
    rows = [_row(raw_test_split, i) for i in range(5)]
    as_csv = serving.handle(served, _csv([features] + rows), "text/csv", "text/csv")
    as_json = serving.handle(served, json.dumps([dict(zip(features, r)) for r in rows]), "application/json",
                             "application/json")
    assert as_csv.status == as_json.status == 200
    lines = as_csv.body.splitlines()
    assert lines[0] == "score,label"
    assert [line.split(",")[0] for line in lines[1:]] == [repr(p["score"]) for p in json.loads(as_json.body)
                                                          ["predictions"]]
    frame = pd.read_csv(io.StringIO(as_csv.body))
    assert list(frame.columns) == ["score", "label"] and len(frame) == 5
