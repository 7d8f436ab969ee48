"""``mlops which-decision``: one inference, from its data-capture record to the package that made it.

The capture layout is SageMaker's: ``s3://<data bucket>/capture/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``, one
JSON line per request, the client's ``InferenceId`` (or SageMaker's ``eventId``) in ``eventMetadata``. The variant
is the key's fourth segment; the audit trail (``governance_queries.which_model``) says which package that variant
ran at the record's ``inferenceTime``. A request captured while an update was baking (the endpoint record says
``Updating`` and names the pending config) may have reached either fleet: both packages are reported, with how
the update ended.

Every function takes its clients as arguments, so tests pass moto-backed ones.
"""
from __future__ import annotations

import base64
import binascii
import csv
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

import mlops_contracts as contracts
from governance_code import audit_schema as schema
from mlops_cli import governance_queries as queries

DEFAULT_WINDOW_HOURS = 2  # with --around: capture hours searched either side of it
CAPTURE_READ_BYTES = 1 << 20  # capture objects are streamed line by line in pieces this size, whatever their size
UPDATING = "Updating"


class DecisionNotFound(queries.GovernanceError):
    """No capture record holds the inference ID where it was searched."""


@dataclass(frozen=True)
class CapturedRequest:
    """One capture record of the inference: the variant that answered, when, what it was asked and answered."""

    variant: str
    s3_uri: str
    inference_id: str
    event_id: str
    inference_time: str
    input_content_type: str
    input: str
    output_content_type: str
    output: str


def _part_text(part: dict) -> str:
    data = part.get("data", "")
    if str(part.get("encoding", "")).upper() == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return data
    return data if isinstance(data, str) else json.dumps(data)


def match_line(line: str, inference_id: str) -> dict | None:
    """The capture record on ``line`` if its ``inferenceId`` or ``eventId`` is ``inference_id``; else None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    if not isinstance(metadata, dict) or inference_id not in (metadata.get("inferenceId"), metadata.get("eventId")):
        return None
    return record


def captured_request(record: dict, variant: str, s3_uri: str) -> CapturedRequest:
    data = record.get("captureData") or {}
    inputs, outputs = data.get("endpointInput") or {}, data.get("endpointOutput") or {}
    metadata = record["eventMetadata"]
    return CapturedRequest(
        variant=variant, s3_uri=s3_uri, inference_id=metadata.get("inferenceId", ""),
        event_id=metadata.get("eventId", ""), inference_time=schema.normalize_time(metadata["inferenceTime"]),
        input_content_type=inputs.get("observedContentType", ""), input=_part_text(inputs),
        output_content_type=outputs.get("observedContentType", ""), output=_part_text(outputs))


def hour_prefixes(endpoint: str, variant: str, around: str, window_hours: int) -> list[str]:
    """``capture/<endpoint>/<variant>/yyyy/mm/dd/hh/`` for every hour within ``window_hours`` of ``around``."""
    centre = datetime.fromisoformat(schema.normalize_time(around)).replace(minute=0, second=0)
    hours = [centre + timedelta(hours=offset) for offset in range(-window_hours, window_hours + 1)]
    return [f"{contracts.CAPTURE_PREFIX}/{endpoint}/{variant}/{h:%Y/%m/%d/%H}/" for h in hours]


def capture_variants(s3, bucket: str, endpoint: str) -> list[str]:
    prefix = f"{contracts.CAPTURE_PREFIX}/{endpoint}/"
    variants = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        variants += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return variants


def find_captures(s3, bucket: str, endpoint: str, inference_id: str, around: str | None = None,
                  window_hours: int = DEFAULT_WINDOW_HOURS) -> tuple[list[CapturedRequest], int]:
    """Every capture record of ``inference_id`` (one per variant it reached, e.g. production and shadow), and
    how many capture objects were searched. Without ``around`` every hour of the endpoint is searched."""
    try:
        variants = capture_variants(s3, bucket, endpoint)
    except ClientError as error:
        raise queries.GovernanceError(f"cannot list s3://{bucket}/{contracts.CAPTURE_PREFIX}/{endpoint}/: "
                                      f"{error.response['Error']['Message']}") from None
    if not variants:
        raise queries.GovernanceError(
            f"endpoint {endpoint!r} has no data capture under s3://{bucket}/{contracts.CAPTURE_PREFIX}/{endpoint}/;"
            " check --endpoint and --bucket (the model stack's DataBucketName output)")
    found, searched, wanted = [], 0, inference_id.encode()
    for variant in variants:
        prefixes = (hour_prefixes(endpoint, variant, around, window_hours) if around
                    else [f"{contracts.CAPTURE_PREFIX}/{endpoint}/{variant}/"])
        for prefix in prefixes:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    searched += 1
                    body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
                    for raw in body.iter_lines(chunk_size=CAPTURE_READ_BYTES):
                        if wanted not in raw:
                            continue
                        record = match_line(raw.decode("utf-8", "replace"), inference_id)
                        if record is not None:
                            found.append(captured_request(record, variant, f"s3://{bucket}/{obj['Key']}"))
    return found, searched


def scores(output: str) -> list[float | str]:
    """The response's scores as numbers where they parse (CSV or JSON list), else the raw values. The served model's
    ``score,label`` rows and ``{"score", "label"}`` objects give their score."""
    text = contracts.score_column(output.strip())
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]
    if isinstance(parsed, dict) and isinstance(parsed.get("predictions"), list):
        parsed = parsed["predictions"]
    values = parsed if isinstance(parsed, list) else [parsed]
    result = []
    for value in values:
        if isinstance(value, dict) and "score" in value:
            value = value["score"]
        try:
            result.append(float(value))
        except (TypeError, ValueError):
            result.append(value)
    return result


def input_record(s3, baseline_uri: str, capture: CapturedRequest) -> dict[str, str]:
    """The request's values by feature name, when it is one CSV row as wide as the package's baseline (the
    model's input columns, in order); empty otherwise or when the baseline cannot be read."""
    rows = [r for r in capture.input.splitlines() if r.strip()]
    if not baseline_uri or "csv" not in capture.input_content_type or len(rows) != 1:
        return {}
    from pipeline_code.training.drift_stats import Baseline, BaselineError

    location = urlparse(baseline_uri)
    try:
        body = s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
        names = Baseline.from_json(body).feature_names
    except (ClientError, BaselineError, ValueError):
        return {}
    values = next(csv.reader([rows[0]]))
    return dict(zip(names, values, strict=True)) if len(names) == len(values) else {}


def _endpoint_records_between(table, endpoint: str, after_sk: str, limit: int) -> list[dict]:
    page = table.query(KeyConditionExpression=Key("pk").eq(schema.endpoint_pk(endpoint)) & Key("sk").gt(after_sk),
                       ScanIndexForward=True, Limit=limit)
    return page.get("Items", [])


def deploy_time(table, endpoint: str, at: str, variant: str, package_arn: str, max_records: int = 200) -> str:
    """When ``package_arn`` began serving ``variant`` without a break up to ``at``: the oldest of the newest run of
    endpoint records that show it there."""
    kwargs = {"KeyConditionExpression": Key("pk").eq(schema.endpoint_pk(endpoint))
              & Key("sk").lte(schema.sort_key_upper_bound(at)), "ScanIndexForward": False}
    since, seen = "", 0
    while seen < max_records:
        page = table.query(**kwargs)
        for record in page.get("Items", []):
            seen += 1
            arns = {s.get("model_package_arn") for s in record.get("serving", []) if s.get("variant") == variant}
            if package_arn not in arns:
                return since
            since = record["event_time"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return since


def _package_lineage(sagemaker, table, package_arn: str, at: str) -> dict:
    """Approval (as of ``at``), recorded metadata, training hyperparameters and images of one package."""
    states, approval, recorded = queries.package_as_of(table, package_arn, at)
    package = {}
    try:
        package = queries.describe_package(sagemaker, package_arn)
    except queries.GovernanceError:
        pass  # a deleted package still has its audit records
    recorded = recorded or schema.lineage_metadata(package.get("CustomerMetadataProperties"))
    job = queries.training_job(sagemaker, recorded.get(contracts.META_TRAINING_JOB)) or {}
    return {
        "model_package_arn": package_arn,
        **queries.approval_summary(table, states, approval, recorded),
        "recorded": recorded,
        "hyperparameters": job.get("hyperparameters", {}),
        "training_job_error": job.get("error", ""),
        "training_image": job.get("image") or recorded.get(contracts.META_IMAGE_URI, ""),
        "serving_images": queries.serving_images(package),
    }


def _variant_entry(serving: list[dict], variant: str) -> dict | None:
    return next((s for s in serving if s.get("variant") == variant), None)


def which_decision(table, sagemaker, s3, *, bucket: str, endpoint: str, inference_id: str,
                   around: str | None = None, window_hours: int = DEFAULT_WINDOW_HOURS) -> dict:
    """The captured request and response of one inference, the variant that answered, and the package it ran."""
    if not inference_id.strip():
        raise queries.GovernanceError("--inference-id is empty")
    captures, searched = find_captures(s3, bucket, endpoint, inference_id, around, window_hours)
    where = (f"within {window_hours} h of {schema.normalize_time(around)}" if around else "in any hour")
    if not captures:
        raise DecisionNotFound(f"inference {inference_id!r} is not in the data capture of {endpoint!r} {where} "
                               f"({searched} capture objects searched)")
    answers = []
    for capture in captures:
        record = queries.serving_record(table, endpoint, capture.inference_time)
        role_entry = _variant_entry(record.get("serving", []), capture.variant)
        entry = {"capture": asdict(capture), "scores": scores(capture.output),
                 "role": (role_entry or {}).get("role", "unknown"),
                 "endpoint_record": {"event_time": record["event_time"], "event": record.get("event_status", ""),
                                     "endpoint_status": record.get("endpoint_status", ""),
                                     "endpoint_config": record.get("endpoint_config_name", "")},
                 "candidates": []}
        live = role_entry.get("model_package_arn") if role_entry else ""
        if live:
            since = deploy_time(table, endpoint, capture.inference_time, capture.variant, live)
            entry["candidates"].append({**_package_lineage(sagemaker, table, live, capture.inference_time),
                                        "fleet": "live", "deployed_at": since})
        pending_entry = _variant_entry(record.get("pending", []), capture.variant)
        if record.get("endpoint_status") == UPDATING and pending_entry and pending_entry.get("model_package_arn") \
                and pending_entry["model_package_arn"] != live:
            after = _endpoint_records_between(table, endpoint, record["sk"], 1)
            outcome = after[0] if after else {}
            entry["candidates"].append({
                **_package_lineage(sagemaker, table, pending_entry["model_package_arn"], capture.inference_time),
                "fleet": "pending", "deployed_at": record["event_time"],
                "update_outcome": ({"event_time": outcome["event_time"], "event": outcome.get("event_status", ""),
                                    "rolled_back": bool(outcome.get("rolled_back"))} if outcome else {})})
        first = entry["candidates"][0] if entry["candidates"] else {}
        entry["input_record"] = input_record(
            s3, first.get("recorded", {}).get(contracts.META_BASELINE_URI, ""), capture) if first else {}
        if not entry["candidates"]:
            raise queries.GovernanceError(
                f"the audit trail has no package on variant {capture.variant!r} of {endpoint!r} at "
                f"{capture.inference_time} (endpoint record {record['event_time']}: serving "
                f"{[s.get('variant') for s in record.get('serving', [])]})")
        answers.append(entry)
    decided = [a for a in answers if a["role"] == "production"] or answers
    return {"endpoint": endpoint, "inference_id": inference_id, "searched_objects": searched,
            "decision": decided[0], "ambiguous": len(decided[0]["candidates"]) > 1,
            "shadow": [a for a in answers if a is not decided[0]]}
