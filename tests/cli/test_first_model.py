"""A new model from a new data set: ``mlops init``, ``mlops validate --data``, and what validate must reject."""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pandas._libs.parsers import STR_NA_VALUES

from mlops_cli import main as cli
from mlops_cli.data_sample import NA_STRINGS, read_sample, single_feature_auc
from mlops_config import ConfigError, ModelConfig, load_config
from mlops_config.schedules import RULE, SCHEDULER, check_schedule
from mlops_constructs.deploy.guarded_endpoint import VariantSpec, _validate

ROOT = Path(__file__).resolve().parents[2]
ATTRITION = ROOT / "data" / "attrition" / "attrition.csv"
EXAMPLE = ROOT / "config" / "models" / "employee-attrition.yaml"


@pytest.fixture
def config_dir(tmp_path) -> Path:
    (tmp_path / "models").mkdir()
    return tmp_path


def test_null_strings_are_exactly_what_pandas_reads_as_nan():
    assert set(STR_NA_VALUES) == NA_STRINGS


def test_single_feature_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(ATTRITION)
    labels = (frame["Attrition"] == "Yes").tolist()
    for column in ("Age", "MonthlyIncome", "JobLevel", "DistanceFromHome"):
        expected = roc_auc_score(labels, frame[column])
        assert single_feature_auc(frame[column].astype(float).tolist(), labels) == pytest.approx(
            max(expected, 1 - expected), abs=1e-12)


def test_init_writes_a_commented_config_that_validates_and_fits_its_data(config_dir, capsys):
    assert cli.main(["init", "hr-attrition", "--data", str(ATTRITION), "--label", "Attrition",
                     "--config-dir", str(config_dir)]) == 0
    text = (config_dir / "models" / "hr-attrition.yaml").read_text()
    model = load_config(config_dir).model("hr-attrition")
    assert text.count("#") >= 10
    assert model.data.positive_class == "Yes"
    assert model.data.input_prefix == "hr-attrition/training/"
    assert model.data.new_data_prefix == "hr-attrition/incoming/"
    frame = pd.read_csv(ATTRITION)
    text_columns = sorted(c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) and c != "Attrition")
    assert sorted(model.data.categorical) == text_columns
    assert model.data.columns["Gender"].allowed == ["Female", "Male"]
    assert (model.data.columns["Age"].min, model.data.columns["Age"].max) == (frame.Age.min(), frame.Age.max())
    assert model.data.columns["Age"].type == "integer"
    assert 0.55 <= model.quality_gate.min_metrics["auc"] < 0.75
    capsys.readouterr()
    assert cli.main(["validate", str(config_dir), "--data", str(ATTRITION)]) == 0
    assert "values pass the pipeline's validate step" in capsys.readouterr().out


def test_init_leaves_out_identifiers_and_constants_and_reports_nulls(config_dir, tmp_path):
    frame = pd.read_csv(ATTRITION).head(200)
    frame.insert(0, "EmployeeNumber", range(1000, 1200))
    frame["Over18"] = "Y"
    frame.loc[:9, "MonthlyIncome"] = None
    frame.to_csv(tmp_path / "hr.csv", index=False)
    assert cli.main(["init", "hr", "--data", str(tmp_path / "hr.csv"), "--label", "Attrition",
                     "--config-dir", str(config_dir)]) == 0
    model = load_config(config_dir).model("hr")
    assert "EmployeeNumber" not in model.data.features and "Over18" not in model.data.features
    assert model.data.max_null_fraction == pytest.approx(0.11)  # 10 of 200 = 0.05, doubled plus 0.01
    assert cli.main(["validate", str(config_dir), "--data", str(tmp_path / "hr.csv")]) == 0


@pytest.mark.parametrize("label, positive, message", [
    ("Attritio", None, "--label 'Attritio': no such column"),
    ("Department", None, "3 classes"),
    ("OverTime", "Maybe", "--positive 'Maybe': not a value of 'OverTime'"),
])
def test_init_refuses_a_bad_label_in_one_line(config_dir, capsys, label, positive, message):
    args = ["init", "m", "--data", str(ATTRITION), "--label", label, "--config-dir", str(config_dir)]
    assert cli.main(args + (["--positive", positive] if positive else [])) == 1
    assert message in capsys.readouterr().err
    assert not (config_dir / "models" / "m.yaml").exists()


def _copy_of_attrition(config_dir: Path, name: str, **data_changes) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["name"] = name
    raw["data"].update(data_changes)
    (config_dir / "models" / f"{name}.yaml").write_text(yaml.safe_dump(raw))


def test_models_sharing_an_input_or_new_data_prefix_are_rejected(config_dir):
    shutil.copy(EXAMPLE, config_dir / "models")
    _copy_of_attrition(config_dir, "churn", label="Churn", input_prefix="hr/attrition/training/2026/",
                       new_data_prefix="churn/incoming/")
    with pytest.raises(ConfigError) as error:
        load_config(config_dir)
    assert str(error.value) == (
        f"{config_dir}/models/employee-attrition.yaml: data.input_prefix = 'hr/attrition/training/': overlaps "
        f"data.input_prefix 'hr/attrition/training/2026/' of churn ({config_dir}/models/churn.yaml); each model "
        "needs prefixes of its own")
    _copy_of_attrition(config_dir, "churn", input_prefix="churn/training/", new_data_prefix="churn/incoming/")
    assert load_config(config_dir).names == ["churn", "employee-attrition"]


def test_validate_data_reports_absent_columns_and_header_whitespace(config_dir, tmp_path, capsys):
    shutil.copy(EXAMPLE, config_dir / "models")
    padded = tmp_path / "padded.csv"
    lines = ATTRITION.read_text().splitlines()
    padded.write_text("\n".join([lines[0].replace("Age,", " Age,", 1).replace(",Gender,", ",Sex,"), *lines[1:]]))
    assert cli.main(["validate", str(config_dir), "--data", str(padded)]) == 1
    model_file = config_dir / "models" / "employee-attrition.yaml"
    assert capsys.readouterr().err.splitlines()[1:] == [
        (f"{padded}: header ' Age' has stray whitespace: the pipeline matches names exactly; the config names 'Age', "
        "which therefore matches no column"),
        f"{model_file}: data.categorical: ['Gender'] are not columns of {padded}",
        f"{model_file}: data.protected_attributes: ['Gender'] are not columns of {padded}",
        f"{model_file}: data.columns.Age: a rule for a column that {padded} does not have",
        f"{model_file}: data.columns.Gender: a rule for a column that {padded} does not have",
        (f"{model_file}: data.categorical: feature 'Sex' holds text (e.g. 'Female'); list it in data.categorical or "
        "drop it from data.features"),
    ]


def test_validate_data_runs_the_pipelines_value_checks(config_dir, tmp_path, capsys):
    shutil.copy(EXAMPLE, config_dir / "models")
    frame = pd.read_csv(ATTRITION)
    frame.loc[0, "Age"] = 130
    frame.to_csv(tmp_path / "old.csv", index=False)
    assert cli.main(["validate", str(config_dir), "--data", str(tmp_path / "old.csv")]) == 1
    assert "column 'Age': rule 'max 100': 1 of 1470 values outside (e.g. 130)" in capsys.readouterr().err


def test_read_sample_refuses_ragged_rows(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 has 1 fields; the header has 2"):
        read_sample(tmp_path / "bad.csv")


# --- schedules: the AWS documentation's own examples (EventBridge cron/rate references, Scheduler schedule types)

DOCUMENTED_VALID = ["cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
                    "cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
                    "cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)", "cron(0 0 3W * ? *)", "rate(1 minute)",
                    "rate(5 minutes)", "rate(1 hour)", "rate(1 day)"]


@pytest.mark.parametrize("expression", DOCUMENTED_VALID)
def test_documented_expressions_are_accepted_by_both_services(expression):
    assert check_schedule(expression, SCHEDULER) == check_schedule(expression, RULE) == expression


@pytest.mark.parametrize("expression, message", [
    ("cron(0 3 1 * *)", ("a cron expression has six fields, this one has 5; cron(minutes hours day-of-month month "
                        "day-of-week year), e.g. cron(0 4 1 * ? *)")),
    ("cron(0 8 * * * *)", "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'"),
    ("cron(0 8 1 * 2 *)", "exactly one of day-of-month ('1') and day-of-week ('2') must be '?'"),
    ("cron(0 24 * * ? *)", "cron field hours '24': '24' is not 0-23"),
    ("cron(0 8 ? * FUNDAY *)", "cron field day-of-week 'FUNDAY': 'FUNDAY' is not 1-7 or SUN-SAT"),
    ("cron(0 8 * * ? 1969)", "cron field year '1969': '1969' is not 1970-2199"),
    ("cron(? 8 * * ? *)", "cron field minutes '?': '?' is allowed in day-of-month and day-of-week only"),
    ("rate(1 hours)", "the unit agrees in number with the value: rate(1 hour)"),
    ("rate(5 hour)", "the unit agrees in number with the value: rate(5 hours)"),
    ("rate(0 minutes)", "the rate value must be a positive whole number"),
    ("rate(2 weeks)", "not a rate expression"),
    ("at(2027-02-30T06:00:00)", "'2027-02-30T06:00:00' is not a date and time"),
    ("every day", "EventBridge Scheduler expects cron("),
])
def test_bad_expressions_say_what_form_is_expected(expression, message):
    with pytest.raises(ValueError) as error:
        check_schedule(expression, SCHEDULER)
    assert message in str(error.value)


def test_one_time_schedules_exist_in_the_scheduler_only():
    assert check_schedule("at(2027-01-31T06:00:00)", SCHEDULER)
    with pytest.raises(ValueError, match="an EventBridge rule has no one-time schedules"):
        check_schedule("at(2027-01-31T06:00:00)", RULE)


def test_a_five_field_cron_fails_mlops_validate_naming_file_and_field(config_dir, capsys):
    text = EXAMPLE.read_text().replace("cron(0 4 1 1,4,7,10 ? *)", "cron(0 3 1 * *)")
    (config_dir / "models" / "employee-attrition.yaml").write_text(text)
    assert cli.main(["validate", str(config_dir)]) == 1
    err = capsys.readouterr().err
    assert (f"{config_dir}/models/employee-attrition.yaml: retraining.schedule = 'cron(0 3 1 * *)': a cron "
            "expression has six fields, this one has 5") in err


# --- validate rejects what GuardedEndpoint rejects at synth

def _deployment(strategy: dict, count: int, instance_type: str) -> dict:
    raw = yaml.safe_load((ROOT / "config" / "models" / "fraud-detection.yaml").read_text())
    raw["deployment"].update(strategy=strategy, initial_instance_count=count, instance_type=instance_type)
    raw["deployment"].pop("autoscaling", None)
    return raw


def _config_accepts(raw: dict) -> bool:
    try:
        ModelConfig.model_validate(raw)
    except ValueError:
        return False
    return True


def _construct_accepts(strategy: dict, count: int, instance_type: str) -> bool:
    try:
        _validate(endpoint_name="e", variants=[VariantSpec("primary")], shadow=None, serverless_memory_mb=None,
                  serverless_max_concurrency=5, capture=False,
                  capture_percent=100, min_instances=None, max_instances=None, instance_count=count,
                  instance_type=instance_type, max_error_rate=0.05, error_minutes=3, traffic_shift=strategy["type"],
                  step_percent=strategy.get("step_percent"), bake_seconds=strategy["bake_seconds"],
                  termination_wait_seconds=strategy["termination_wait_seconds"])
    except ValueError:
        return False
    return True


def test_validate_and_the_construct_agree_on_every_strategy():
    """Over a grid of strategies, counts and instance types: config validation accepts exactly what synth does."""
    disagreements = []
    for (kind, step), bake, wait, count, instance_type in itertools.product(
            [("ALL_AT_ONCE", None), ("CANARY", 10), ("CANARY", 50), ("LINEAR", 10), ("LINEAR", 25), ("LINEAR", 50)],
            [0, 600, 3600], [0, 3600], [1, 2, 4, 10], ["ml.m5.large", "ml.inf1.xlarge"]):
        strategy = {"type": kind, "bake_seconds": bake, "termination_wait_seconds": wait}
        if step is not None:
            strategy["step_percent"] = step
        config = _config_accepts(_deployment(strategy, count, instance_type))
        if config != _construct_accepts(strategy, count, instance_type):
            disagreements.append((strategy, count, instance_type, config))
    assert disagreements == []


def test_a_canary_on_one_instance_fails_mlops_validate(config_dir, capsys):
    raw = _deployment({"type": "CANARY", "step_percent": 10}, 1, "ml.m5.large")
    (config_dir / "models" / "fraud-detection.yaml").write_text(yaml.safe_dump(raw))
    shutil.copytree(ROOT / "config" / "cases", config_dir / "cases")
    assert cli.main(["validate", str(config_dir)]) == 1
    assert ("deployment.strategy.type = 'CANARY': a CANARY on 1 instance shifts all traffic at once; use "
            "at least 2 instances or ALL_AT_ONCE") in capsys.readouterr().err
