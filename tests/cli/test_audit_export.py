"""``mlops audit export`` on moto: records written by the real writer, read back from CSV and Parquet files."""
from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

import mlops_contracts as contracts
from mlops_cli.main import main
from tests.support import governance_helpers as h

APPROVER = f"arn:aws:sts::{h.ACCOUNT}:assumed-role/ModelApprover/alice"


@pytest.fixture(scope="module")
def trail(lambda_context):
    with h.audit_trail(lambda_context) as audit:
        sagemaker, write = audit.sagemaker, audit.write
        execution = h.start_build(sagemaker, "a" * 40, "s3://data/2026-05/")
        metadata = h.lineage_metadata("a" * 40, execution, "train-v1", "d" * 64)
        arn = h.register_package(sagemaker, metadata)
        write(h.execution_event("2026-04-30T23:59:59Z", execution, "Succeeded"))  # the day before the period
        for day in range(1, 13):  # twelve approvals, one a day, in May
            audit.approve(arn, f"2026-05-{day:02d}T10:00:00Z", metadata, approver=APPROVER,
                          description=f"review {day}, with a comma")
        h.serve(sagemaker, arn, "config-v1")
        h.point_endpoint_at(sagemaker, "config-v1")
        write(h.stack_event("2026-05-03T12:00:00Z", "CREATE_COMPLETE"))  # endpoint + deployment record
        write(h.stack_event("2026-06-01T00:00:00Z", "UPDATE_COMPLETE"))  # after the period
        yield {"package": arn, "execution": execution}


def _export(capsys, tmp_path, name: str, *extra: str) -> tuple[int, str, str]:
    code = main(["audit", "export", "--from", "2026-05-01", "--to", "2026-05-31", "--out", str(tmp_path / name),
                 *extra, "--table", h.TABLE, "--region", h.REGION])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_csv_holds_exactly_the_period_across_several_scan_pages(trail, capsys, tmp_path):
    code, out, err = _export(capsys, tmp_path, "may.csv", "--page-size", "4", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["pages"] > 3 and summary["records"] == 14
    assert summary["kinds"] == {"deployment": 1, "endpoint-state": 1, "package-state": 12}
    with (tmp_path / "may.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 14 and [r["event_time"] for r in rows] == sorted(r["event_time"] for r in rows)
    assert rows[0]["event_time"] == "2026-05-01T10:00:00Z" and rows[-1]["event_time"] == "2026-05-12T10:00:00Z"
    approvals = [r for r in rows if r["kind"] == "package-state"]
    assert {r["actor"] for r in approvals} == {APPROVER}
    assert approvals[4]["approval_description"] == "review 5, with a comma"
    assert json.loads(approvals[0]["lineage"])[contracts.META_GIT_COMMIT] == "a" * 40
    endpoint = next(r for r in rows if r["kind"] == "endpoint-state")
    assert json.loads(endpoint["serving"])[0]["model_package_arn"] == trail["package"]
    assert endpoint["rolled_back"] == "false" and approvals[0]["model_package_version"] == "1"


def test_one_page_and_many_pages_export_the_same_rows(trail, capsys, tmp_path):
    assert _export(capsys, tmp_path, "paged.csv", "--page-size", "1")[0] == 0
    assert _export(capsys, tmp_path, "whole.csv")[0] == 0
    assert (tmp_path / "paged.csv").read_text() == (tmp_path / "whole.csv").read_text()


def test_parquet_has_the_same_records_as_csv(trail, capsys, tmp_path):
    code, out, err = _export(capsys, tmp_path, "may.parquet", "--page-size", "5")
    assert code == 0, err
    assert "wrote 14 audit records (1 deployment, 1 endpoint-state, 12 package-state)" in out
    table = pq.read_table(tmp_path / "may.parquet")
    assert table.num_rows == 14 and table.column_names[:3] == ["event_time", "kind", "pk"]
    assert _export(capsys, tmp_path, "may.csv")[0] == 0
    with (tmp_path / "may.csv").open(newline="") as handle:
        assert table.to_pylist() == list(csv.DictReader(handle))


def test_iso_times_bound_the_period_to_the_second(trail, capsys, tmp_path):
    code = main(["audit", "export", "--from", "2026-05-03T12:00:00Z", "--to", "2026-05-04T10:00:00+00:00",
                 "--out", str(tmp_path / "x.csv"), "--table", h.TABLE, "--region", h.REGION, "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["records"] == 3


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "May", "--to", "2026-05-31", "--out", "x.csv"], "--from: invalid timestamp 'May'"),
    (["--from", "2026-06-01", "--to", "2026-05-31", "--out", "x.csv"], "is after --to"),
    (["--from", "2026-05-01", "--to", "2026-05-31", "--out", "x.xlsx"], "cannot tell the format from '.xlsx'"),
    (["--from", "2026-05-01", "--to", "2026-05-31", "--out", "x.csv", "--page-size", "0"], "--page-size must be"),
])
def test_bad_input_is_one_line_and_exit_1(trail, capsys, tmp_path, argv, message):
    argv = [a if not a.startswith("x.") else str(tmp_path / a) for a in argv]
    code = main(["audit", "export", *argv, "--table", h.TABLE, "--region", h.REGION])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and message in err


def test_an_unknown_table_is_one_line(trail, capsys, tmp_path):
    code = main(["audit", "export", "--from", "2026-05-01", "--to", "2026-05-02", "--out", str(tmp_path / "x.csv"),
                 "--table", "no-such-table", "--region", h.REGION])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: Scan: ")
