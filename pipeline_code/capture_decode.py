"""Decode SageMaker data-capture files into feature columns and prediction scores.

One capture line is one inference; its input payload may hold several rows (CSV lines, JSON instances). Lines in
the exact compact form SageMaker writes, with a CSV input, take a vectorized fast path: one regex pass over the
file and one pandas C-parser pass over all rows. Every other line (JSON or BASE64 payloads, escapes, anything
odd) takes the per-line path through ``json.loads``. Bad input is skipped and counted by reason, never raised.
"""
from __future__ import annotations

import base64
import binascii
import csv
import gc
import io
import json
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_RECORD_BYTES = 1_000_000  # larger capture lines are skipped as "too_large"
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")

# The reasons a record or row is skipped; their sum is the MalformedRecords metric.
MALFORMED_REASONS = ("invalid_json", "not_a_capture_record", "invalid_base64", "unknown_content_type",
                     "wrong_column_count", "non_numeric", "too_large", "empty_file", "bad_prediction")

# SageMaker's compact line with a CSV input. ``[^"]*`` is sre's fast scan; a string with escapes (``\\n`` in a
# multi-row payload, ``\\"``...) either still matches, and is unescaped with json.loads, or falls to ``(.*)``.
_FAST_LINE = re.compile(
    r'^(?:\{"captureData":\{"endpointInput":\{"observedContentType":"text/csv","mode":"INPUT","data":"([^"]*)",'
    r'"encoding":"CSV"\},"endpointOutput":\{"observedContentType":"[^"]*","mode":"OUTPUT","data":"([^"]*)",'
    r'"encoding":"CSV"\}\},"eventMetadata":\{"eventId":"[^"]*"(?:,"inferenceId":"([^"]*)")?,'
    r'"inferenceTime":"[^"]*"\},"eventVersion":"0"\}|(.*))$',
    re.MULTILINE,
)


@dataclass(frozen=True)
class CaptureSchema:
    """The feature columns a payload row holds, in order, and which of them are categorical.

    ``categorical_codes``: categorical values arrive as the model-input codes of ``pipeline_code.encoding``
    (numbers, decoded against the baseline's categories) rather than as category names; default True, since
    clients encode requests with the build's ``encoder.json``.
    """

    features: tuple[str, ...]
    categorical: frozenset[str] = frozenset()
    categorical_codes: bool = True

    @classmethod
    def from_baseline(cls, baseline, *, categorical_codes: bool = True) -> CaptureSchema:
        return cls(tuple(baseline.feature_names),
                   frozenset(f.name for f in baseline.features if f.kind == "categorical"), categorical_codes)

    @property
    def text_columns(self) -> frozenset[str]:
        """Columns kept as strings: categorical names (when not sent as codes)."""
        return frozenset() if self.categorical_codes else self.categorical


@dataclass
class DecodedCapture:
    """Valid rows as columns (numeric: float64, NaN when missing; categorical: str), scores and skip counts.

    ``scored`` holds ``(inference_id, score)`` for single-row records when decoding with ``keep_ids``.
    """

    columns: dict[str, np.ndarray]
    predictions: np.ndarray
    records: int = 0
    rows: int = 0
    malformed: Counter = field(default_factory=Counter)
    scored: list[tuple[str, float]] = field(default_factory=list)


def _content_kind(content_type: str) -> str | None:
    base = content_type.split(";", 1)[0].strip().lower()
    if base in CSV_TYPES:
        return "csv"
    if base in JSON_TYPES:
        return "json"
    return None


def _payload_text(part: dict) -> tuple[str | None, str | None]:
    """(kind, text) of a capture input/output, or (None, reason) when it cannot be decoded."""
    data, encoding = part.get("data"), str(part.get("encoding", "")).upper()
    kind = _content_kind(str(part.get("observedContentType", "")))
    if not isinstance(data, str):
        return None, "not_a_capture_record"
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None, "invalid_base64"
    elif encoding == "JSON":
        kind = "json"
    elif encoding != "CSV":
        return None, "unknown_content_type"
    if kind is None:
        return None, "unknown_content_type"
    return kind, data


def _json_rows(text: str, features: tuple[str, ...]) -> list[list]:
    """Rows of a JSON payload: a row list, a list of rows, {"instances": [...]} or a {feature: value} object."""
    body = json.loads(text)
    if isinstance(body, dict):
        body = body.get("instances", body.get("inputs", [body]))
    if not isinstance(body, list):
        raise TypeError("JSON payload is neither a list nor an object")
    if body and not isinstance(body[0], (list, dict)):
        body = [body]
    rows = []
    for item in body:
        if isinstance(item, dict):
            item = item["features"] if "features" in item else [item.get(name) for name in features]
        rows.append(["" if v is None else str(v) for v in item])
    return rows


def _csv_rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text.strip("\n")))]


# The served model answers CSV with ``score,label`` per row (pipeline_code.serving): only the score is a prediction.
_SCORE_LABEL = re.compile(r"^([^,\n]*),[01]$", re.MULTILINE)


def score_column(output: str) -> str:
    """A CSV output with the score of each ``score,label`` row only; other outputs unchanged."""
    return _SCORE_LABEL.sub(r"\1", output) if "," in output else output


def _scores(kind: str, text: str) -> list[float]:
    """Model scores from an output payload: CSV numbers (``score,label`` rows: the score), or JSON number(s) /
    {"predictions": [...]} (objects: their ``score``)."""
    if kind == "json":
        body = json.loads(text)
        if isinstance(body, dict):
            body = body.get("predictions", body.get("score"))
        body = body if isinstance(body, list) else [body]
        return [float(v["score"] if isinstance(v, dict) else v) for v in body]
    return [float(v) for v in score_column(text).replace("\n", ",").split(",") if v.strip()]


class CaptureDecoder:
    """Decodes capture files for one schema; reuse it across files of a window.

    Props:
        schema: feature order and categorical columns (required).
        max_record_bytes: longer capture lines are skipped; default 1 MB.
    """

    def __init__(self, schema: CaptureSchema, *, max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        if not schema.features:
            raise ValueError("a capture schema needs at least one feature")
        self.schema = schema
        self.max_record_bytes = max_record_bytes
        self._text = schema.text_columns
        self._dtypes = {n: (str if n in self._text else np.float64) for n in schema.features}

    def decode(self, data: bytes | str, *, keep_ids: bool = False) -> DecodedCapture:
        """Decode one capture file (JSON Lines)."""
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        malformed: Counter = Counter()
        slow_rows, slow_scores, scored = [], [], []
        text = text.strip()
        with _gc_paused():  # ~10k short-lived tuples per file would trigger full collections of the whole heap
            matches = _FAST_LINE.findall(text)
            payloads, outputs, ids, others = zip(*matches) if matches else ((), (), (), ())
            del matches
        records = 0
        if any(others):  # some lines are not in the canonical CSV form: split them off
            keep = [i for i, other in enumerate(others) if not other]
            for other in others:
                if other and not other.isspace():
                    records += 1
                    self._decode_slow_line(other, slow_rows, slow_scores, scored if keep_ids else None, malformed)
            payloads, outputs, ids = ([seq[i] for i in keep] for seq in (payloads, outputs, ids))
        if "" in payloads:  # blank lines match as empty payloads
            fast = [i for i, p in enumerate(payloads) if p]
            payloads, outputs, ids = ([seq[i] for i in fast] for seq in (payloads, outputs, ids))
        records += len(payloads)
        if payloads and "\\" in text and any("\\" in "".join(seq) for seq in (payloads, outputs, ids)):
            payloads, outputs, ids = self._unescape(payloads, outputs, ids, malformed)
        # A payload and an output are disjoint parts of the text: a text within the limit has no large record.
        if (payloads and len(text) > self.max_record_bytes
                and max(map(len, payloads)) + max(map(len, outputs)) > self.max_record_bytes):
            small = [i for i, (p, o) in enumerate(zip(payloads, outputs)) if len(p) + len(o) <= self.max_record_bytes]
            malformed["too_large"] += len(payloads) - len(small)
            payloads, outputs, ids = ([seq[i] for i in small] for seq in (payloads, outputs, ids))
        outputs = [score_column(o) for o in outputs]
        fast_inputs, fast_outputs = payloads, outputs
        if keep_ids:
            scored.extend((i, o) for i, p, o in zip(ids, payloads, outputs) if i and "\n" not in p.strip("\n"))
        if records == 0:
            malformed["empty_file"] += 1
        block = "\n".join(fast_inputs)
        newlines = block.count("\n")
        if newlines > len(fast_inputs) - 1:  # a payload holds several rows
            block = "\n".join(p.rstrip("\n") for p in fast_inputs)
            newlines = block.count("\n")
        columns, rows = self._parse_rows(block, slow_rows, malformed, newlines)
        predictions = np.concatenate([self._fast_scores(fast_outputs, malformed),
                                      np.asarray(slow_scores, dtype=np.float64)])
        if keep_ids:
            scored = self._numeric_scored(scored)
        return DecodedCapture(columns, predictions, records, rows, malformed, scored)

    @staticmethod
    def _unescape(payloads, outputs, ids, malformed: Counter) -> tuple[list, list, list]:
        """JSON-unescape the strings that hold a backslash; a bad escape makes the record malformed."""
        kept = ([], [], [])
        for record in zip(payloads, outputs, ids):
            try:
                values = [json.loads(f'"{v}"') if "\\" in v else v for v in record]
            except ValueError:
                malformed["invalid_json"] += 1
                continue
            for column, value in zip(kept, values):
                column.append(value)
        return kept

    def _decode_slow_line(self, line: str, rows: list, scores: list, scored: list | None,
                          malformed: Counter) -> None:
        if len(line) > self.max_record_bytes:
            malformed["too_large"] += 1
            return
        try:
            record = json.loads(line)
            capture = record["captureData"]
            request, response = capture["endpointInput"], capture.get("endpointOutput") or {}
        except (ValueError, KeyError, TypeError):
            malformed["invalid_json" if not line.lstrip().startswith("{") or _is_truncated(line)
                      else "not_a_capture_record"] += 1
            return
        if not isinstance(request, dict) or not isinstance(response, dict):
            malformed["not_a_capture_record"] += 1
            return
        kind, text = _payload_text(request)
        if kind is None:
            malformed[text] += 1
            return
        try:
            payload_rows = _json_rows(text, self.schema.features) if kind == "json" else _csv_rows(text)
        except (ValueError, KeyError, TypeError, csv.Error):
            malformed["invalid_json" if kind == "json" else "wrong_column_count"] += 1
            return
        rows.extend(payload_rows)
        out_kind, out_text = _payload_text(response) if response else (None, None)
        if out_kind is None:
            return  # no usable prediction: the features still count
        try:
            values = _scores(out_kind, out_text)
        except (ValueError, KeyError, TypeError):
            malformed["bad_prediction"] += 1
            return
        scores.extend(values)
        if scored is not None and len(payload_rows) == 1 and len(values) == 1:
            inference_id = (record.get("eventMetadata") or {}).get("inferenceId")
            if inference_id:
                scored.append((str(inference_id), values[0]))

    def _parse_rows(self, text: str, slow_rows: list[list], malformed: Counter,
                    newlines: int | None = None) -> tuple[dict, int]:
        """Parse fast-path CSV text and slow-path rows into columns; rows with bad values are dropped."""
        frames = []
        if text:
            frames.append(self._parse_csv_block(text, malformed, newlines))
        if slow_rows:
            width = len(self.schema.features)
            good = [r for r in slow_rows if len(r) == width]
            malformed["wrong_column_count"] += len(slow_rows) - len(good)
            if good:
                frame = pd.DataFrame(good, columns=list(self.schema.features), dtype=object)
                frames.append(self._coerce(frame.astype(str).replace({"None": ""}), malformed))
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)
        columns = {}
        for name in self.schema.features:
            if frame is None:
                columns[name] = np.array([], dtype=object if name in self._text else np.float64)
            elif name in self._text:
                columns[name] = frame[name].to_numpy(dtype=object, na_value="")
            else:
                columns[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return columns, 0 if frame is None else len(frame)

    def _parse_csv_block(self, text: str, malformed: Counter, newlines: int | None = None) -> pd.DataFrame:
        """``newlines``: ``text.count("\\n")`` when the caller has it already."""
        width = len(self.schema.features)
        newlines = text.count("\n") if newlines is None else newlines
        if text.count(",") == (newlines + 1) * (width - 1):
            # Right number of commas overall: if no row has too many fields (the C parser raises on those),
            # none has too few either, so the per-row count below is only needed when parsing fails.
            try:
                return self._read_csv(text, malformed)
            except pd.errors.ParserError:
                pass
        raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ends = np.append(np.flatnonzero(raw == 10), raw.size)
        commas_before = np.searchsorted(np.flatnonzero(raw == 44), ends)  # commas before each row's end
        per_row = np.diff(commas_before, prepend=0)
        good = per_row == width - 1
        if not good.all():
            malformed["wrong_column_count"] += int((~good).sum())
            text = "\n".join(row for row, ok in zip(text.split("\n"), good.tolist()) if ok)
            if not text:
                return pd.DataFrame({n: pd.Series(dtype=object) for n in self.schema.features})
        return self._read_csv(text, malformed)

    def _read_csv(self, text: str, malformed: Counter) -> pd.DataFrame:
        names = list(self.schema.features)
        try:
            # One dtype for all-numeric schemas: pandas converts a few ms faster per 10k rows than with a dict.
            dtypes, na_values = ((np.float64, [""]) if not self._text else
                                 (self._dtypes, {n: [""] for n in names if n not in self._text}))
            return pd.read_csv(_csv_source(text), header=None, names=names, dtype=dtypes,
                               keep_default_na=False, na_values=na_values,
                               skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c", low_memory=False)
        except pd.errors.ParserError:
            raise
        except (ValueError, TypeError):
            frame = pd.read_csv(_csv_source(text), header=None, names=names, dtype=str, keep_default_na=False,
                                skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c", low_memory=False)
            return self._coerce(frame, malformed)

    def _coerce(self, frame: pd.DataFrame, malformed: Counter) -> pd.DataFrame:
        """Numeric columns to float; a row with a non-numeric value is dropped and counted."""
        bad = np.zeros(len(frame), dtype=bool)
        for name in self.schema.features:
            if name in self._text:
                continue
            raw = frame[name].astype(str).str.strip()
            numbers = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
            bad |= (numbers.isna() & (raw != "") & (raw.str.lower() != "nan")).to_numpy()
            frame[name] = numbers.astype(np.float64)
        if bad.any():
            malformed["non_numeric"] += int(bad.sum())
            frame = frame.loc[~bad].reset_index(drop=True)
        return frame

    @staticmethod
    def _fast_scores(outputs: list[str], malformed: Counter) -> np.ndarray:
        if not outputs:
            return np.zeros(0)
        tokens = ",".join(outputs).replace("\n", ",").split(",")
        try:
            return np.array([t for t in tokens if t] if "" in tokens else tokens, dtype=np.float64)
        except ValueError:
            values = []
            for output in outputs:
                try:
                    values.extend(float(v) for v in output.replace("\n", ",").split(",") if v)
                except ValueError:
                    malformed["bad_prediction"] += 1
            return np.asarray(values, dtype=np.float64)

    @staticmethod
    def _numeric_scored(scored: list[tuple[str, object]]) -> list[tuple[str, float]]:
        result = []
        for inference_id, score in scored:
            try:
                result.append((inference_id, float(str(score).strip())))
            except ValueError:
                continue  # already counted as bad_prediction
        return result


@contextmanager
def _gc_paused():
    """The cyclic GC off for an allocation burst that makes no cycles (restored as it was, even on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _csv_source(text: str) -> io.IOBase:
    """ASCII text as bytes: pandas' C parser reads bytes about a third faster than a str (which it re-encodes)."""
    return io.BytesIO(text.encode("ascii")) if text.isascii() else io.StringIO(text)


def _is_truncated(line: str) -> bool:
    return not line.rstrip().endswith("}")
