"""Per-model settings: ``config/models/<name>.yaml``. Limits mirror SageMaker's real ones."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

import mlops_contracts as contracts
from mlops_config.base import Fraction, S3Prefix, Strict, field_error
from mlops_config.schedules import RuleExpression, SchedulerExpression
from mlops_constructs.build.sagemaker_pipeline.step_images import DEFAULT_VERSION as DEFAULT_XGBOOST_VERSION
from mlops_constructs.build.sagemaker_pipeline.step_images import step_images
from mlops_constructs.deploy import limits
from monitoring_code import limits as monitoring_limits
from monitoring_code.limits import DRIFT_METRICS

# Validators are bound by assignment (``_check = model_validator(...)(_check)``, what the decorator does)
# so that mutation testing reaches their rules: mutmut skips decorated functions (docs/testing.md).

QUALITY_METRICS = tuple(contracts.QUALITY_METRIC_NAMES)  # auc, recall, precision, f1, accuracy
BIAS_METRICS = ("positive_rate_difference", "equal_opportunity_difference", "disparate_impact")
INSTANCE_TYPE = limits.INSTANCE_TYPE
is_instance_store = limits.is_instance_store  # the build's steps ask this module


class ColumnRule(Strict):
    """What values one data column may hold; the validate step checks every batch against it."""

    type: Literal["numeric", "integer", "categorical"] = Field(
        "numeric", description="numeric (any number), integer (whole numbers) or categorical (strings)."
    )
    min: float | None = Field(None, description="Smallest allowed value (numeric/integer only); default none.")
    max: float | None = Field(None, description="Largest allowed value (numeric/integer only); default none.")
    allowed: list[str] | None = Field(None, min_length=1,
                                      description="Allowed categories (categorical only); default none")

    def _consistent(self) -> ColumnRule:
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise field_error("min", self.min, "min/max apply to numeric and integer columns only")
        if self.type != "categorical" and self.allowed is not None:
            raise field_error("allowed", self.allowed, "allowed applies to categorical columns only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise field_error("min", self.min, f"must not exceed max ({self.max})")
        return self
    _consistent = model_validator(mode="after")(_consistent)


class DataSettings(Strict):
    """Where the model's data lives in its data bucket, and what the columns mean."""

    input_prefix: S3Prefix = Field(..., description="Training data prefix in the data bucket.")
    new_data_prefix: S3Prefix = Field(..., description="Prefix where new data lands; a drop can trigger retraining.")
    ground_truth_prefix: S3Prefix = Field(..., description="Prefix of ground-truth labels keyed by inference ID.")
    label: str = Field(..., min_length=1, description="Label column.")
    positive_class: str = Field("1", description="Label value that counts as positive (e.g. '1' or 'Yes').")
    features: list[str] | Literal["all_but_label"] = Field(
        "all_but_label", description="Feature columns, in order, or 'all_but_label'."
    )
    categorical: list[str] = Field(default_factory=list, description="Categorical feature columns.")
    protected_attributes: list[str] = Field(
        default_factory=list, description="Columns used for bias checks (need not be model features)."
    )
    max_null_fraction: Fraction = Field(0.05, description="Largest allowed null fraction in any feature column.")
    notes: str = Field("", max_length=2048, description="Known limits of the data set (who and what it covers, "
                                                        "gaps, label quality); the model card's caveats; default none.")
    columns: dict[str, ColumnRule] | None = Field(
        None, description="Optional per-column rules {column: {type, min, max, allowed}}; default none."
    )

    def _columns(self) -> DataSettings:
        if isinstance(self.features, list):
            if self.label in self.features:
                raise field_error("label", self.label, "must not be listed in features")
            dupes = sorted({c for c in self.features if self.features.count(c) > 1})
            if dupes:
                raise field_error("features", dupes, "feature columns repeat")
            unknown = sorted(set(self.categorical) - set(self.features))
            if unknown:
                raise field_error("categorical", unknown, "columns are not in features")
        for column, rule in sorted((self.columns or {}).items()):
            strings = set(self.categorical) | set(self.protected_attributes) | {self.label}
            if (column in self.categorical and rule.type != "categorical") or (
                    rule.type == "categorical" and column not in strings):
                raise field_error(f"columns.{column}.type", rule.type, "must be 'categorical' exactly for columns "
                                  "in data.categorical (protected attributes and the label may be either)")
        if self.label in self.categorical or self.label in self.protected_attributes:
            raise field_error("label", self.label, "the label cannot be categorical or protected")
        return self
    _columns = model_validator(mode="after")(_columns)


class TuningRange(Strict):
    """One hyperparameter range for automatic model tuning."""

    type: Literal["continuous", "integer"] = Field("continuous", description="Kind of range.")
    min: float = Field(..., description="Lower bound.")
    max: float = Field(..., description="Upper bound.")
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = Field("Auto")

    def _ordered(self) -> TuningRange:
        if self.min >= self.max:
            raise field_error("min", self.min, f"must be below max ({self.max})")
        return self
    _ordered = model_validator(mode="after")(_ordered)


class TuningSettings(Strict):
    """Hyperparameter tuning; when present, the pipeline tunes instead of training once."""

    objective_metric: Literal["validation:auc", "validation:logloss", "validation:error"] = "validation:auc"
    max_jobs: int = Field(20, ge=1, le=750, description="Total training jobs.")
    max_parallel_jobs: int = Field(2, ge=1, le=100, description="Training jobs at once.")
    ranges: dict[str, TuningRange] = Field(..., min_length=1, description="Ranges by hyperparameter name.")

    def _parallel(self) -> TuningSettings:
        if self.max_parallel_jobs > self.max_jobs:
            raise field_error("max_parallel_jobs", self.max_parallel_jobs, f"exceeds max_jobs ({self.max_jobs})")
        return self
    _parallel = model_validator(mode="after")(_parallel)


class CustomImage(Strict):
    """A training image in this account's ECR; the URI is composed at deploy time, never typed by hand."""

    repository: str = Field(..., pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$", description="ECR repository name.")
    tag: str = Field(..., pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Immutable image tag.")
    input: Literal["raw", "encoded"] = Field(
        "raw", description="What the image's endpoint expects: raw records (category names, as the platform's "
                           "XGBoost serving takes them) or the encoded matrix (encoder.json codes); see docs/deploy.md.")


class TrainingSettings(Strict):
    """How the model is trained."""

    algorithm: Literal["xgboost", "custom"] = Field("xgboost", description="Built-in XGBoost or a custom image.")
    xgboost_version: str = Field(
        DEFAULT_XGBOOST_VERSION, description="SageMaker XGBoost image the steps run in; one of the versions in "
        "mlops_constructs/build/sagemaker_pipeline/step_images.json (1.7-1, 3.0-5).")
    image: CustomImage | None = Field(None, description="Required when algorithm is 'custom'.")
    hyperparameters: dict[str, str | int | float] = Field(default_factory=dict)
    instance_type: str = Field("ml.m5.xlarge", pattern=INSTANCE_TYPE)
    instance_count: int = Field(1, ge=1, le=20)
    volume_size_gb: int = Field(30, ge=1, le=16384)
    max_runtime_seconds: int = Field(3600, ge=60, le=2419200)
    seed: int = Field(42, ge=0, description="Seed for splits and training: same code + data + seed = same model.")
    tuning: TuningSettings | None = Field(None, description="Optional tuning ranges.")

    def _recorded_image(cls, value: str) -> str:
        if value not in step_images():
            raise ValueError(f"allowed: {sorted(step_images())} (the images recorded in "
                             "mlops_constructs/build/sagemaker_pipeline/step_images.json)")
        return value
    _recorded_image = field_validator("xgboost_version")(classmethod(_recorded_image))

    def _image(self) -> TrainingSettings:
        if self.algorithm == "custom" and self.image is None:
            raise field_error("image", None, "algorithm 'custom' needs image: {repository, tag}")
        if self.algorithm == "xgboost" and self.image is not None:
            raise field_error("image", self.image.model_dump(), "image is only for algorithm 'custom'")
        if self.tuning and self.algorithm != "xgboost":
            raise field_error("tuning", self.algorithm, "tuning is supported for algorithm 'xgboost' only")
        return self
    _image = model_validator(mode="after")(_image)


class BiasGate(Strict):
    """A fairness limit checked on every protected attribute."""

    metric: Literal[BIAS_METRICS] = Field("positive_rate_difference", description=f"One of {BIAS_METRICS}.")
    limit: float = Field(..., description="Largest allowed |difference|; for disparate_impact, the lowest ratio.")

    def _range(self) -> BiasGate:
        if not 0.0 <= self.limit <= 1.0:
            raise field_error("limit", self.limit, "must lie in [0, 1]")
        return self
    _range = model_validator(mode="after")(_range)


class QualityGate(Strict):
    """What a challenger must reach before it is registered."""

    min_metrics: dict[str, Fraction] = Field(..., min_length=1, description=f"Floors by metric {QUALITY_METRICS}.")
    decision_threshold: Fraction = Field(0.5, description="Score at or above which a prediction is positive.")
    bias: BiasGate | None = Field(None, description="Optional bias limit on protected attributes.")
    must_beat_champion: bool = Field(False, description="Challenger must be at least as good as the champion.")

    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(QUALITY_METRICS))
        if unknown:
            raise ValueError(f"unknown metric {unknown}; known metrics are {list(QUALITY_METRICS)}")
        return value
    _known = field_validator("min_metrics")(classmethod(_known))


class RetrainingSettings(Strict):
    """What starts the model build pipeline."""

    schedule: SchedulerExpression | None = Field(None, description="EventBridge Scheduler expression.")
    on_new_data: bool = Field(False, description="Start when a new-data drop completes.")
    on_drift: bool = Field(True, description="Start when a drift or quality alarm fires.")
    on_code_change: bool = Field(True, description="Start when the model's code or config changes.")
    cooldown_hours: int = Field(monitoring_limits.DEFAULT_COOLDOWN_HOURS, ge=0, le=monitoring_limits.MAX_COOLDOWN_HOURS,
                                description="No retraining from alarms within this window.")


class Variant(Strict):
    """A production variant behind the endpoint."""

    name: str = Field(..., pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    weight: float = Field(..., gt=0.0, le=1.0, description="Relative traffic weight.")


class Strategy(Strict):
    """Blue/green traffic shifting for endpoint updates (SageMaker deployment guardrails); limits from
    ``mlops_constructs.deploy.limits``, the ones GuardedEndpoint checks."""

    type: Literal[limits.TRAFFIC_SHIFTS] = "ALL_AT_ONCE"
    step_percent: int | None = Field(None, description="LINEAR: 10-50; CANARY: 1-50; ALL_AT_ONCE: unset.")
    bake_seconds: int = Field(limits.DEFAULT_BAKE_SECONDS, ge=limits.BAKE_SECONDS_RANGE[0],
                              le=limits.BAKE_SECONDS_RANGE[1],
                              description="Wait between steps (WaitIntervalInSeconds).")
    termination_wait_seconds: int = Field(limits.DEFAULT_TERMINATION_WAIT_SECONDS, ge=limits.TERMINATION_WAIT_RANGE[0],
                                          le=limits.TERMINATION_WAIT_RANGE[1],
                                          description="Old fleet kept after the shift.")

    def _step(self) -> Strategy:
        problem = limits.step_problem(self.type, self.step_percent)
        if problem:
            raise field_error(problem.field, problem.value, problem.rule)
        return self
    _step = model_validator(mode="after")(_step)


class Autoscaling(Strict):
    """Target tracking on invocations per instance."""

    min_instances: int = Field(1, ge=limits.INSTANCE_COUNT_RANGE[0])
    max_instances: int = Field(2, ge=limits.INSTANCE_COUNT_RANGE[0], le=limits.INSTANCE_COUNT_RANGE[1])
    target_invocations_per_instance: int = Field(limits.DEFAULT_TARGET_INVOCATIONS_PER_INSTANCE, ge=1)

    def _bounds(self) -> Autoscaling:
        if self.max_instances < self.min_instances:
            raise field_error("max_instances", self.max_instances, f"is below min_instances ({self.min_instances})")
        return self
    _bounds = model_validator(mode="after")(_bounds)


class Serverless(Strict):
    """Serverless inference sizing."""

    memory_mb: Literal[limits.SERVERLESS_MEMORY_MB] = limits.DEFAULT_SERVERLESS_MEMORY_MB
    max_concurrency: int = Field(limits.DEFAULT_SERVERLESS_CONCURRENCY, ge=limits.SERVERLESS_CONCURRENCY_RANGE[0],
                                 le=limits.SERVERLESS_CONCURRENCY_RANGE[1])


class BatchSettings(Strict):
    """Scheduled batch transform."""

    schedule: SchedulerExpression = Field(..., description="When to score, e.g. cron(0 6 1 * ? *).")
    input_prefix: S3Prefix = Field(..., description="Prefix of the month's input files.")
    output_prefix: S3Prefix = Field(..., description="Prefix for scores; a Glue table points here.")
    instance_type: str = Field("ml.m5.xlarge", pattern=INSTANCE_TYPE)
    instance_count: int = Field(1, ge=limits.BATCH_INSTANCE_COUNT_RANGE[0], le=limits.BATCH_INSTANCE_COUNT_RANGE[1])


class KnownCases(Strict):
    """Labelled cases the integration test sends to the staging endpoint."""

    file: str = Field(..., description="CSV of cases, relative to the config directory.")
    min_recall: Fraction = Field(0.9, description="Recall the staging endpoint must reach on the cases.")


# Where a broken traffic-shift rule (mlops_constructs.deploy.limits) points in the deployment settings.
SHIFT_FIELDS = {"kind": "strategy.type", "step_percent": "strategy.step_percent",
                "bake_seconds": "strategy.bake_seconds", "termination_wait_seconds": "strategy.termination_wait_seconds",
                "instance_count": "initial_instance_count"}


class DeploymentSettings(Strict):
    """How the approved model is served."""

    mode: Literal["realtime", "serverless", "batch"] = "realtime"
    instance_type: str = Field("ml.m5.large", pattern=INSTANCE_TYPE)
    initial_instance_count: int = Field(2, ge=limits.INSTANCE_COUNT_RANGE[0], le=limits.INSTANCE_COUNT_RANGE[1])
    autoscaling: Autoscaling | None = None
    strategy: Strategy | None = Field(
        None, description="Realtime only; default: blue/green ALL_AT_ONCE with alarm rollback."
    )
    variants: list[Variant] = Field(default_factory=lambda: [Variant(name="primary", weight=1.0)], min_length=1,
                                    max_length=10)
    shadow_variant: Variant | None = Field(None, description="Optional shadow variant (receives copied traffic).")
    data_capture_percent: int = Field(100, ge=0, le=limits.CAPTURE_PERCENT_RANGE[1],
                                      description="Share of requests captured; 0 turns it off.")
    serverless: Serverless | None = None
    batch: BatchSettings | None = None
    known_cases: KnownCases | None = None

    @property
    def effective_strategy(self) -> Strategy:
        """The strategy in force for a realtime endpoint."""
        return self.strategy or Strategy()

    @property
    def has_champion(self) -> bool:
        """A/B or shadow setups keep the first variant on the champion package; the new one is the challenger."""
        return len(self.variants) > 1 or self.shadow_variant is not None

    def _mode(self) -> DeploymentSettings:
        if self.mode == "serverless":
            if self.data_capture_percent:
                raise field_error("data_capture_percent", self.data_capture_percent, "a serverless endpoint has no data capture: set 0")
            if self.strategy is not None:
                raise field_error("strategy", self.strategy.type, "a serverless endpoint has no deployment guardrails: remove strategy")
            if self.serverless is None:
                raise field_error("serverless", None, "mode 'serverless' needs serverless: {memory_mb, max_concurrency}")
        elif self.serverless is not None:
            raise field_error("serverless", self.mode, "serverless settings apply to mode 'serverless' only")
        if self.mode == "batch" and self.batch is None:
            raise field_error("batch", None, "mode 'batch' needs batch: {schedule, input_prefix, output_prefix}")
        if self.mode != "batch" and self.batch is not None:
            raise field_error("batch", self.mode, "batch settings apply to mode 'batch' only")
        names = [v.name for v in self.variants] + ([self.shadow_variant.name] if self.shadow_variant else [])
        if len(set(names)) != len(names):
            raise field_error("variants", names, "variant names repeat (the shadow variant included)")
        if self.autoscaling and not (
            self.autoscaling.min_instances <= self.initial_instance_count <= self.autoscaling.max_instances
        ):
            raise field_error(
                "initial_instance_count", self.initial_instance_count,
                f"must lie within autoscaling [{self.autoscaling.min_instances}, {self.autoscaling.max_instances}]",
            )
        if self.mode == "batch" and self.strategy is not None:
            raise field_error("strategy", self.strategy.type, "strategy applies to endpoints; mode 'batch' has none")
        if self.mode == "realtime" and self.strategy is not None:
            strategy = self.strategy
            problems = limits.traffic_shift_problems(
                kind=strategy.type, step_percent=strategy.step_percent, bake_seconds=strategy.bake_seconds,
                termination_wait_seconds=strategy.termination_wait_seconds,
                instance_count=self.initial_instance_count, instance_type=self.instance_type)
            if problems:
                raise field_error(SHIFT_FIELDS[problems[0].field], problems[0].value, problems[0].rule)
        return self
    _mode = model_validator(mode="after")(_mode)


class DriftMonitor(Strict):
    """Data drift check on captured requests against the training baseline."""

    metric: Literal[DRIFT_METRICS] = Field(monitoring_limits.DEFAULT_DRIFT_METRIC, description=f"One of {DRIFT_METRICS}.")
    threshold: float = Field(monitoring_limits.DEFAULT_DRIFT_THRESHOLD, gt=0.0, le=monitoring_limits.MAX_DRIFT_THRESHOLD,
                             description="Score above which a feature has drifted.")
    min_samples: int = Field(monitoring_limits.DEFAULT_DRIFT_MIN_SAMPLES, ge=monitoring_limits.MIN_SAMPLES_FLOOR,
                             description="Fewer records give no verdict.")


class QualityMonitor(Strict):
    """Model quality on ground truth joined to captured predictions."""

    metric: Literal[QUALITY_METRICS] = monitoring_limits.DEFAULT_QUALITY_METRIC
    floor: Fraction = Field(..., description="Alarm when the metric drops below this.")
    min_samples: int = Field(monitoring_limits.DEFAULT_QUALITY_MIN_SAMPLES, ge=monitoring_limits.MIN_SAMPLES_FLOOR)


class MonitoringSettings(Strict):
    """The platform's own monitoring (SageMaker Model Monitor is closed to new customers)."""

    schedule: RuleExpression = Field(monitoring_limits.DEFAULT_SCHEDULE,
                                     description="How often the checks run (EventBridge rule).")
    drift: DriftMonitor | None = Field(default_factory=DriftMonitor)
    quality: QualityMonitor | None = None


class ModelConfig(Strict):
    """``config/models/<name>.yaml``: one model, from data to serving."""

    name: str = Field(..., pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=32,
                      description="DNS-safe model name (lowercase, digits, hyphens; at most 32).")
    owner: str = Field(..., min_length=1, description="Team or steward email that owns the model.")
    description: str = Field("", max_length=1024)
    intended_use: str = Field("", max_length=2048, description="What the model is for and not for; the model "
                                                               "card's intended uses; default: the description.")
    problem_type: Literal["binary_classification"] = "binary_classification"
    data: DataSettings
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    quality_gate: QualityGate
    retraining: RetrainingSettings = Field(default_factory=RetrainingSettings)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)

    def _cross(self) -> ModelConfig:
        if self.quality_gate.bias and not self.data.protected_attributes:
            raise field_error("quality_gate.bias", self.quality_gate.bias.metric, "needs data.protected_attributes")
        if self.retraining.on_drift and self.monitoring.drift is None and self.monitoring.quality is None:
            raise field_error("retraining.on_drift", True, "needs monitoring.drift or monitoring.quality")
        if self.deployment.mode != "realtime" and self.deployment.autoscaling:
            raise field_error("deployment.autoscaling", self.deployment.mode, "autoscaling applies to mode 'realtime' only")
        return self
    _cross = model_validator(mode="after")(_cross)

    def feature_columns(self, header: list[str]) -> list[str]:
        """Feature columns resolved against a data header (for 'all_but_label')."""
        if self.data.features == "all_but_label":
            return [c for c in header if c != self.data.label]
        return list(self.data.features)
