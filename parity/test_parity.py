"""Parity: `mlops run-local` trains, byte for byte, what SageMaker's XGBoost image trains (``make parity``).

For each example model and data set, in the step environment of the model's image (the image's Python and exact
library versions, from step_images.json):
- the SageMaker side: the pipeline definition's own Validate, Preprocess and Evaluate commands (entrypoint and
  arguments, the code zip checked against its SHA-256), with ``/opt/ml/processing`` under a temporary root, and
  the Train step's hyperparameters and channels fed to ``algorithm_mode.py``, a transcription of the container's
  algorithm-mode training code; its model directory is packed into ``model.tar.gz`` as SageMaker does;
- the local side: ``mlops run-local`` as a user runs it.
Every preprocessed file, the model file and the evaluation must be byte-identical. The champion lookup is left
out (it needs the Model Registry); so is everything both sides take from this repository's configuration.

Without the image's interpreter the test skips, naming it; ``make parity`` (CI) sets MLOPS_PARITY_REQUIRED=1,
which turns the skip into a failure.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlops_cli import step_env
from mlops_config import load_config
from mlops_constructs.build.job_spec import job_spec
from mlops_constructs.build.sagemaker_pipeline.build_definition import BuildInputs, build_definition
from mlops_constructs.build.sagemaker_pipeline.step_images import step_image, step_images
from mlops_contracts import CODE_ZIP_NAME, STEP_MODULES
from pipeline_code.code_bundle import build_code_zip

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
PROCESSING = "/opt/ml/processing"
SPEC_FILE = "job-spec.json"
FRAUD_ROWS, FRAUD_SEED = 20000, 1
# The images checked: MLOPS_PARITY_IMAGES (space-separated) or every recorded one.
IMAGES = os.environ.get("MLOPS_PARITY_IMAGES", " ".join(sorted(step_images()))).split()
# (what, run-local's file under OUT/work, the SageMaker side's file under its root)
COMPARED = [
    ("data version", "validate/data_version.json", "output/validation/data_version.json"),
    ("train CSV", "preprocess/train/train.csv", "output/train/train.csv"),
    ("validation CSV", "preprocess/validation/validation.csv", "output/validation-split/validation.csv"),
    ("test CSV", "preprocess/test/test.csv", "output/test/test.csv"),
    ("encoder", "preprocess/encoder/encoder.json", "output/encoder/encoder.json"),
    ("drift baseline", "preprocess/baseline/baseline.json", "output/baseline/baseline.json"),
    ("model file", "model/xgboost-model", "model/xgboost-model"),
    ("evaluation", "evaluate/evaluation.json", "output/evaluation/evaluation.json"),
    ("prediction baseline", "evaluate/baseline.json", "output/evaluation/baseline.json"),
    ("test scores", "evaluate/test_scores.csv", "output/evaluation/test_scores.csv"),
    ("served model", "served/model.tar.gz", "output/served/model.tar.gz"),
]


def _step_python(version: str) -> Path:
    image = step_image(version)
    try:
        return step_env.create(image)
    except step_env.StepEnvError as exc:
        message = f"parity for image {version} needs its step environment: {exc}"
        if os.environ.get("MLOPS_PARITY_REQUIRED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _definition(model, spec: dict, code_sha256: str) -> dict:
    inputs = BuildInputs(
        model=model, job_spec=spec, config_hash="parity", role_arn="role", kms_key_arn="key", data_bucket_name="data",
        artifact_bucket_name="artifacts", model_package_group_name=model.name, code_uri="s3://artifacts/code.zip",
        code_sha256=code_sha256, spec_uri=f"s3://artifacts/{SPEC_FILE}", spec_file_name=SPEC_FILE,
        processing_image="image", training_image="image", evaluation_image="image", serving_image="image",
        step_image=step_image(model.training.xgboost_version))
    return build_definition(inputs)


def _resolve(value, parameters: dict):
    """A pipeline expression's value in this run: parameters take their defaults."""
    if isinstance(value, dict) and set(value) == {"Get"} and value["Get"].startswith("Parameters."):
        return parameters[value["Get"].removeprefix("Parameters.")]
    assert isinstance(value, str), f"unexpected pipeline expression in a command: {value}"
    return value


def _local(path: str, root: Path) -> Path:
    assert path.startswith(PROCESSING), path
    return root / path.removeprefix(PROCESSING + "/")


class SageMakerSide:
    """Runs the definition's steps the way SageMaker launches them, in the image's step environment."""

    def __init__(self, definition: dict, python: Path, root: Path, code_zip: Path, spec: dict):
        self.steps = {step["Name"]: step for step in definition["Steps"]}
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.python, self.root, self.code_zip, self.spec = python, root, code_zip, spec

    def _stage_inputs(self, step: dict, sources: dict[str, Path]) -> None:
        for item in step["Arguments"]["ProcessingInputs"]:
            target = _local(item["S3Input"]["LocalPath"], self.root)
            target.mkdir(parents=True, exist_ok=True)
            name = item["InputName"]
            if name == "code":
                shutil.copy(self.code_zip, target / CODE_ZIP_NAME)
            elif name == "spec":
                (target / SPEC_FILE).write_text(json.dumps(self.spec, sort_keys=True, indent=2) + "\n")
            else:
                source = sources[name]
                shutil.copytree(source, target, dirs_exist_ok=True) if source.is_dir() else shutil.copy(source, target)

    def processing(self, name: str, sources: dict[str, Path], drop_arguments: tuple[str, ...] = ()) -> None:
        step = self.steps[name]
        self._stage_inputs(step, sources)
        app = step["Arguments"]["AppSpecification"]
        arguments = [_resolve(a, self.parameters) for a in app["ContainerArguments"]]
        for option in drop_arguments:  # an option and its value
            at = arguments.index(option)
            del arguments[at:at + 2]
        arguments = [str(_local(a, self.root)) if a.startswith(PROCESSING) else a for a in arguments]
        assert app["ContainerEntrypoint"][0] == "python3"
        subprocess.run([str(self.python), *app["ContainerEntrypoint"][1:], *arguments], check=True)
        for output in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
            assert _local(output["S3Output"]["LocalPath"], self.root).is_dir(), output

    def output(self, step: str, name: str) -> Path:
        outputs = self.steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        return _local(next(o for o in outputs if o["OutputName"] == name)["S3Output"]["LocalPath"], self.root)

    def train(self) -> Path:
        """The Train step's request fed to the container's algorithm-mode code; returns the model.tar.gz dir."""
        request = self.steps["Train"]["Arguments"]
        config = self.root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(request["HyperParameters"]))
        channels = {c["ChannelName"]: {"ContentType": c["ContentType"], "TrainingInputMode": c["InputMode"]}
                    for c in request["InputDataConfig"]}
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        for channel in channels:
            shutil.copytree(self.output("Preprocess", channel), self.root / "input" / "data" / channel)
        model_dir = self.root / "model"
        subprocess.run([str(self.python), str(Path(__file__).with_name("algorithm_mode.py")),
                        "--hyperparameters", str(config / "hyperparameters.json"),
                        "--input-data-config", str(config / "inputdataconfig.json"),
                        "--channels", str(self.root / "input" / "data"), "--model-dir", str(model_dir),
                        "--scratch", str(self.root / "sagemaker_xgboost_input_data")], check=True)
        packed = self.root / "training-output"
        packed.mkdir()
        with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:  # SageMaker uploads /opt/ml/model packed
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        return packed


@pytest.fixture(scope="module")
def fraud_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fraud") / "transactions.csv"
    subprocess.run([sys.executable, "-m", "tooling_code.synthetic.transactions", "--rows", str(FRAUD_ROWS),
                    "--seed", str(FRAUD_SEED), "--out", str(path)], check=True, cwd=REPO)
    return path


def _config_for(version: str, root: Path, model_name: str, early_stopping: bool) -> Path:
    """The example config with every model on image ``version``; optionally with early stopping."""
    config = root / "config"
    shutil.copytree(CONFIG, config)
    for path in (config / "models").glob("*.yaml"):
        text = path.read_text()
        path.write_text(re.sub(r'xgboost_version: "[^"]*"', f'xgboost_version: "{version}"', text))
    if early_stopping:  # the container stops on the last eval_metric over validation and keeps the best iteration
        path = config / "models" / f"{model_name}.yaml"
        path.write_text(path.read_text().replace("hyperparameters: {", "hyperparameters: {early_stopping_rounds: 10, "))
    return config


CASES = [("employee-attrition", False), ("fraud-detection", False), ("employee-attrition", True)]


@pytest.mark.parametrize("version", IMAGES)
@pytest.mark.parametrize("model_name, early_stopping", CASES,
                         ids=[f"{m}{'-early-stopping' if e else ''}" for m, e in CASES])
def test_run_local_is_byte_identical_to_the_sagemaker_image(model_name, early_stopping, version, fraud_data,
                                                            tmp_path):
    config = _config_for(version, tmp_path, model_name, early_stopping)
    model = load_config(config).model(model_name)
    assert ("early_stopping_rounds" in job_spec(model)["hyperparameters"]) == early_stopping
    image = step_image(model.training.xgboost_version)
    python = _step_python(image.version)
    data = REPO / "data" / "attrition" / "attrition.csv" if model_name == "employee-attrition" else fraud_data
    local = tmp_path / "local"
    cli = subprocess.run([sys.executable, "-m", "mlops_cli.main", "run-local", model_name, "--config-dir",
                          str(config), "--data", str(data), "--out", str(local)], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    run = json.loads((local / "run.json").read_text())
    assert run["matches_image"] and run["step_image"] == image.version, run

    spec = job_spec(model)
    sagemaker = _run_sagemaker_side(model, spec, data, python, tmp_path / "sagemaker")
    different = [what for what, ours, theirs in COMPARED
                 if (local / "work" / ours).read_bytes() != (sagemaker / theirs).read_bytes()]
    assert not different, f"{model_name} on image {image.version}: {different} differ from SageMaker's"
    assert run["model_sha256"] == json.loads((sagemaker / "output/evaluation/evaluation.json").read_text())[
        "model_sha256"]


def _run_sagemaker_side(model, spec, data, python, root: Path) -> Path:
    """Validate's report and Preprocess's splits share output/validation in the definition (separate jobs in
    SageMaker), so each processing job gets its own root, as each gets its own machine."""
    code = build_code_zip(REPO / "pipeline_code", root / "code-asset" / CODE_ZIP_NAME)
    definition = _definition(model, spec, code.sha256)
    jobs = {name: SageMakerSide(definition, python, root / name / "opt/ml/processing", code.path, spec)
            for name in ("Validate", "Preprocess", "Evaluate")}
    jobs["Validate"].processing("Validate", {"data": data})
    jobs["Preprocess"].processing("Preprocess", {"data": data})
    training = SageMakerSide(definition, python, root / "Train" / "opt/ml", code.path, spec)
    training.output = jobs["Preprocess"].output  # the channels are Preprocess's outputs
    packed = training.train()
    prep = jobs["Preprocess"]
    jobs["Evaluate"].processing("Evaluate", {"model": packed, "test": prep.output("Preprocess", "test"),
                                             "baseline": prep.output("Preprocess", "baseline"),
                                             "encoder": prep.output("Preprocess", "encoder")},
                                drop_arguments=("--model-package-group",))
    # One view for the comparison, by the names in COMPARED.
    view = root / "view"
    for what, target in (("Validate", "output/validation"), ("Evaluate", "output/evaluation"),
                         ("Evaluate", "output/served")):
        shutil.copytree(jobs[what].root / target, view / target)
    for name in ("train", "test", "encoder", "baseline"):
        shutil.copytree(prep.output("Preprocess", name), view / "output" / name)
    shutil.copytree(prep.output("Preprocess", "validation"), view / "output" / "validation-split")
    shutil.copytree(training.root / "model", view / "model")
    return view


PREPROCESSED = ["validate/data_version.json", "preprocess/train/train.csv", "preprocess/validation/validation.csv",
                "preprocess/test/test.csv", "preprocess/encoder/encoder.json", "preprocess/baseline/baseline.json"]


def _preprocess_with(python: Path, spec_path: Path, data: Path, out: Path) -> Path:
    for step, args in (("validate", ["--output", out / "validate"]), ("preprocess", ["--output", out / "preprocess"])):
        subprocess.run([str(python), "-m", STEP_MODULES[step], "--spec", str(spec_path), "--input", str(data),
                        *map(str, args)], check=True, cwd=REPO, capture_output=True)
    return out


def test_preprocessed_data_is_identical_in_every_image_and_the_dev_environment(fraud_data, tmp_path):
    """Numbers with 17 significant digits, which pandas < 3 reads to a neighbouring float by default and pandas
    versions write differently: the CSVs must not depend on the pandas version."""
    import pandas as pd

    frame = pd.read_csv(fraud_data)
    frame["amount"] = frame["amount"] * (1 + 1e-9) + 1e-7  # full-precision decimals, still within the column rules
    data = tmp_path / "data"
    data.mkdir()
    frame.to_csv(data / "transactions.csv", index=False)
    assert len(str(frame["amount"].iloc[0])) > 15
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(job_spec(load_config(CONFIG).model("fraud-detection"))))
    environments = {"dev": Path(sys.executable), **{v: _step_python(v) for v in IMAGES}}
    runs = {name: _preprocess_with(python, spec_path, data, tmp_path / name) for name, python in environments.items()}
    different = [(name, file) for name in runs for file in PREPROCESSED
                 if (runs[name] / file).read_bytes() != (runs["dev"] / file).read_bytes()]
    assert not different, f"preprocessed data depends on the environment: {different}"
