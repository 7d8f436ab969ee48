"""The served model: raw records in, the training encoder applied, score and label out.

Runs inside the SageMaker XGBoost framework container in script mode (``SAGEMAKER_PROGRAM=serve.py``, see
``pipeline_code.endpoint.packaging``), in ``mlops predict`` and in the evaluate step, so all three score through this code.

The container (sagemaker-containers' ``Transformer``) wraps every exception raised by a user function in
``ClientError`` and Flask answers it with a 500; only a ``Response`` returned by ``transform_fn`` carries
another status. So ``transform_fn`` catches bad requests itself and answers 4xx with a message naming the
column and the value, and logs one JSON line per rejection (``contracts.REJECTION_EVENT``) that a CloudWatch
Logs metric filter on the endpoint's log group counts (``GuardedEndpoint``).

Requests: ``text/csv`` rows with the training features in order and category names as in the data (a row equal
to the feature names is a header and is answered with ``score,label``); ``application/json`` an object keyed by
feature name or a list of them. Responses: ``text/csv`` one ``score,label`` row per record, ``application/json``
``{"predictions": [{"score": s, "label": l}, ...]}``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

import mlops_contracts as contracts
from pipeline_code.data import encoding

MODEL_FILE = "xgboost-model"
CSV, JSON = "text/csv", "application/json"
MAX_LOGGED_VALUE = 64


class BadRequest(Exception):
    """A request the model cannot score: HTTP ``status``, ``reason`` (one of ``contracts.REJECTION_REASONS``),
    and the ``column`` and ``value`` at fault where there is one."""

    def __init__(self, message: str, *, reason: str, status: int = 400, column: str | None = None, value=None):
        super().__init__(message)
        self.reason, self.status, self.column, self.value = reason, status, column, value


@dataclass(frozen=True)
class ServedModel:
    """What ``model_fn`` loads from the model directory: booster, encoder and its lookup tables, threshold."""

    booster: xgb.Booster
    encoder: dict
    tables: dict
    threshold: float
    model_name: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    content_type: str


def load(model_dir) -> ServedModel:
    """Booster, ``encoder.json`` and ``serving.json`` (decision threshold, model name) from one directory."""
    model_dir = Path(model_dir)
    with warnings.catch_warnings():  # xgboost >= 2 guesses the format of a file without extension: intended
        warnings.simplefilter("ignore", UserWarning)
        booster = xgb.Booster(model_file=str(model_dir / MODEL_FILE))
    booster.set_param({"nthread": 1})  # one request per gunicorn worker; threads only add switching
    encoder = encoding.load(model_dir / encoding.ENCODER_FILE)
    settings = json.loads((model_dir / contracts.SERVING_FILE).read_text())
    return ServedModel(booster, encoder, encoding.lookups(encoder), float(settings["decision_threshold"]),
                       settings["model"])


def predict(booster: xgb.Booster, matrix: np.ndarray) -> np.ndarray:
    """Positive-class probabilities (float32) of an encoded matrix: the one predict call of serving and evaluate."""
    return booster.predict(xgb.DMatrix(matrix, missing=np.nan), validate_features=False)


def score_matrix(model: ServedModel, matrix: np.ndarray) -> np.ndarray:
    return predict(model.booster, matrix)


def format_scores(scores: np.ndarray) -> list:
    """Each float32 score as its shortest exact decimal text (the same bytes wherever it is scored)."""
    return [str(s) for s in scores.astype(np.float32)]


def _kind(content_type: str | None, default: str | None = None) -> str | None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in (CSV, "application/csv"):
        return CSV
    if base in (JSON, "application/jsonlines"):
        return JSON
    return default if base in ("", "*/*") else None


def _text(body) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the body is not UTF-8 text: {exc}", reason="malformed") from None
    return body


def parse_csv(text: str, features: list) -> tuple[dict, list]:
    """Columns by feature name from CSV rows, and the positions of header rows (equal to the feature names)."""
    if '"' in text:  # quoted fields: the csv module's rules
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    else:  # plain rows split the same way, without the reader's per-call cost
        rows = [line.split(",") for line in text.splitlines() if line]
    headers = [i for i, row in enumerate(rows) if row == features]
    data = [row for row in rows if row != features] if headers else rows
    width = len(features)
    for number, row in enumerate(data, start=1):
        if len(row) < width:
            column = features[len(row)]
            raise BadRequest(f"row {number}: column {column!r} is missing: {len(row)} values, the model needs "
                             f"{width} ({', '.join(features)})", reason="missing_column", column=column)
        if len(row) > width:
            raise BadRequest(f"row {number}: extra column #{width + 1} with value {row[width]!r}: {len(row)} values, "
                             f"the model needs {width}", reason="extra_column", column=f"#{width + 1}", value=row[width])
    return {name: [row[i] for row in data] for i, name in enumerate(features)}, headers


def parse_json(text: str, features: list) -> dict:
    """Columns by feature name from a JSON object keyed by feature name, or a list of them."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}", reason="malformed") from None
    records = body if isinstance(body, list) else [body]
    if not records:
        raise BadRequest("the body holds no records", reason="empty_body")
    known = set(features)
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise BadRequest(f"record {number} is {type(record).__name__}, not an object keyed by feature name",
                             reason="malformed")
        if len(record) != len(features) or record.keys() != known:
            missing = [f for f in features if f not in record]
            if missing:
                raise BadRequest(f"record {number}: column {missing[0]!r} is missing (all missing: {missing})",
                                 reason="missing_column", column=missing[0])
            extra = sorted(set(record) - known)
            raise BadRequest(f"record {number}: column {extra[0]!r} is not a model feature (value "
                             f"{record[extra[0]]!r}); the model needs {features}", reason="extra_column",
                             column=extra[0], value=record[extra[0]])
    return {name: [record[name] for record in records] for name in features}


def score_request(model: ServedModel, body, content_type: str | None, accept: str | None) -> Reply:
    """Score one request; raises BadRequest for anything the model cannot score."""
    kind = _kind(content_type)
    if kind is None:
        raise BadRequest(f"content type {content_type!r} is not supported; send text/csv or application/json",
                         reason="unsupported_content_type", status=415)
    answer = _kind(accept, default=kind)
    if answer is None:
        raise BadRequest(f"accept {accept!r} is not supported; ask for text/csv or application/json",
                         reason="unsupported_accept", status=406)
    text = _text(body)
    if not text.strip():
        raise BadRequest("the body is empty; send one or more records", reason="empty_body")
    features = model.encoder["features"]
    headers: list = []
    if kind == CSV:
        columns, headers = parse_csv(text, features)
    else:
        columns = parse_json(text, features)
    try:
        matrix = encoding.encode_columns(columns, model.encoder, model.tables)
    except encoding.EncodingError as exc:
        raise BadRequest(str(exc), reason=exc.rule, column=exc.column, value=exc.value) from None
    scores = score_matrix(model, matrix) if len(matrix) else np.zeros(0, dtype=np.float32)
    texts = format_scores(scores)
    labels = [1 if s >= model.threshold else 0 for s in scores.tolist()]
    if answer == JSON:
        return Reply(200, json.dumps({"predictions": [{"score": float(s), "label": label}
                                                      for s, label in zip(texts, labels)]}), JSON)
    lines = [f"{s},{label}" for s, label in zip(texts, labels)]
    for position in headers:  # header rows answered in place, so Batch Transform's JoinSource lines up
        lines.insert(position, "score,label")
    return Reply(200, "\n".join(lines) + "\n", CSV)


def handle(model: ServedModel, body, content_type: str | None, accept: str | None) -> Reply:
    """``score_request``, with a bad request answered 4xx (message naming column and value) and logged."""
    try:
        return score_request(model, body, content_type, accept)
    except BadRequest as exc:
        log_rejection(model.model_name, exc)
        return Reply(exc.status, json.dumps({"error": exc.reason, "column": exc.column,
                                             "value": _loggable(exc.value), "message": str(exc)}), JSON)


def _loggable(value):
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)[:MAX_LOGGED_VALUE]


def log_rejection(model_name: str, error: BadRequest, stream=None) -> None:
    """One JSON line on stdout, which SageMaker ships to the endpoint's log group; a metric filter counts it."""
    event = {contracts.REJECTION_EVENT_FIELD: contracts.REJECTION_EVENT,
             contracts.DIM_MODEL: model_name, contracts.DIM_ENDPOINT: os.environ.get(contracts.ENV_ENDPOINT, "local"),
             contracts.DIM_REASON: error.reason, "column": error.column, "value": _loggable(error.value)}
    print(json.dumps(event), file=stream or sys.stdout, flush=True)


# The container's script-mode functions (sagemaker-xgboost-container serving.py: model_fn + transform_fn).
def model_fn(model_dir):
    return load(model_dir)


def transform_fn(model, body, content_type, accept):
    reply = handle(model, body, content_type, accept)
    from sagemaker_containers.beta.framework import worker  # present in the framework container only

    return worker.Response(response=reply.body, status=reply.status, mimetype=reply.content_type)
