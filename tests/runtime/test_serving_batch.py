"""Batch scoring of the raw HR extract: the real attrition data, text categoricals and a header, with an employee
ID column the model never sees, through the served model and the transform job's DataProcessing filters.

Batch Transform itself cannot run offline; ``transform`` applies the job's InputFilter, JoinSource and
OutputFilter (the JSONPath index forms the construct uses) to each CSV record as documented, and sends the filtered
records to ``pipeline_code.endpoint.serving.handle`` as one mini-batch, as a MultiRecord job with SplitType Line does.
"""
from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest

from mlops_constructs.deploy.batch_scoring import DATA_PROCESSING, SCORE_COLUMNS
from pipeline_code.endpoint import serving
from tests.runtime.test_serving import ATTRITION, built, served  # noqa: F401  (module fixtures: one real build)

pytestmark = pytest.mark.slow


def _select(fields: list, path: str) -> list:
    """A JSONPath index selection on a CSV record: ``$[a:]``, ``$[a:b]`` or ``$[i,j,...]``."""
    inner = re.fullmatch(r"\$\[(.*)\]", path).group(1)
    if ":" in inner:
        start, _, stop = inner.partition(":")
        return fields[int(start) if start else None:int(stop) if stop else None]
    return [fields[int(i)] for i in inner.split(",")]


def transform(model, extract: str, processing: dict) -> tuple[int, str]:
    records = list(csv.reader(io.StringIO(extract)))
    filtered = "".join(",".join(_select(r, processing["InputFilter"])) + "\n" for r in records)
    reply = serving.handle(model, filtered.encode(), "text/csv", "text/csv")
    if reply.status != 200:
        return reply.status, reply.body
    outputs = list(csv.reader(io.StringIO(reply.body)))
    assert len(outputs) == len(records), "Batch Transform joins line by line: one output per input record"
    joined = [(r if processing["JoinSource"] == "Input" else []) + o for r, o in zip(records, outputs)]
    return 200, "".join(",".join(_select(j, processing["OutputFilter"])) + "\n" for j in joined)


@pytest.fixture(scope="module")
def extract() -> pd.DataFrame:
    """The monthly extract: the real HR rows with an employee number first and no label."""
    frame = pd.read_csv(ATTRITION, dtype=str).drop(columns=["Attrition"])
    frame.insert(0, "EmployeeNumber", [f"E{n:05d}" for n in range(1, len(frame) + 1)])
    return frame


def test_the_raw_extract_is_scored_and_each_score_joined_to_its_employee(served, extract):  # noqa: F811
    status, body = transform(served, extract.to_csv(index=False), DATA_PROCESSING)
    assert status == 200
    scores = pd.read_csv(io.StringIO(body), dtype={"EmployeeNumber": str})
    assert list(scores.columns) == ["EmployeeNumber", "score", "label"]
    assert len(scores) == len(extract) and (scores.EmployeeNumber == extract.EmployeeNumber).all()
    assert scores.score.between(0, 1).all() and set(scores.label) <= {0, 1}
    assert ((scores.score >= 0.3) == (scores.label == 1)).all()
    # The Glue table reads exactly these columns, in this order, after its one header line.
    assert [name for name, _ in SCORE_COLUMNS] == ["record_id", "score", "label"]
    # Each employee's score is the one the served model gives that employee's record alone.
    one = extract.iloc[[7]].drop(columns=["EmployeeNumber"]).to_csv(index=False, header=False)
    alone = serving.handle(served, one.encode(), "text/csv", "text/csv").body.split(",")[0]
    assert scores.score[7] == float(alone)


def test_a_bad_record_fails_the_job_with_column_and_value(served, extract):  # noqa: F811
    broken = extract.head(20).copy()
    broken.loc[5, "BusinessTravel"] = "Teleporting"
    status, body = transform(served, broken.to_csv(index=False), DATA_PROCESSING)
    assert status == 400 and "BusinessTravel" in body and "Teleporting" in body
