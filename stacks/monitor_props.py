"""Config to ``ModelMonitoring`` props: pure functions, testable without synth."""
from __future__ import annotations

import mlops_contracts as contracts
from mlops_config import ModelConfig, PlatformSettings

MONITORED_STAGE = "prod"


def is_monitored(model: ModelConfig) -> bool:
    """Realtime models with data capture and drift or quality settings; other models have no captured traffic."""
    deployment, monitoring = model.deployment, model.monitoring
    return (deployment.mode == "realtime" and bool(deployment.data_capture_percent)
            and (monitoring.drift is not None or monitoring.quality is not None))


def monitor_functions(model: ModelConfig) -> list[str]:
    """The monitor functions a monitored model runs: ``drift_detector`` and/or ``quality_monitor``."""
    if not is_monitored(model):
        return []
    return [name for name, settings in ((contracts.SERVICE_DRIFT_DETECTOR, model.monitoring.drift),
                                        (contracts.SERVICE_QUALITY_MONITOR, model.monitoring.quality)) if settings is not None]


def monitored_endpoint_account(model: ModelConfig, platform: PlatformSettings | None) -> str | None:
    """The account of the monitored (prod) endpoint when it is not the tooling account; None when it is."""
    if platform is not None and platform.in_other_account(MONITORED_STAGE):
        return platform.stages[MONITORED_STAGE].account
    return None


def monitoring_props(model: ModelConfig) -> dict:
    """The flat ``ModelMonitoring`` props of a model's config, except the CDK handles (buckets, key, topic) and
    ``endpoint_role_arn`` (see ``monitored_endpoint_account``)."""
    deployment, monitoring, retraining = model.deployment, model.monitoring, model.retraining
    drift, quality = monitoring.drift, monitoring.quality
    variants = [v.name for v in deployment.variants]
    if deployment.shadow_variant:
        variants.append(deployment.shadow_variant.name)
    props = {
        "model_name": model.name,
        "endpoint_name": contracts.endpoint_name(model.name, MONITORED_STAGE),
        "schedule": monitoring.schedule,
        "drift_metric": drift.metric if drift else None,
        "quality_metric": quality.metric if quality else None,
        "ground_truth_prefix": model.data.ground_truth_prefix,
        "positive_class": model.data.positive_class,
        "decision_threshold": model.quality_gate.decision_threshold,
        "retrain_on_alarm": retraining.on_drift,
        "retrain_cooldown_hours": retraining.cooldown_hours,
        "pipeline_name": contracts.build_pipeline_name(model.name),
        "variants": variants,
        "categorical_codes": model.training.image is not None and model.training.image.input == "encoded",
    }
    if drift:
        props.update(drift_threshold=drift.threshold, drift_min_samples=drift.min_samples)
    if quality:
        props.update(quality_floor=quality.floor, quality_min_samples=quality.min_samples)
    return props
