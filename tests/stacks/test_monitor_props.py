"""Config to ModelMonitoring props: pure mapping, no synth."""
from __future__ import annotations

import inspect

import pytest

import mlops_contracts as contracts
from mlops_config import load_config
from mlops_constructs.monitor.model_monitoring import ModelMonitoring
from stacks.monitor_props import is_monitored, monitor_functions, monitored_endpoint_account, monitoring_props
from tests.conftest import CONFIG_DIR, pin_accounts


@pytest.fixture(scope="module")
def models():
    return {m.name: m for m in load_config(CONFIG_DIR).models}


def test_every_prop_is_a_keyword_of_the_construct(models):
    keywords = {name for name, p in inspect.signature(ModelMonitoring.__init__).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    for model in models.values():
        assert set(monitoring_props(model)) <= keywords


def test_fraud_detection_maps_its_drift_quality_and_retraining_settings(models):
    fraud = models["fraud-detection"]
    props = monitoring_props(fraud)
    drift, quality = fraud.monitoring.drift, fraud.monitoring.quality
    assert props["endpoint_name"] == contracts.endpoint_name("fraud-detection", "prod")
    assert props["pipeline_name"] == contracts.build_pipeline_name("fraud-detection")
    assert (props["drift_metric"], props["drift_threshold"], props["drift_min_samples"]) == (
        drift.metric, drift.threshold, drift.min_samples)
    assert (props["quality_metric"], props["quality_floor"], props["quality_min_samples"]) == (
        quality.metric, quality.floor, quality.min_samples)
    assert props["ground_truth_prefix"] == fraud.data.ground_truth_prefix
    assert props["decision_threshold"] == fraud.quality_gate.decision_threshold
    assert (props["retrain_on_alarm"], props["retrain_cooldown_hours"]) == (
        fraud.retraining.on_drift, fraud.retraining.cooldown_hours)
    assert props["variants"] == [v.name for v in fraud.deployment.variants] + (
        [fraud.deployment.shadow_variant.name] if fraud.deployment.shadow_variant else [])


def test_a_model_without_a_monitor_maps_it_to_none(models):
    fraud = models["fraud-detection"]
    no_quality = fraud.model_copy(update={"monitoring": fraud.monitoring.model_copy(update={"quality": None})})
    props = monitoring_props(no_quality)
    assert props["quality_metric"] is None and "quality_floor" not in props
    no_drift = fraud.model_copy(update={"monitoring": fraud.monitoring.model_copy(update={"drift": None})})
    assert monitoring_props(no_drift)["drift_metric"] is None
    assert monitor_functions(no_drift) == [contracts.SERVICE_QUALITY_MONITOR]


def test_only_realtime_models_with_capture_are_monitored(models):
    for model in models.values():
        expected = model.deployment.mode == "realtime" and bool(model.deployment.data_capture_percent)
        assert is_monitored(model) == expected
    fraud = models["fraud-detection"]
    silent = fraud.model_copy(update={"deployment": fraud.deployment.model_copy(update={"data_capture_percent": 0})})
    assert not is_monitored(silent) and monitor_functions(silent) == []


def test_the_endpoint_account_is_set_only_when_prod_lives_elsewhere(tmp_path, models):
    import shutil

    one_account = load_config(CONFIG_DIR)
    assert monitored_endpoint_account(models["fraud-detection"], one_account.platform) is None
    assert monitored_endpoint_account(models["fraud-detection"], None) is None
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    pinned = load_config(pin_accounts(tmp_path / "config"))
    assert monitored_endpoint_account(models["fraud-detection"], pinned.platform) == "222222222222"
