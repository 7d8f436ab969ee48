"""The one implementation of drift statistics: the build's baseline step writes it, the detector reads it.

A baseline holds, per feature, the bins and the training proportions:
- numeric: inner quantile edges (``searchsorted`` maps a value to a bin; below/above the edges fall in the
  first/last bin) and the proportion of training rows per bin;
- categorical: the proportion of each training category (unseen categories count as ``__unseen__``).
Missing values are tracked as a separate share, not binned.

Counting is vectorized numpy so the detector can stream millions of records; ``compare`` turns counts into
PSI, Jensen-Shannon and L-infinity scores.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

BASELINE_VERSION = 1
UNSEEN = "__unseen__"
EPSILON = 1e-4  # floor on proportions so PSI and JS stay finite for empty bins
DEFAULT_BINS = 10


class BaselineError(ValueError):
    """A baseline file is missing a field, has the wrong version, or holds inconsistent numbers."""


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total <= 0:
        return np.full(len(counts), 1.0 / len(counts))
    return counts / total


def numeric_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """Inner quantile edges of the non-missing values, de-duplicated (constant features get one edge)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise BaselineError("cannot bin a numeric feature with no finite values")
    distinct = np.unique(finite)
    if 1 < distinct.size <= bins:  # low cardinality (flags, weekdays): one bin per value, so shares can move
        return [float(e) for e in (distinct[:-1] + distinct[1:]) / 2]
    quantiles = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1], method="linear")
    return [float(e) for e in np.unique(quantiles)]


def numeric_counts(values: np.ndarray, edges: list[float] | np.ndarray) -> tuple[np.ndarray, int]:
    """Counts per bin (``len(edges) + 1`` bins) and the number of missing (non-finite) values."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values[finite], side="right")
    return np.bincount(index, minlength=len(edges) + 1).astype(np.int64), int((~finite).sum())


_CHUNK_ROWS = 65_536  # bounds the temporaries of numeric_counts_many (~1.3 MB per column and chunk)


def numeric_counts_many(columns: list, edges: list) -> list[tuple[np.ndarray, int]]:
    """``numeric_counts`` of several equally long columns at once, with the same results.

    A value's bin is the number of edges <= it; one uint8 compare-and-add pass per edge over all columns beats a
    binary search per value (``searchsorted``) about 3x for the ~10 edges of a baseline. Edge lists that are not
    sorted, hold NaN or exceed 255 edges go through ``numeric_counts`` one column at a time.
    """
    edge_arrays = [np.asarray(e, dtype=np.float64) for e in edges]
    if any(e.size > 255 or np.isnan(e).any() or (e[:-1] > e[1:]).any() for e in edge_arrays):
        return [numeric_counts(c, e) for c, e in zip(columns, edge_arrays)]
    if not columns:
        return []
    width = max(e.size for e in edge_arrays)
    padded = np.full((len(columns), width), np.inf)  # no finite value reaches an +inf pad
    for row, e in zip(padded, edge_arrays):
        row[:e.size] = e
    sizes = np.array([e.size + 1 for e in edge_arrays])
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    counts = np.zeros(int(sizes.sum()), dtype=np.int64)
    missing = np.zeros(len(columns), dtype=np.int64)
    for start in range(0, len(columns[0]), _CHUNK_ROWS):
        block = np.stack([np.asarray(c[start:start + _CHUNK_ROWS], dtype=np.float64) for c in columns])
        index, at_least = np.zeros(block.shape, dtype=np.uint8), np.empty(block.shape, dtype=bool)
        for k in range(width):
            np.greater_equal(block, padded[:, k:k + 1], out=at_least)
            index += at_least.view(np.uint8)
        finite = np.isfinite(block)
        bins = index.astype(np.intp) + offsets[:, None]
        counts += np.bincount(bins[finite], minlength=counts.size)
        missing += block.shape[1] - finite.sum(axis=1)
    return [(counts[o:o + n].copy(), int(m)) for o, n, m in zip(offsets, sizes, missing)]


def categorical_counts(values, categories: list[str]) -> tuple[np.ndarray, int]:
    """Counts per known category plus one trailing ``__unseen__`` bin, and the number of missing values."""
    lookup = {c: i for i, c in enumerate(categories)}
    counts = np.zeros(len(categories) + 1, dtype=np.int64)
    missing = 0
    # A hash count (C-level Counter) instead of np.unique: sorting Python strings is the slow part at 1M rows.
    tally = Counter(value if type(value) is str else str(value) for value in values)
    for value, n in tally.items():
        if value in ("", "nan", "None"):
            missing += int(n)
        else:
            counts[lookup.get(value, len(categories))] += int(n)
    return counts, missing


@dataclass
class FeatureBaseline:
    """One feature's bins and training proportions."""

    name: str
    kind: str  # "numeric" or "categorical"
    proportions: list[float]
    missing_fraction: float
    edges: list[float] = field(default_factory=list)  # numeric only
    categories: list[str] = field(default_factory=list)  # categorical only

    def validate(self, where: str | None = None) -> FeatureBaseline:
        """Raise ``BaselineError`` naming the field unless the bins can score: a known kind, finite strictly
        increasing edges (numeric), distinct category names (categorical), one finite proportion >= 0 per bin
        summing to 1, and a missing fraction in [0, 1]."""
        where = where or f"feature {self.name!r}"

        def bad(field_name: str, problem: str):
            return BaselineError(f"corrupt baseline: {where}.{field_name} {problem}")

        if not isinstance(self.name, str) or not self.name:
            raise bad("name", f"must be a non-empty string, got {self.name!r}")
        if self.kind not in ("numeric", "categorical"):
            raise bad("kind", f"is {self.kind!r}; allowed: 'numeric', 'categorical'")
        if self.kind == "numeric":
            if not isinstance(self.edges, list) or not self.edges:
                raise bad("edges", f"must be a non-empty list of numbers, got {self.edges!r:.80}")
            for i, edge in enumerate(self.edges):
                if not _is_finite_number(edge):
                    raise bad(f"edges[{i}]", f"is {edge!r}; edges must be finite numbers")
                if i and edge <= self.edges[i - 1]:
                    raise bad(f"edges[{i}]", f"is {edge!r}, not above edges[{i - 1}] = {self.edges[i - 1]!r}; "
                                             "edges must increase")
            bins = len(self.edges) + 1
        else:
            if not isinstance(self.categories, list) or not all(isinstance(c, str) for c in self.categories):
                raise bad("categories", f"must be a list of strings, got {self.categories!r:.80}")
            if len(set(self.categories)) != len(self.categories):
                raise bad("categories", "holds a category twice")
            bins = len(self.categories) + 1
        if not isinstance(self.proportions, list) or len(self.proportions) != bins:
            raise bad("proportions", f"must hold {bins} numbers (one per bin), got "
                                     f"{len(self.proportions) if isinstance(self.proportions, list) else self.proportions!r}")
        for i, share in enumerate(self.proportions):
            if not _is_finite_number(share) or share < 0:
                raise bad(f"proportions[{i}]", f"is {share!r}; proportions must be finite and >= 0")
        total = math.fsum(self.proportions)
        if abs(total - 1.0) > 1e-6:
            raise bad("proportions", f"sum to {total!r}, not 1")
        if not _is_finite_number(self.missing_fraction) or not 0 <= self.missing_fraction <= 1:
            raise bad("missing_fraction", f"is {self.missing_fraction!r}; allowed: 0 to 1")
        return self

    def counts(self, values) -> tuple[np.ndarray, int]:
        if self.kind == "numeric":
            return numeric_counts(values, self.edges)
        return categorical_counts(values, self.categories)


def feature_baseline(name: str, values, categorical: bool, bins: int = DEFAULT_BINS) -> FeatureBaseline:
    """Fit one feature's baseline on training values."""
    if categorical:
        series = np.asarray(values, dtype=object).astype(str)
        present = series[~np.isin(series, ["", "nan", "None"])]
        categories = sorted(set(present.tolist()))
        counts, missing = categorical_counts(series, categories)
        return FeatureBaseline(name, "categorical", _proportions(counts).tolist(), missing / max(len(series), 1),
                               categories=categories)
    numeric = np.asarray(values, dtype=np.float64)
    edges = numeric_edges(numeric, bins)
    counts, missing = numeric_counts(numeric, edges)
    return FeatureBaseline(name, "numeric", _proportions(counts).tolist(), missing / max(len(numeric), 1),
                           edges=edges)


@dataclass
class Baseline:
    """Training-time distributions of every feature and of the model's scores."""

    features: list[FeatureBaseline]
    prediction: FeatureBaseline | None = None
    row_count: int = 0

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> str:
        """The baseline file; raises ``BaselineError`` (naming the field) rather than write a defective one."""
        self.validate()
        body = {
            "version": BASELINE_VERSION,
            "row_count": self.row_count,
            "features": [vars(f) for f in self.features],
            "prediction": vars(self.prediction) if self.prediction else None,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def validate(self) -> Baseline:
        """Check every feature's bins; raises ``BaselineError`` naming the field and the bad value."""
        for index, feature in enumerate(self.features):
            feature.validate(f"features[{index}] ({feature.name!r})")
        if self.prediction is not None:
            self.prediction.validate("prediction")
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise BaselineError(f"features: duplicate names {sorted({n for n in names if names.count(n) > 1})}")
        return self

    @classmethod
    def from_json(cls, text: str | bytes) -> Baseline:
        """Read and validate a baseline; any defect is a ``BaselineError`` naming the field."""
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise BaselineError(f"corrupt baseline: not JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise BaselineError(f"corrupt baseline: a JSON object is needed, got {type(body).__name__}")
        if body.get("version") != BASELINE_VERSION:
            raise BaselineError(f"baseline version {body.get('version')!r} is not {BASELINE_VERSION}")
        features = body.get("features")
        if not isinstance(features, list) or not features:
            raise BaselineError(f"corrupt baseline: field 'features' must be a non-empty list, got {features!r:.80}")
        parsed = [_feature_from_json(f, f"features[{i}]") for i, f in enumerate(features)]
        prediction = _feature_from_json(body["prediction"], "prediction") if body.get("prediction") else None
        row_count = body.get("row_count", 0)
        if not isinstance(row_count, int) or isinstance(row_count, bool) or row_count < 0:
            raise BaselineError(f"corrupt baseline: field 'row_count' must be a count, got {row_count!r}")
        return cls(parsed, prediction, row_count).validate()


_FEATURE_FIELDS = {"name": str, "kind": str, "proportions": list, "missing_fraction": (int, float)}


def _feature_from_json(body, where: str) -> FeatureBaseline:
    if not isinstance(body, dict):
        raise BaselineError(f"corrupt baseline: {where} must be an object, got {body!r:.80}")
    for name, kind in _FEATURE_FIELDS.items():
        if name not in body:
            raise BaselineError(f"corrupt baseline: {where} has no field {name!r}")
        if not isinstance(body[name], kind) or isinstance(body[name], bool):
            raise BaselineError(f"corrupt baseline: {where}.{name} has the wrong type: {body[name]!r:.80}")
    unknown = set(body) - set(_FEATURE_FIELDS) - {"edges", "categories"}
    if unknown:
        raise BaselineError(f"corrupt baseline: {where} has unknown fields {sorted(unknown)}")
    return FeatureBaseline(**body)


def build_baseline(columns: dict, categorical: set[str], predictions=None, bins: int = DEFAULT_BINS,
                   row_count: int | None = None) -> Baseline:
    """Fit a baseline from column arrays (``{name: values}``, in feature order) and optional scores."""
    features = [feature_baseline(name, values, name in categorical, bins) for name, values in columns.items()]
    prediction = feature_baseline("prediction", predictions, False, bins) if predictions is not None else None
    if row_count is None:
        row_count = len(next(iter(columns.values()))) if columns else 0
    return Baseline(features, prediction, row_count).validate()


def _is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two proportion vectors."""
    e = np.clip(expected, EPSILON, None)
    a = np.clip(actual, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits, in [0, 1]."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e, a = e / e.sum(), a / a.sum()
    m = (e + a) / 2

    def kl(p, q):
        mask = p > 0
        return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))

    return max(0.0, min(1.0, (kl(e, m) + kl(a, m)) / 2))


def linf(expected: np.ndarray, actual: np.ndarray) -> float:
    """Largest absolute difference in any bin's proportion."""
    return float(np.max(np.abs(np.asarray(expected) - np.asarray(actual))))


SCORERS = {"psi": psi, "jensen_shannon": jensen_shannon, "linf": linf}


def compare(feature: FeatureBaseline, counts: np.ndarray) -> dict[str, float]:
    """All drift scores of one feature's current counts against its baseline."""
    expected = np.asarray(feature.proportions, dtype=np.float64)
    if counts.sum() == 0:
        return {name: math.nan for name in SCORERS}
    actual = _proportions(counts.astype(np.float64))
    # Unseen categories sit in a bin with zero training share: the epsilon floor scores them as strong drift.
    return {name: scorer(expected, actual) for name, scorer in SCORERS.items()}


def decode_codes(feature: FeatureBaseline, codes) -> np.ndarray:
    """Map a categorical feature's model-input codes back to category names.

    The build encodes category ``categories[i]`` as the number ``i`` (``pipeline_code.data.encoding``), so captured
    requests hold codes; missing codes become ``""`` (counted as missing), out-of-range codes ``__unseen__``.
    """
    values = np.asarray(codes, dtype=np.float64)
    names = np.array(feature.categories + [UNSEEN, ""], dtype=object)
    index = np.full(values.shape, len(feature.categories), dtype=np.int64)
    known = np.isfinite(values) & (values >= 0) & (values < len(feature.categories)) & (np.mod(values, 1) == 0)
    index[known] = values[known].astype(np.int64)
    index[~np.isfinite(values)] = len(feature.categories) + 1
    return names[index]


def categorical_code_counts(feature: FeatureBaseline, codes) -> tuple[np.ndarray, int]:
    """``categorical_counts`` for model-input codes (see ``decode_codes``), without building name strings."""
    values = np.asarray(codes, dtype=np.float64)
    finite = np.isfinite(values)
    n = len(feature.categories)
    index = np.full(int(finite.sum()), n, dtype=np.int64)
    present = values[finite]
    known = (present >= 0) & (present < n) & (np.mod(present, 1) == 0)
    index[known] = present[known].astype(np.int64)
    return np.bincount(index, minlength=n + 1).astype(np.int64), int((~finite).sum())
