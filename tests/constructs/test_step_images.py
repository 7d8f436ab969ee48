"""The step image record, what synth and the job spec take from it, the step environment's failure messages and
`mlops run-local`'s version handling. The byte-for-byte comparison with the image is `make parity`."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import mlops_contracts as c
from mlops_cli import step_env
from mlops_cli.main import main as mlops
from mlops_config import ConfigError, load_config
from mlops_constructs.build.job_spec import EXPLICIT_HYPERPARAMETERS, job_spec
from mlops_constructs.build.sagemaker_pipeline import step_images
from mlops_constructs.build.sagemaker_pipeline.build_definition import BuildInputs, build_definition
from mlops_constructs.build.sagemaker_pipeline.step_images import step_image
from tests.conftest import CONFIG_DIR, REPO

ATTRITION = REPO / "data" / "attrition" / "attrition.csv"


def _config_with(tmp_path: Path, model: str, **training) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "models" / f"{model}.yaml"
    document = yaml.safe_load(path.read_text())
    document["training"].update(training)
    path.write_text(yaml.safe_dump(document))
    return config


def test_an_image_version_missing_from_the_record_fails_at_load_naming_the_allowed_versions(tmp_path):
    config = _config_with(tmp_path, "fraud-detection", xgboost_version="1.5-1")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    line = next(p for p in error.value.problems if "xgboost_version" in p)
    assert line.startswith(str(config / "models" / "fraud-detection.yaml")), line
    assert "training.xgboost_version = '1.5-1'" in line and "allowed: ['1.7-1', '3.0-5']" in line, line


def test_the_current_image_is_the_default_and_1_7_1_stays_selectable(tmp_path):
    from mlops_config.model import TrainingSettings

    assert TrainingSettings().xgboost_version == "3.0-5" == step_images.DEFAULT_VERSION
    config = _config_with(tmp_path, "fraud-detection", xgboost_version="1.7-1")
    assert load_config(config).model("fraud-detection").training.xgboost_version == "1.7-1"


def test_record_pins_the_python_and_every_library_the_steps_import():
    imported = {"numpy", "pandas", "scikit-learn", "xgboost", "boto3"}  # pipeline_code's third-party imports
    for image in step_images.step_images().values():
        assert imported <= set(image.libraries), image.version
        assert all(v.count(".") >= 2 for v in image.libraries.values()), image.libraries  # exact, not a range
        assert len(image.commit) == 40 and image.files
        assert len(image.summary()) <= 256  # a model package metadata value
    assert step_image("3.0-5").python == "3.10" and step_image("1.7-1").python == "3.9"
    # xgboost-cpu exists on PyPI from 2.1 on; 1.7.4 only as xgboost.
    assert "xgboost-cpu==3.0.5" in step_image("3.0-5").requirements()
    assert "xgboost==1.7.4" in step_image("1.7-1").requirements()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_verify_rereads_the_versions_from_the_container_repository_at_the_recorded_commit(tmp_path, monkeypatch):
    image = step_image("3.0-5")
    checkout = tmp_path / "container"
    (checkout / "docker/3.0-5/base").mkdir(parents=True)
    dockerfile = checkout / "docker/3.0-5/base/Dockerfile.cpu"
    dockerfile.write_text(f"ARG PYTHON_VERSION={image.python}\nARG XGBOOST_VERSION=3.0.5\n"
                          "RUN python3 -m pip install --no-cache -I xgboost==${XGBOOST_VERSION} numpy==2.1.0 "
                          "pandas==2.2.3\n")
    pins = {n: v for n, v in image.libraries.items() if n != "xgboost"}
    (checkout / "requirements.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    _git(tmp_path, "init", "-q", str(checkout))
    _git(checkout, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "x", "--allow-empty")
    _git(checkout, "add", ".")
    _git(checkout, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "pins")
    good = _git(checkout, "rev-parse", "HEAD").strip()
    (checkout / "requirements.txt").write_text((checkout / "requirements.txt").read_text()
                                               .replace("scikit-learn==1.5.2", "scikit-learn==1.8.0"))
    _git(checkout, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "bump")
    bumped = _git(checkout, "rev-parse", "HEAD").strip()

    def record(commit):
        return {"3.0-5": dataclasses.replace(image, commit=commit)}

    monkeypatch.setattr(step_images, "step_images", lambda: record(good))
    assert step_images.verify(checkout) == []
    monkeypatch.setattr(step_images, "step_images", lambda: record(bumped))
    assert step_images.verify(checkout) == ["3.0-5: scikit-learn recorded 1.5.2, read 1.8.0"]


def test_job_spec_makes_the_hyperparameters_whose_defaults_changed_explicit(tmp_path):
    spec = job_spec(load_config(CONFIG_DIR).model("fraud-detection"))
    assert {k: spec["hyperparameters"][k] for k in EXPLICIT_HYPERPARAMETERS} == {
        "tree_method": "hist", "base_score": "0.5", "nthread": "2"}
    assert all(isinstance(v, str) for v in spec["hyperparameters"].values())  # as the built-in algorithm gets them
    own = load_config(_config_with(tmp_path, "fraud-detection", hyperparameters={
        "num_round": 10, "tree_method": "exact", "nthread": 4})).model("fraud-detection")
    assert job_spec(own)["hyperparameters"]["tree_method"] == "exact"  # the config's own value wins
    assert job_spec(own)["hyperparameters"]["nthread"] == "4"
    custom = job_spec(load_config(CONFIG_DIR).model("support-assistant"))["hyperparameters"]
    assert not set(EXPLICIT_HYPERPARAMETERS) & set(custom)  # a custom image gets only its own


def _definition(model_name: str, **training) -> dict:
    model = load_config(CONFIG_DIR).model(model_name)
    if training:
        model = model.model_copy(update={"training": model.training.model_copy(update=training)})
    return build_definition(BuildInputs(
        model=model, job_spec=job_spec(model), config_hash="h", role_arn="r", kms_key_arn="k", data_bucket_name="d",
        artifact_bucket_name="a", model_package_group_name=model.name, code_uri="s3://a/c.zip", code_sha256="0" * 64,
        spec_uri="s3://a/s.json", spec_file_name="s.json", processing_image="p", training_image="t",
        evaluation_image="e", serving_image="t", step_image=step_image(model.training.xgboost_version)))


def test_model_package_records_the_step_image_its_versions_and_the_model_hash():
    for version in ("3.0-5", "1.7-1"):
        definition = _definition("fraud-detection", xgboost_version=version)
        register = next(s for s in _walk(definition["Steps"]) if s["Name"] == "Register")
        metadata = register["Arguments"]["CustomerMetadataProperties"]
        assert metadata[c.META_STEP_IMAGE] == version
        assert metadata[c.META_STEP_LIBRARIES] == step_image(version).summary()
        assert f"xgboost={step_image(version).libraries['xgboost']}" in metadata[c.META_STEP_LIBRARIES]
        assert metadata[c.META_MODEL_SHA256] == {"Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"}, "Path": c.MODEL_SHA256_KEY}}


def _walk(steps):
    for step in steps:
        yield step
        yield from _walk(step.get("Arguments", {}).get("IfSteps", []))
        yield from _walk(step.get("Arguments", {}).get("ElseSteps", []))


def test_missing_interpreter_is_one_sentence_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(step_env.StepEnvError, match=r"no Python 3\.9 interpreter \(image 1\.7-1 runs Python 3\.9\)"
                                                    r".*pyenv install 3\.9"):
        step_env.create(step_image("1.7-1"), root=tmp_path / "envs")
    assert step_env.main(["--image", "1.7-1", "--root", str(tmp_path / "envs")]) == 2


def test_missing_wheel_is_one_sentence_naming_it():
    # pip 25's output for the container's HEAD pin of scikit-learn on Python 3.10 (measured on this machine).
    output = ("ERROR: Ignored the following versions that require a different python version: 1.8.0 Requires-Python"
              " >=3.11\nERROR: Could not find a version that satisfies the requirement scikit-learn==1.8.0 (from "
              "versions: 1.7.1, 1.7.2)\nERROR: No matching distribution found for scikit-learn==1.8.0\n")
    message = step_env._pip_failure(output, step_image("3.0-5"))
    assert message.startswith("PyPI has no wheel of scikit-learn==1.8.0 for Python 3.10 on this platform")
    assert "Traceback" not in message and "\n" not in message


def test_run_local_stops_before_running_when_this_environment_differs_from_the_image(tmp_path, monkeypatch, capsys):
    image = step_image("3.0-5")
    found = step_images.installed_versions(image.libraries)
    if not step_images.differences(image, step_images.current_python(), found):
        pytest.skip("this interpreter has the image's versions")
    monkeypatch.setattr(step_env, "STEP_ENV_ROOT", tmp_path / "no-step-envs")
    code = mlops(["run-local", "employee-attrition", "--config-dir", str(CONFIG_DIR), "--data", str(ATTRITION),
                  "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "out" / "work").exists()
    assert "model image xgboost 3.0-5 runs python=3.10" in error and "make step-env IMAGE=3.0-5" in error
    assert f"xgboost {found['xgboost']} (image: 3.0.5)" in error and "--local-versions" in error


def test_run_local_launches_steps_like_the_pipeline_and_maps_their_bad_input(tmp_path, capsys):
    """--step-python: the code zip, its hash check and ``pipeline_code.<step>`` in another interpreter; a step's
    ``ERROR:`` exit 2 becomes run-local's bad input."""
    data = tmp_path / "bad.csv"
    data.write_text("Age,Attrition\n30,Yes\n")
    code = mlops(["run-local", "employee-attrition", "--config-dir", str(CONFIG_DIR), "--data", str(data),
                  "--out", str(tmp_path / "out"), "--step-python", sys.executable, "--local-versions"])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert f"steps run in step environment {sys.executable}" in captured.out
    assert "bad input: validate: " in captured.err and "Traceback" not in captured.err
    assert (tmp_path / "out" / "work" / "code" / c.CODE_ZIP_NAME).is_file()


def test_local_versions_warn_before_running_and_are_recorded(tmp_path, capsys):
    image = step_image("3.0-5")
    differences = step_images.differences(image, step_images.current_python(),
                                          step_images.installed_versions(image.libraries))
    if not differences:
        pytest.skip("this interpreter has the image's versions")
    out = tmp_path / "out"
    assert mlops(["run-local", "employee-attrition", "--config-dir", str(CONFIG_DIR), "--data", str(ATTRITION),
                  "--out", str(out), "--local-versions"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("WARNING: --local-versions: the steps run with versions other than image "
                                   "xgboost 3.0-5's")
    run = json.loads((out / "run.json").read_text())
    assert run["matches_image"] is False and run["differences"] == differences
    assert run["image_versions"] == {"python": image.python, **image.libraries}
    evaluation = json.loads((out / c.EVALUATION_FILE).read_text())
    assert run["model_sha256"] == evaluation[c.MODEL_SHA256_KEY]


@pytest.mark.filterwarnings("ignore:.*Text file input has been deprecated")
def test_train_reads_csv_with_xgboosts_own_parser_as_the_container_does(tmp_path):
    import numpy as np
    import xgboost as xgb

    from pipeline_code.training import train

    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "train.csv").write_text("0,1.92,nan\n1,4.72,3\n")
    values = train.read_matrix(tmp_path).get_data().toarray()
    native = xgb.DMatrix(f"{tmp_path / 'part' / 'train.csv'}?format=csv&label_column=0").get_data().toarray()
    assert values.tolist() == native.tolist()
    # XGBoost's CSV parser reads "1.92" as float32 1.9200001; parsing to float64 first (pandas) gives 1.92, and
    # on the fraud data that trained another model than the container's.
    assert values[0, 0] != np.float32(1.92)


def test_train_stops_early_only_as_the_container_does(tmp_path):
    from pipeline_code.training import train

    assert train._early_stopping({"early_stopping_rounds": "5"}) == []  # no eval_metric: the container ignores it
    (callback,) = train._early_stopping({"early_stopping_rounds": "5", "eval_metric": "logloss,auc"})
    assert (callback.rounds, callback.metric_name, callback.data, callback.maximize, callback.save_best) == (
        5, "auc", "validation", True, True)


def test_a_step_python_without_the_images_versions_needs_local_versions(tmp_path, capsys):
    image = step_image("3.0-5")
    if not step_images.differences(image, step_images.current_python(),
                                   step_images.installed_versions(image.libraries)):
        pytest.skip("this interpreter has the image's versions")
    code = mlops(["run-local", "employee-attrition", "--config-dir", str(CONFIG_DIR), "--data", str(ATTRITION),
                  "--out", str(tmp_path / "out"), "--step-python", sys.executable])
    error = capsys.readouterr().err
    assert code == 2 and f"--step-python {sys.executable} differs from model image xgboost 3.0-5" in error
    assert not (tmp_path / "out" / "work").exists()
