"""Limits and defaults of the platform's monitoring, defined once.

The config validators (``mlops_config.model``), the constructs (``ModelMonitoring``, ``RetrainTrigger``) and the
monitor Lambdas (their environment fallbacks) all read these. Pure Python, no dependencies.
"""
from __future__ import annotations

DRIFT_METRICS = ("psi", "jensen_shannon", "linf")  # pipeline_code.training.drift_stats.SCORERS implements each
DEFAULT_DRIFT_METRIC = "psi"
DEFAULT_DRIFT_THRESHOLD = 0.2
MAX_DRIFT_THRESHOLD = 10.0  # a threshold is > 0 and at most this
DEFAULT_DRIFT_MIN_SAMPLES = 500
DEFAULT_QUALITY_METRIC = "recall"
DEFAULT_QUALITY_MIN_SAMPLES = 100
MIN_SAMPLES_FLOOR = 1  # every min_samples is at least this
DEFAULT_SCHEDULE = "rate(1 hour)"  # how often the checks run (an EventBridge rule expression)
DEFAULT_COOLDOWN_HOURS = 24  # no alarm-started retraining within this many hours of another
MAX_COOLDOWN_HOURS = 720


def drift_threshold_error(value: float) -> str | None:
    """Why a drift threshold is refused, or None."""
    if not 0 < value <= MAX_DRIFT_THRESHOLD:
        return f"drift threshold must be > 0 and <= {MAX_DRIFT_THRESHOLD}; got {value}"
    return None


def min_samples_error(value: int) -> str | None:
    """Why a min_samples is refused, or None."""
    if value < MIN_SAMPLES_FLOOR:
        return f"min_samples must be >= {MIN_SAMPLES_FLOOR}; got {value}"
    return None


def cooldown_error(hours: int) -> str | None:
    """Why a retraining cooldown is refused, or None."""
    if not 0 <= hours <= MAX_COOLDOWN_HOURS:
        return f"cooldown_hours must be 0 to {MAX_COOLDOWN_HOURS}; got {hours}"
    return None
