"""A CSV sample read with the standard library: profiled by ``mlops init``, checked by ``mlops validate --data``.

Values count as null exactly when pandas' ``read_csv`` (what the pipeline's steps use) would read them as NaN.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

# pandas.read_csv's default NA strings (pandas._libs.parsers.STR_NA_VALUES); a test compares the two.
NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})
MAX_ROWS = 200_000  # enough to profile; larger files are sampled from their head


class SampleError(ValueError):
    """The CSV cannot be used as a sample; the message says why."""


@dataclass(frozen=True)
class ColumnProfile:
    """What one column of the sample holds."""

    name: str
    kind: str  # "integer", "numeric" or "text"
    nulls: int
    rows: int
    distinct: tuple[str, ...]  # sorted distinct non-null values, at most MAX_DISTINCT_KEPT
    distinct_count: int
    minimum: float | None = None
    maximum: float | None = None

    @property
    def null_fraction(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


MAX_DISTINCT_KEPT = 1_000


@dataclass(frozen=True)
class Sample:
    path: Path
    header: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]

    @property
    def padded_columns(self) -> list[str]:
        """Header names with stray leading or trailing whitespace."""
        return [name for name in self.header if name != name.strip()]


def read_sample(path: str | Path, max_rows: int = MAX_ROWS) -> Sample:
    """Read a CSV's header and up to ``max_rows`` rows; raise SampleError for an unusable file."""
    path = Path(path)
    if not path.is_file():
        raise SampleError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise SampleError(f"{path}: empty file (no header)")
            rows = []
            for line, row in enumerate(reader, start=2):
                if len(rows) >= max_rows:
                    break
                if not row:
                    continue
                if len(row) != len(header):
                    raise SampleError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise SampleError(f"{path}: not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise SampleError(f"{path}: not a readable CSV: {exc}") from None
    if not rows:
        raise SampleError(f"{path}: has a header but no rows")
    dupes = sorted({name for name in header if header.count(name) > 1})
    if dupes:
        raise SampleError(f"{path}: header repeats columns {dupes}")
    return Sample(path, header, rows)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def profile(sample: Sample, name: str) -> ColumnProfile:
    """Type, nulls, distinct values and range of one column."""
    values = sample.column(name)
    present = [v for v in values if v not in NA_STRINGS]
    numbers = [_number(v) for v in present]
    distinct = sorted(set(present))
    common = {"name": name, "nulls": len(values) - len(present), "rows": len(values),
              "distinct": tuple(distinct[:MAX_DISTINCT_KEPT]), "distinct_count": len(distinct)}
    if present and all(n is not None for n in numbers):
        kind = "integer" if all(n == int(n) for n in numbers) else "numeric"
        return ColumnProfile(kind=kind, minimum=min(numbers), maximum=max(numbers), **common)
    return ColumnProfile(kind="text", **common)


def single_feature_auc(scores: list[float], positives: list[bool]) -> float | None:
    """ROC AUC of one score against binary labels (Mann-Whitney U with average ranks); None if one class only."""
    pairs = sorted(zip(scores, positives, strict=True))
    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, index = 0.0, 0
    while index < len(pairs):
        end = index
        while end < len(pairs) and pairs[end][0] == pairs[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2
        rank_sum += average_rank * sum(1 for _, positive in pairs[index:end] if positive)
        index = end
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return max(auc, 1 - auc)  # a feature predicts in either direction
