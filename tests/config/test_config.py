"""Config loading: the examples are valid, and every bad config fails naming file, field, value and rule."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_config import ConfigError, load_config
from tests.conftest import CONFIG_DIR, REPO


def test_examples_load_sorted_by_name(example_config):
    assert example_config.names == ["employee-attrition", "fraud-detection", "support-assistant"]
    fraud = example_config.model("fraud-detection")
    assert fraud.quality_gate.min_metrics == {"auc": 0.92, "recall": 0.95, "precision": 0.80}
    assert fraud.deployment.effective_strategy.type == "LINEAR"
    assert fraud.deployment.effective_strategy.step_percent == 25
    assert fraud.deployment.effective_strategy.bake_seconds == 3600
    assert example_config.model("support-assistant").deployment.variants[1].weight == 0.1
    assert example_config.model("employee-attrition").deployment.mode == "batch"


def test_platform_defaults_are_env_agnostic(example_config):
    assert set(example_config.platform.stages) == {"staging", "prod"}
    assert all(s.account is None and s.region is None for s in example_config.platform.stages.values())
    assert example_config.platform.cross_account_ids == []


def test_config_hash_changes_with_the_model_file(tmp_path):
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    before = load_config(tmp_path / "config").config_hash("fraud-detection")
    path = tmp_path / "config/models/fraud-detection.yaml"
    path.write_text(path.read_text().replace("eta: 0.1", "eta: 0.2"))
    after = load_config(tmp_path / "config")
    assert after.config_hash("fraud-detection") != before
    assert after.config_hash("support-assistant") == load_config(CONFIG_DIR).config_hash("support-assistant")


def _edit(tmp_path: Path, file: str, change) -> Path:
    """Copy the example config, apply ``change`` to one YAML file's data, return the config dir."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / file
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _set(path: str, value):
    def change(data):
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {}) if not part.isdigit() else node[int(part)]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return change


FRAUD = "models/fraud-detection.yaml"
ASSIST = "models/support-assistant.yaml"
ATTRITION = "models/employee-attrition.yaml"

# (file, change, field path in the message, value in the message, words of the rule)
BAD_CONFIGS = [
    (FRAUD, _set("deployment.strategy.step_percent", 5), "deployment.strategy.step_percent", "5", "10-50%"),
    (FRAUD, _set("deployment.strategy.step_percent", 60), "deployment.strategy.step_percent", "60", "10-50%"),
    (ASSIST, _set("deployment.strategy.step_percent", 75), "deployment.strategy.step_percent", "75",
     "CANARY steps must be 1-50%"),
    (FRAUD, _set("deployment.strategy.bake_seconds", 7200), "deployment.strategy.bake_seconds", "7200",
     "less than or equal to 3600"),
    (FRAUD, _set("deployment.strategy.bake_seconds", -1), "deployment.strategy.bake_seconds", "-1",
     "greater than or equal to 0"),
    (FRAUD, _set("quality_gate.min_metrics.auc", 1.2), "quality_gate.min_metrics.auc", "1.2",
     "less than or equal to 1"),
    (FRAUD, _set("quality_gate.min_metrics.gini", 0.5), "quality_gate.min_metrics", "gini", "known metrics are"),
    (FRAUD, _set("quality_gate.decision_threshold", -0.1), "quality_gate.decision_threshold", "-0.1",
     "greater than or equal to 0"),
    (FRAUD, _set("monitoring.drift.metric", "kl"), "monitoring.drift.metric", "kl", "'psi'"),
    (FRAUD, _set("name", "Fraud_Detection"), "name", "Fraud_Detection", "should match pattern"),
    (FRAUD, _set("deployment.instance_type", "m5.large"), "deployment.instance_type", "m5.large",
     "should match pattern"),
    (FRAUD, _set("deployment.mode", "streaming"), "deployment.mode", "streaming", "'realtime'"),
    (FRAUD, lambda d: d["deployment"].update(initial_instance_count=2, autoscaling=None),
     "deployment.initial_instance_count", "2", "shifts less than one instance"),
    (FRAUD, _set("deployment.initial_instance_count", 9), "deployment.initial_instance_count", "9",
     "must lie within autoscaling [4, 8]"),
    (FRAUD, _set("deployment.autoscaling.max_instances", 2), "deployment.autoscaling.max_instances", "2",
     "below min_instances"),
    (FRAUD, _set("data.label", "amount"), "data.label", "amount", "must not be listed in features"),
    (FRAUD, _set("data.categorical", ["merchant_category", "colour"]), "data.categorical", "colour",
     "not in features"),
    (FRAUD, _set("data.new_data_prefix", "/transactions"), "data.new_data_prefix", "/transactions",
     "relative S3 key prefix"),
    (FRAUD, _set("retraining.schedule", "every month"), "retraining.schedule", "every month",
     "EventBridge Scheduler expects cron(minutes hours day-of-month month day-of-week year)"),
    (FRAUD, _set("traning", {"seed": 1}), "traning", "seed", "unknown field"),
    (FRAUD, _set("quality_gate.bias.limit", 3), "quality_gate.bias.limit", "3", "must lie in [0, 1]"),
    (ASSIST, _set("training.image", None), "training.image", "None", "'custom' needs image"),
    (ASSIST, _set("training.image.input", "parquet"), "training.image.input", "parquet", "'raw' or 'encoded'"),
    (ASSIST, _set("deployment.variants", [{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}]),
     "deployment.variants", "'a', 'a'", "variant names repeat"),
    (FRAUD, _set("deployment.mode", "serverless"), "deployment.data_capture_percent", "100",
     "no data capture"),
    (ATTRITION, _set("deployment.batch", None), "deployment.batch", "None", "needs batch"),
    (FRAUD, _set("deployment.known_cases", {"file": "cases/missing.csv"}), "deployment.known_cases.file",
     "cases/missing.csv", "no such file"),
    ("platform.yaml", _set("stages", {"prod": {}}), "stages", "prod", "must include 'staging' and 'prod'"),
    ("platform.yaml", _set("stages.prod.account", "12345"), "stages.prod.account", "12345", "should match pattern"),
    ("platform.yaml", _set("notifications.emails", ["not-an-email"]), "notifications.emails[0]", "not-an-email",
     "email"),
    ("platform.yaml", _set("log_retention_days", 42), "log_retention_days", "42", "retention values"),
    ("platform.yaml", _set("source.connection_arn", "arn:aws:codestar-connections:eu-west-1:123456789012:connection/"
                           "0d6b7a1e-1111-2222-3333-444455556666"), "source.repository", "None",
     "go together"),
]


@pytest.mark.parametrize("file, change, field, value, rule", BAD_CONFIGS,
                         ids=[f"{c[0].split('/')[-1]}:{c[2]}:{c[3]}" for c in BAD_CONFIGS])
def test_bad_config_names_file_field_value_and_rule(tmp_path, file, change, field, value, rule):
    config = _edit(tmp_path, file, change)
    with pytest.raises(ConfigError) as error:
        load_config(config)
    message = str(error.value)
    line = next((p for p in error.value.problems if f": {field} = " in p), None)
    assert line is not None, message
    assert line.startswith(str(config / file)), message
    assert value in line and rule in line, message


def test_model_name_must_match_its_file(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    copy = config / "models/fraud-detection-copy.yaml"
    copy.write_text((config / FRAUD).read_text().replace("name: fraud-detection", "name: fraud-detection-copy")
                    .replace("transactions/", "transactions-copy/"))  # a model of its own needs prefixes of its own
    assert "fraud-detection-copy" in load_config(config).names  # distinct names are fine
    copy.write_text((config / FRAUD).read_text())
    with pytest.raises(ConfigError, match="fraud-detection-copy.yaml: name = 'fraud-detection': must match the file"):
        load_config(config)


def test_repeated_model_name_across_files_is_an_error(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    shutil.copy(config / FRAUD, config / "models/fraud-detection.yml")
    with pytest.raises(ConfigError, match="name = 'fraud-detection': already used by .*fraud-detection.yaml"):
        load_config(config)


def test_all_problems_in_all_files_are_reported_together(tmp_path):
    config = _edit(tmp_path, FRAUD, _set("deployment.strategy.bake_seconds", 9999))
    path = config / ASSIST
    path.write_text(path.read_text().replace("owner: support-ml@example.com", "owner: ''"))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert len(error.value.problems) == 2
    assert any("fraud-detection.yaml" in p for p in error.value.problems)
    assert any("support-assistant.yaml: owner" in p for p in error.value.problems)


def test_not_yaml_and_not_a_mapping(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    (config / FRAUD).write_text("name: [unclosed\n")
    (config / ASSIST).write_text("- just\n- a list\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert any("fraud-detection.yaml: not valid YAML" in p for p in error.value.problems)
    assert any("support-assistant.yaml: (top level)" in p and "mapping" in p for p in error.value.problems)


def test_unknown_model_in_selection(example_config):
    with pytest.raises(ConfigError, match="unknown \\['nope'\\]"):
        load_config(CONFIG_DIR, only=["nope"])
    assert load_config(CONFIG_DIR, only=["fraud-detection"]).names == ["fraud-detection"]


def _mlops(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlops_cli.main", *args], cwd=REPO, capture_output=True, text=True, check=False)


def test_cli_validate_passes_on_examples():
    result = _mlops("validate", str(CONFIG_DIR))
    assert result.returncode == 0, result.stderr
    assert "employee-attrition, fraud-detection, support-assistant" in result.stdout


def test_cli_validate_fails_without_traceback(tmp_path):
    config = _edit(tmp_path, FRAUD, _set("deployment.strategy.step_percent", 5))
    result = _mlops("validate", str(config))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{config / FRAUD}: deployment.strategy" in result.stderr and "10-50%" in result.stderr


def test_cdk_app_exits_nonzero_without_traceback_on_bad_config(tmp_path):
    """What `cdk synth` runs: app.py reads config_dir from the context the CLI passes in CDK_CONTEXT_JSON."""
    import json
    import os

    config = _edit(tmp_path, FRAUD, _set("monitoring.quality.floor", 1.5))
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config_dir": str(config)}), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{config / FRAUD}: monitoring.quality.floor = 1.5: Input should be less than or equal to 1" in result.stderr


def test_cli_schema_is_json_schema_of_both_files():
    import json

    result = _mlops("schema")
    schema = json.loads(result.stdout)
    model = schema["properties"]["models/<name>.yaml"]
    assert model["additionalProperties"] is False
    assert {"name", "data", "quality_gate"} <= set(model["required"])
    assert "stages" in schema["properties"]["platform.yaml"]["properties"]


def test_docs_config_md_is_current():
    from mlops_cli.config_commands import render_config_docs

    assert (REPO / "docs/config.md").read_text() == render_config_docs(), "run: mlops config-docs > docs/config.md"


@pytest.mark.parametrize("platform_yaml, field, rule", [
    ("stages: {staging: {account: '111111111111'}, prod: {}}", "stages.staging", "give both account and region"),
    ("stages: {staging: {account: '111111111111', region: eu-west-1}, prod: {}}", "tooling",
     "tooling account and region must be set"),
    ("tooling: {region: eu-west-1}", "tooling", "give both account and region"),
])
def test_stage_environments_are_complete(tmp_path, platform_yaml, field, rule):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    (config / "platform.yaml").write_text(platform_yaml + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert f"platform.yaml: {field} = " in str(error.value) and rule in str(error.value)
