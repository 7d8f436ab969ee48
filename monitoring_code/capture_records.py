"""Write records in SageMaker's data-capture format: for local runs, fixtures and benchmarks.

The inverse of ``capture_decode``: one compact JSON line per inference, exactly as data capture writes it.
"""
from __future__ import annotations

import base64
import json
import math
import uuid


def capture_line(payload: str, output: str, *, encoding: str = "CSV", content_type: str = "text/csv",
                 output_content_type: str = "text/csv; charset=utf-8", inference_id: str | None = None,
                 inference_time: str = "2026-11-01T12:00:00Z") -> str:
    """One capture record. ``encoding`` is CSV, JSON or BASE64 (the payload is base64-encoded here)."""
    data = base64.b64encode(payload.encode()).decode() if encoding == "BASE64" else payload
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data,
                              "encoding": encoding},
            "endpointOutput": {"observedContentType": output_content_type, "mode": "OUTPUT", "data": output,
                               "encoding": "CSV"},
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


def csv_row(values) -> str:
    """A CSV payload row; floats keep up to 6 significant digits, like most client serializers; NaN is empty."""
    return ",".join(("" if math.isnan(v) else f"{v:.6g}") if isinstance(v, float) else str(v) for v in values)
