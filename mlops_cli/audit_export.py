"""``mlops audit export --from D1 --to D2 --out FILE``: the audit records of a period as CSV or Parquet.

Records are read with a paged Scan of the audit table filtered on ``event_time`` (every record type carries it;
see ``governance_code.audit_schema``), so a period spans every endpoint, package and execution. One row per record;
the common fields are columns, nested values (lineage, serving variants, parameters, lifecycle) are JSON text, and
a field this version does not know is kept as an extra column rather than dropped. Parquet needs ``pyarrow`` (the
``parquet`` extra).
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from boto3.dynamodb.conditions import Attr

from governance_code import audit_schema as schema
from mlops_cli.governance_queries import GovernanceError

FORMATS = ("csv", "parquet")
# Every field the writer sets, in a stable order; nested ones are exported as JSON text.
COLUMNS = (
    "event_time", "kind", "pk", "sk", "event_id", "source", "recorded_at", "actor",
    "model_package_arn", "model_package_group", "model_package_version", "approval_status", "approval_description",
    "lifecycle_stage", "lifecycle_status", "lifecycle_description", "model_card_status",
    "endpoint", "event_status", "endpoint_status", "endpoint_config_name", "rolled_back", "failure_reason",
    "pipeline_execution_arn", "pipeline_arn", "status", "trigger",
    "lineage", "lineage_missing", "serving", "pending", "pending_endpoint_config_name", "parameters",
)


def period(start: str, end: str) -> tuple[str, str]:
    """Inclusive UTC bounds from dates (``2026-05-01``: the whole day) or ISO 8601 times; raises GovernanceError."""
    def bound(value: str, flag: str, last: bool) -> str:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            try:
                return schema.normalize_time(value)
            except ValueError as error:
                raise GovernanceError(f"{flag}: {error}; or a date, e.g. 2026-05-01") from None
        return f"{day.isoformat()}T{'23:59:59' if last else '00:00:00'}Z"

    low, high = bound(start, "--from", False), bound(end, "--to", True)
    if low > high:
        raise GovernanceError(f"--from {low} is after --to {high}")
    return low, high


def scan_period(table, low: str, high: str, page_size: int | None = None) -> tuple[list[dict], int]:
    """Every record with ``low <= event_time <= high``, oldest first, and how many Scan pages were read."""
    kwargs = {"FilterExpression": Attr("event_time").between(low, high)}
    if page_size:
        kwargs["Limit"] = page_size
    records, pages = [], 0
    while True:
        page = table.scan(**kwargs)
        pages += 1
        records += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    records.sort(key=lambda r: (r.get("event_time", ""), r.get("sk", ""), r.get("pk", "")))
    return records, pages


def _plain(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def _cell(value) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and text rows: the known columns, then any other field seen, sorted."""
    extra = sorted({key for record in records for key in record} - set(COLUMNS))
    header = list(COLUMNS) + extra
    return header, [[_cell(record.get(column)) for column in header] for record in records]


def parquet_modules():
    """pyarrow and pyarrow.parquet. A missing pyarrow raises ModuleNotFoundError, which the ``mlops`` entry point
    turns into one line naming the extra to install (``pip install -e '.[parquet]'``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


def write(records: list[dict], out: Path, fmt: str) -> None:
    header, body = rows(records)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)
        return
    pa, pq = parquet_modules()
    columns = {name: pa.array([row[i] for row in body], type=pa.string()) for i, name in enumerate(header)}
    metadata = {b"mlops:exported_at": datetime.now().astimezone().isoformat().encode()}
    pq.write_table(pa.table(columns).replace_schema_metadata(metadata), out)


def output_format(out: Path, requested: str | None) -> str:
    fmt = requested or out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise GovernanceError(f"--out {out}: cannot tell the format from {out.suffix or 'no suffix'!r}; use a .csv "
                              f"or .parquet name or --format {'|'.join(FORMATS)}")
    return fmt


def export(table, start: str, end: str, out: Path, fmt: str | None = None, page_size: int | None = None) -> dict:
    low, high = period(start, end)
    chosen = output_format(out, fmt)
    if chosen == "parquet":
        parquet_modules()  # before the scan: a missing pyarrow fails at once, not after reading the whole period
    records, pages = scan_period(table, low, high, page_size)
    write(records, out, chosen)
    kinds: dict[str, int] = {}
    for record in records:
        kinds[record.get("kind", "")] = kinds.get(record.get("kind", ""), 0) + 1
    return {"from": low, "to": high, "out": str(out), "format": chosen, "records": len(records),
            "pages": pages, "kinds": dict(sorted(kinds.items()))}
