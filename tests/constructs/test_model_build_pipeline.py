"""ModelBuildPipeline: the definition against botocore's API shapes, its references, gates, IAM and cfn-lint."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mlops_contracts as c
from tests.support.pipeline_definition_helpers import (
    ACCOUNT,
    REGION,
    definition_of,
    expressions,
    pipeline_resource,
    step_named,
    validation_errors,
    walk_steps,
)

EXAMPLES = {"fraud": "mlops-fraud-detection", "custom": "mlops-support-assistant", "batch": "mlops-employee-attrition"}
TUNING = {"max_jobs": 4, "max_parallel_jobs": 2,
          "ranges": {"eta": {"min": 0.01, "max": 0.3, "scaling": "Logarithmic"},
                     "max_depth": {"type": "integer", "min": 3, "max": 8}}}
VPC = {"subnet_ids": ["subnet-0abc", "subnet-0def"], "security_group_ids": ["sg-0123"]}


def _variant(model, **training):
    from mlops_config import ModelConfig

    data = model.model_dump(mode="json")
    data["training"].update(training)
    return ModelConfig.model_validate(data)


@pytest.fixture(scope="module")
def variants(example_config, tmp_path_factory):
    """Tuned fraud model in a VPC, synthesized with cdk-nag (unacknowledged findings fail synth)."""
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2

    from mlops_constructs._private.wildcard_review import add_nag_checks
    from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
    from mlops_constructs.core.model_core import ModelCore
    from stacks.build_props import build_pipeline_props
    from tests.conftest import new_app

    fraud = next(m for m in example_config.models if m.name == "fraud-detection")
    tuned = _variant(fraud, tuning=TUNING, instance_type="ml.m5d.xlarge")  # m5d: NVMe, no volume key
    app = new_app(outdir=str(tmp_path_factory.mktemp("build-variants")))
    stack = Stack(app, "Tuned")
    core = ModelCore(stack, "Core", model_name=tuned.name, owner=tuned.owner)
    build = ModelBuildPipeline(stack, "Build", **build_pipeline_props(tuned, "c0ffee"),
                               key=core.key, data_bucket=core.data_bucket, artifact_bucket=core.artifact_bucket,
                               model_package_group_name=core.model_package_group_name,
                               subnets=[ec2.Subnet.from_subnet_id(stack, f"S{i}", s)
                                        for i, s in enumerate(VPC["subnet_ids"])],
                               security_groups=[ec2.SecurityGroup.from_security_group_id(stack, f"G{i}", g)
                                                for i, g in enumerate(VPC["security_group_ids"])])
    add_nag_checks(app)
    assembly = app.synth()
    return {"stack": stack, "build": build, "model": tuned, "assembly": assembly,
            "template": assembly.get_stack_by_name("Tuned").template}


@pytest.fixture(scope="module")
def templates(example_app, variants):
    found = {key: example_app.templates[name] for key, name in EXAMPLES.items()}
    found["tuned"] = variants["template"]
    return found


@pytest.fixture(scope="module")
def definitions(templates):
    return {key: definition_of(t) for key, t in templates.items()}


# --- API shapes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["fraud", "custom", "batch", "tuned"])
def test_every_job_step_is_a_valid_request_of_its_api(definitions, variant):
    steps = [s for s in walk_steps(definitions[variant]["Steps"]) if s["Type"] != "Condition"]
    kinds = {s["Type"] for s in steps}
    assert {"Processing", "RegisterModel", "Fail"} <= kinds
    assert ("Tuning" if variant == "tuned" else "Training") in kinds
    for step in steps:
        if step["Type"] != "Fail":
            assert validation_errors(step) == "", f"{variant} step {step['Name']}"


def test_the_validator_catches_a_malformed_step(definitions):
    """Guards the check above: a missing required member and a wrong type are reported."""
    train = json.loads(json.dumps(step_named(definitions["fraud"], "Train")))
    del train["Arguments"]["AlgorithmSpecification"]["TrainingInputMode"]
    train["Arguments"]["ResourceConfig"]["InstanceCount"] = "one"
    report = validation_errors(train)
    assert "TrainingInputMode" in report and "InstanceCount" in report


# --- references -------------------------------------------------------------------------------------------------

def _declared(definition):
    steps = {s["Name"]: s for s in walk_steps(definition["Steps"])}
    outputs = {name: {o["OutputName"] for o in s["Arguments"]["ProcessingOutputConfig"]["Outputs"]}
               for name, s in steps.items() if s["Type"] == "Processing"}
    files = {name: {p["PropertyFileName"] for p in s.get("PropertyFiles", [])} for name, s in steps.items()}
    return steps, outputs, files, {p["Name"] for p in definition["Parameters"]}


@pytest.mark.parametrize("variant", ["fraud", "custom", "batch", "tuned"])
def test_every_reference_names_a_declared_step_output_file_or_parameter(definitions, variant):
    definition = definitions[variant]
    steps, outputs, files, parameters = _declared(definition)
    assert len(steps) == len(list(walk_steps(definition["Steps"]))), "step names repeat"
    checked = 0
    for step in steps.values():
        for name in step.get("DependsOn", []):
            assert name in steps, f"{step['Name']} depends on unknown step {name}"
        for expr in expressions(step["Arguments"]):
            if "Std:JsonGet" in expr:
                match = re.fullmatch(r"Steps\.(\w+)\.PropertyFiles\.(\w+)", expr["Std:JsonGet"]["PropertyFile"]["Get"])
                assert match and match[2] in files.get(match[1], set()), expr
                checked += 1
            elif "Get" in expr:
                path = expr["Get"]
                if path.startswith("Parameters."):
                    assert path.split(".", 1)[1] in parameters, path
                elif path.startswith("Steps."):
                    name = path.split(".")[1]
                    assert name in steps, path
                    output = re.search(r"Outputs\['(\w+)'\]", path)
                    if output:
                        assert output[1] in outputs[name], path
                else:
                    assert path in ("Execution.PipelineExecutionId", "Execution.PipelineExecutionArn"), path
                checked += 1
    assert checked > 20


def test_reference_check_rejects_an_unknown_property_file(definitions):
    broken = json.loads(json.dumps(definitions["fraud"]))
    gate = broken["Steps"][-1]
    gate["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["PropertyFile"]["Get"] = "Steps.Evaluate.PropertyFiles.Nope"
    with pytest.raises(AssertionError):
        test_every_reference_names_a_declared_step_output_file_or_parameter({"x": broken}, "x")


def test_reference_check_rejects_steps_reading_an_undeclared_code_parameter(definitions):
    broken = json.loads(json.dumps(definitions["fraud"]))
    broken["Parameters"] = [p for p in broken["Parameters"] if p["Name"] != c.PARAM_CODE_SHA256]
    with pytest.raises(AssertionError, match="Parameters.CodeSha256"):
        test_every_reference_names_a_declared_step_output_file_or_parameter({"x": broken}, "x")


# --- gates and registration -------------------------------------------------------------------------------------

def _gate_chain(definition):
    chain, step = [], definition["Steps"][-1]
    while step["Type"] == "Condition":
        chain.append(step)
        (fail,) = step["Arguments"]["ElseSteps"]
        assert fail["Type"] == "Fail"
        (step,) = step["Arguments"]["IfSteps"]
    return chain, step


def test_fraud_gates_every_configured_floor_bias_and_champion_before_registering(definitions, example_config):
    chain, last = _gate_chain(definitions["fraud"])
    assert [g["Name"] for g in chain] == ["GateAUC", "GateRecall", "GatePrecision", "GateBias", "GateChampion"]
    assert last["Type"] == "RegisterModel" and last["Name"] == "Register"
    registers = [s for s in walk_steps(definitions["fraud"]["Steps"]) if s["Type"] == "RegisterModel"]
    assert registers == [last], "a failed gate must register nothing"
    recall = chain[1]["Arguments"]["Conditions"][0]
    assert recall["Type"] == "GreaterThanOrEqualTo"
    assert recall["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.recall.value"
    assert recall["RightValue"] == {"Get": "Parameters.MinRecall"}
    bias = chain[3]["Arguments"]["Conditions"][0]
    assert (bias["Type"], bias["LeftValue"]["Std:JsonGet"]["Path"]) == ("LessThanOrEqualTo",
                                                                       "bias.max_positive_rate_difference")


def test_threshold_parameters_default_to_the_config(definitions, example_config):
    fraud = next(m for m in example_config.models if m.name == "fraud-detection")
    defaults = {p["Name"]: p["DefaultValue"] for p in definitions["fraud"]["Parameters"]}
    assert defaults["MinAUC"] == fraud.quality_gate.min_metrics["auc"] == 0.92
    assert defaults["MinPrecision"] == 0.80 and defaults[c.PARAM_BIAS_LIMIT] == fraud.quality_gate.bias.limit
    assert defaults[c.PARAM_APPROVAL_STATUS] == "PendingManualApproval"
    assert {c.PARAM_INPUT_DATA, c.PARAM_GIT_COMMIT, c.PARAM_TRIGGER} <= set(defaults)
    assert defaults[c.PARAM_INPUT_DATA].endswith("/transactions/training/")


def test_each_failed_gate_names_its_value_and_threshold(definitions):
    chain, _ = _gate_chain(definitions["fraud"])
    for gate in chain:
        condition = gate["Arguments"]["Conditions"][0]
        (fail,) = gate["Arguments"]["ElseSteps"]
        values = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
        texts = " ".join(v for v in values if isinstance(v, str)).lower()
        assert condition["LeftValue"] in values, gate["Name"]
        threshold = condition["RightValue"]
        assert threshold in values if isinstance(threshold, dict) else f"threshold {threshold}" in texts
        assert gate["Name"].removeprefix("Gate").lower() in texts


def test_batch_model_without_bias_or_champion_has_only_its_floor(definitions):
    chain, last = _gate_chain(definitions["batch"])
    assert [g["Name"] for g in chain] == ["GateAUC"]
    spec = last["Arguments"]["InferenceSpecification"]
    assert spec["SupportedTransformInstanceTypes"] == ["ml.m5.large"]


def test_register_records_metrics_baseline_approval_and_every_metadata_key(definitions):
    register = step_named(definitions["fraud"], "Register")["Arguments"]
    metadata = register["CustomerMetadataProperties"]
    keys = {v for k, v in vars(c).items() if k.startswith("META_")}
    assert set(metadata) == keys
    assert metadata[c.META_DATA_VERSION] == {"Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Validate.PropertyFiles.DataVersion"}, "Path": "data_version"}}
    assert metadata[c.META_PIPELINE_EXECUTION] == {"Get": "Execution.PipelineExecutionArn"}
    assert metadata[c.META_TRAINING_JOB] == {"Get": "Steps.Train.TrainingJobName"}
    assert re.fullmatch(r"[0-9a-f]{64}", metadata[c.META_HYPERPARAMETERS_HASH])
    assert register["ModelApprovalStatus"] == {"Get": f"Parameters.{c.PARAM_APPROVAL_STATUS}"}
    quality = register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    assert quality[-1] == f"/{c.EVALUATION_FILE}" and drift[-1] == f"/{c.BASELINE_FILE}"
    # The served model is the package Evaluate built (booster + encoder.json + pipeline_code) in script mode.
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Std:Join": {"On": "", "Values": [
        {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['served'].S3Output.S3Uri"}, "/model.tar.gz"]}}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == c.SERVING_PROGRAM
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert register["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv", "application/json"]
    evaluate = step_named(definitions["fraud"], "Evaluate")["Arguments"]
    encoder = next(i for i in evaluate["ProcessingInputs"] if i["InputName"] == "encoder")
    assert encoder["S3Input"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['encoder'].S3Output.S3Uri"}
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--encoder") + 1] == encoder["S3Input"]["LocalPath"]


# --- jobs -------------------------------------------------------------------------------------------------------

def test_jobs_encrypt_volumes_and_outputs_and_isolate_training(definitions, templates):
    definition = definitions["fraud"]
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    train = step_named(definition, "Train")["Arguments"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == key_arn == train["OutputDataConfig"]["KmsKeyId"]
    assert train["EnableNetworkIsolation"] and train["EnableInterContainerTrafficEncryption"]
    assert train["HyperParameters"]["seed"] == "42" and train["HyperParameters"]["num_round"] == "300"
    assert "VpcConfig" not in train
    for name in ("Validate", "Preprocess", "Evaluate"):
        job = step_named(definition, name)["Arguments"]
        assert job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key_arn
        assert job["ProcessingOutputConfig"]["KmsKeyId"] == key_arn
    assert step_named(definition, "Preprocess")["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True


def test_images_come_from_the_vendored_regional_table(definitions, templates):
    from mlops_constructs.build.sagemaker_pipeline.images import image_table

    table = image_table()
    xgboost = f"{table['xgboost-3.0-5']['registries'][REGION]}.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:3.0-5"
    fraud = definitions["fraud"]
    assert step_named(fraud, "Train")["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == xgboost
    for step in ("Validate", "Preprocess", "Evaluate"):  # one image, whose versions step_images.json records
        assert step_named(fraud, step)["Arguments"]["AppSpecification"]["ImageUri"] == xgboost, step
    mapping = templates["fraud"]["Mappings"]["SageMakerImageRegistries"]
    assert set(mapping) == set(table["xgboost-1.7-1"]["registries"]) and "cn-north-1" in mapping


def test_bad_processing_instance_type_is_a_clear_error(example_config):
    from aws_cdk import Stack

    from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
    from mlops_constructs.core.model_core import ModelCore
    from stacks.build_props import build_pipeline_props
    from tests.conftest import new_app

    model = example_config.models[0]
    stack = Stack(new_app(), "Bad")
    core = ModelCore(stack, "Core", model_name=model.name, owner=model.owner)
    with pytest.raises(ValueError, match=r"processing_instance_type 'm5.xlarge'.*like 'ml.m5.xlarge'"):
        ModelBuildPipeline(stack, "Build", **build_pipeline_props(model, "x"), key=core.key,
                           data_bucket=core.data_bucket, artifact_bucket=core.artifact_bucket,
                           model_package_group_name=model.name, processing_instance_type="m5.xlarge")



def test_subnets_without_security_groups_are_a_clear_error(example_config):
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2

    from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
    from mlops_constructs.core.model_core import ModelCore
    from stacks.build_props import build_pipeline_props
    from tests.conftest import new_app

    model = example_config.models[0]
    stack = Stack(new_app(), "Bad")
    core = ModelCore(stack, "Core", model_name=model.name, owner=model.owner)
    with pytest.raises(ValueError, match="give both subnets and security_groups, or neither; got 1 subnets and 0"):
        ModelBuildPipeline(stack, "Build", **build_pipeline_props(model, "x"), key=core.key,
                           data_bucket=core.data_bucket, artifact_bucket=core.artifact_bucket,
                           model_package_group_name=model.name,
                           subnets=[ec2.Subnet.from_subnet_id(stack, "S", "subnet-0abc")])


def test_a_custom_image_needs_repository_and_tag(example_config):
    from aws_cdk import Stack

    from mlops_constructs.build.model_build_pipeline import ModelBuildPipeline
    from mlops_constructs.core.model_core import ModelCore
    from stacks.build_props import build_pipeline_props
    from tests.conftest import new_app

    model = example_config.models[0]
    stack = Stack(new_app(), "Bad")
    core = ModelCore(stack, "Core", model_name=model.name, owner=model.owner)
    props = {**build_pipeline_props(model, "x"), "training_image_repository": "trainer", "training_image_tag": None}
    with pytest.raises(ValueError, match="give both training_image_repository and training_image_tag, or neither; "
                                         "got 'trainer', None"):
        ModelBuildPipeline(stack, "Build", **props, key=core.key, data_bucket=core.data_bucket,
                           artifact_bucket=core.artifact_bucket, model_package_group_name=model.name)

def test_unknown_image_version_is_a_clear_error():
    from mlops_constructs.build.sagemaker_pipeline.images import image_key

    with pytest.raises(ValueError, match=r"no SageMaker image 'xgboost-0.9'.*available: \['sklearn-1.9-0'"):
        image_key("xgboost", "0.9")


def test_custom_image_is_composed_from_the_stacks_account_and_region(definitions, example_app):
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/support-assistant-trainer:2026.11.1"
    custom = definitions["custom"]
    assert step_named(custom, "Train")["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == image
    register = step_named(custom, "Register")["Arguments"]
    assert register["InferenceSpecification"]["Containers"][0]["Image"] == image
    assert register["CustomerMetadataProperties"][c.META_IMAGE_URI] == image


def test_tuning_searches_the_ranges_and_registers_the_best_job(definitions, variants):
    tuned = definitions["tuned"]
    tune = step_named(tuned, "Tune")["Arguments"]
    config = tune["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "3", "MaxValue": "8", "ScalingType": "Auto"}]
    assert config["ParameterRanges"]["ContinuousParameterRanges"][0]["ScalingType"] == "Logarithmic"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    static = tune["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "eta" not in static and "max_depth" not in static and static["seed"] == "42"
    assert len(tune["HyperParameterTuningJobName"]) <= 32
    definition = tune["TrainingJobDefinition"]
    assert "VolumeKmsKeyId" not in definition["ResourceConfig"], "ml.m5d has instance storage only"
    assert definition["VpcConfig"] == {"Subnets": VPC["subnet_ids"], "SecurityGroupIds": VPC["security_group_ids"]}
    evaluate = step_named(tuned, "Evaluate")["Arguments"]
    model_url = next(i for i in evaluate["ProcessingInputs"] if i["InputName"] == "model")["S3Input"]["S3Uri"]
    assert {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"} in model_url["Std:Join"]["Values"]
    assert evaluate["NetworkConfig"]["VpcConfig"]["Subnets"] == VPC["subnet_ids"]


# --- code and spec assets ---------------------------------------------------------------------------------------

def _asset_dir(assembly, stack_name: str, s3_uri: str) -> Path:
    artifact = assembly.get_stack_by_name(stack_name)
    manifest = json.loads(Path(artifact.assembly.directory, f"{artifact.stack_name}.assets.json").read_text())
    key = s3_uri.rsplit("/", 1)[-1]
    (source,) = [f["source"]["path"] for f in manifest["files"].values()
                 if any(d["objectKey"] == key for d in f["destinations"].values())]
    return Path(artifact.assembly.directory, source)


def test_spec_asset_is_the_models_job_spec_at_the_path_the_steps_read(variants):
    from mlops_constructs.build.job_spec import job_spec

    definition = definition_of(variants["template"])
    validate = step_named(definition, "Validate")["Arguments"]
    spec_uri = next(i["S3Input"]["S3Uri"] for i in validate["ProcessingInputs"] if i["InputName"] == "spec")
    spec_arg = validate["AppSpecification"]["ContainerArguments"][4]
    assert spec_arg == f"/opt/ml/processing/input/spec/{spec_uri.rsplit('/', 1)[-1]}"
    shipped = json.loads(_asset_dir(variants["assembly"], "Tuned", spec_uri).read_text())
    assert shipped == job_spec(variants["model"])


def _code_job(definition, step="Preprocess"):
    """(code input URI, entrypoint, arguments) of a processing step."""
    job = step_named(definition, step)["Arguments"]
    code_uri = next(i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"] if i["InputName"] == "code")
    return code_uri, job["AppSpecification"]["ContainerEntrypoint"], job["AppSpecification"]["ContainerArguments"]


def _run_job_locally(entry, arguments, code_dir: Path, cwd: Path, sha256: str, *extra):
    """Run a step's container command here: the code input dir is ``code_dir``, the CodeSha256 is ``sha256``."""
    local = [str(code_dir / "*.zip"), sha256, *arguments[2:3], *extra]
    return subprocess.run([sys.executable, *entry[1:], *local], capture_output=True, text=True, check=False,
                          cwd=cwd, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=120)


def test_every_processing_step_reads_its_code_from_the_code_url_parameter(definitions):
    for variant, definition in definitions.items():
        for step in (s for s in walk_steps(definition["Steps"]) if s["Type"] == "Processing"):
            code_uri, entry, arguments = _code_job(definition, step["Name"])
            assert code_uri == {"Get": f"Parameters.{c.PARAM_CODE_URL}"}, (variant, step["Name"])
            assert arguments[:3] == ["/opt/ml/processing/input/code/*.zip",
                                     {"Get": f"Parameters.{c.PARAM_CODE_SHA256}"},
                                     c.STEP_MODULES[step['Name'].lower()]], (variant, step["Name"])
            assert "PYTHONPATH" not in step["Arguments"]["Environment"]
            assert all(len(a) <= 256 for a in entry + arguments if isinstance(a, str)), "SageMaker's 256-char cap"


def test_code_parameters_default_to_the_reproducible_code_asset(variants):
    from mlops_constructs.build.model_build_pipeline import PIPELINE_CODE_DIR
    from pipeline_code.code_bundle import build_code_zip, file_sha256

    definition = definition_of(variants["template"])
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    asset = _asset_dir(variants["assembly"], "Tuned", defaults[c.PARAM_CODE_URL])
    assert defaults[c.PARAM_CODE_URL].startswith(f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/")
    assert file_sha256(asset) == defaults[c.PARAM_CODE_SHA256] == variants["build"].code_zip.sha256
    assert build_code_zip(PIPELINE_CODE_DIR, asset.parent / "rebuilt.zip").sha256 == defaults[c.PARAM_CODE_SHA256]
    names = zipfile.ZipFile(asset).namelist()
    assert "pipeline_code/data/preprocess.py" in names and not [n for n in names if "__pycache__" in n or "/tests/" in n]


def test_register_records_the_code_url_and_sha256_the_steps_checked(definitions):
    metadata = step_named(definitions["fraud"], "Register")["Arguments"]["CustomerMetadataProperties"]
    assert metadata[c.META_CODE_URL] == {"Get": f"Parameters.{c.PARAM_CODE_URL}"}
    assert metadata[c.META_CODE_SHA256] == {"Get": f"Parameters.{c.PARAM_CODE_SHA256}"}


def test_job_command_runs_the_step_from_a_zip_of_any_name_after_checking_its_hash(variants, tmp_path):
    definition = definition_of(variants["template"])
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    _, entry, arguments = _code_job(definition)
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / c.CODE_ZIP_NAME).write_bytes(_asset_dir(variants["assembly"], "Tuned",
                                                            defaults[c.PARAM_CODE_URL]).read_bytes())
    sha256 = defaults[c.PARAM_CODE_SHA256]
    ran = _run_job_locally(entry, arguments, code_dir, tmp_path, sha256, "--help")
    assert ran.returncode == 0 and "--spec" in ran.stdout, ran.stderr
    assert "preprocess" in ran.stdout.splitlines()[0]

    wrong = _run_job_locally(entry, arguments, code_dir, tmp_path, "0" * 64, "--help")
    assert wrong.returncode == 1 and f"sha256 {sha256} != CodeSha256 {'0' * 64}" in wrong.stderr
    assert "--spec" not in wrong.stdout, "no step code may run from an unexpected zip"
    (code_dir / "other.zip").write_bytes(b"PK")
    two = _run_job_locally(entry, arguments, code_dir, tmp_path, sha256, "--help")
    assert two.returncode == 1 and "other.zip" in two.stderr and "sha256 False" in two.stderr


# --- IAM --------------------------------------------------------------------------------------------------------

def _policy_statements(template, role_id):
    policies = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _statement(statements, action):
    found = [s for s in statements if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert found, f"no statement allows {action}"
    return found


def _resources(statement, template):
    from tests.support.pipeline_definition_helpers import resolve_cfn

    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return sorted(resolve_cfn(r, template) for r in resources)


def test_pipeline_uses_its_own_role_trusted_by_sagemaker(templates):
    from aws_cdk.assertions import Match, Template

    template = templates["fraud"]
    _, pipeline = pipeline_resource(template)
    assert pipeline["PipelineName"] == c.build_pipeline_name("fraud-detection")
    role_id = pipeline["RoleArn"]["Fn::GetAtt"][0]
    assert template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"}
    Template.from_json(template).has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": role_id}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "iam:PassRole", "Resource": {"Fn::GetAtt": [role_id, "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}})])},
    })


def test_role_may_only_create_jobs_with_the_pipelines_prefixes(templates, definitions):
    template = templates["fraud"]
    _, pipeline = pipeline_resource(template)
    statements = _policy_statements(template, pipeline["RoleArn"]["Fn::GetAtt"][0])
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    (processing,) = _statement(statements, "sagemaker:CreateProcessingJob")
    names = [step_named(definitions["fraud"], s)["Arguments"]["ProcessingJobName"]
             for s in ("Evaluate", "Preprocess", "Validate")]
    assert _resources(processing, template) == [f"{arn}:processing-job/{n}*" for n in names]
    (training,) = _statement(statements, "sagemaker:CreateTrainingJob")
    assert _resources(training, template) == [f"{arn}:training-job/fraud-detection-train*"]
    (register,) = _statement(statements, "sagemaker:CreateModelPackage")
    assert _resources(register, template) == [f"{arn}:model-package-group/fraud-detection",
                                              f"{arn}:model-package/fraud-detection/*"]
    assert not [s for s in statements if "sagemaker:CreateHyperParameterTuningJob" in s["Action"]]


def test_role_storage_access_is_scoped_to_the_models_buckets_and_key(templates):
    template = templates["fraud"]
    _, pipeline = pipeline_resource(template)
    statements = _policy_statements(template, pipeline["RoleArn"]["Fn::GetAtt"][0])
    puts = _statement(statements, "s3:PutObject")
    assert [_resources(s, template) for s in puts] == [
        [f"arn:aws:s3:::{_bucket(template, 'ArtifactBucket')}/pipelines/*"]]
    reads = [r for s in _statement(statements, "s3:GetObject") for r in _resources(s, template)]
    data = _bucket(template, "DataBucket")
    assert f"arn:aws:s3:::{data}/transactions/training/*" in reads
    assert all(r.startswith(("arn:aws:s3:::coredatabucket", "arn:aws:s3:::coreartifactbucket",
                             f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/")) for r in reads), reads
    for action in ("kms:Decrypt", "kms:CreateGrant"):
        for statement in _statement(statements, action):
            assert statement["Resource"] == {"Fn::GetAtt": [_logical(template, "AWS::KMS::Key"), "Arn"]}
    assert not [s for s in statements if s["Resource"] == "*" and "s3:" in json.dumps(s["Action"])]


def test_role_reads_the_code_zips_ci_uploads_for_this_model_only(templates):
    template = templates["fraud"]
    _, pipeline = pipeline_resource(template)
    statements = _policy_statements(template, pipeline["RoleArn"]["Fn::GetAtt"][0])
    artifacts = _bucket(template, "ArtifactBucket")
    reads = [r for s in _statement(statements, "s3:GetObject") for r in _resources(s, template)]
    assert f"arn:aws:s3:::{artifacts}/code/fraud-detection/*" in reads
    assert not [r for r in reads if r.startswith(f"arn:aws:s3:::{artifacts}/code/") and "fraud-detection" not in r]
    lists = [s for s in _statement(statements, "s3:ListBucket") if _resources(s, template) == [
        f"arn:aws:s3:::{artifacts}"]]
    assert {"StringLike": {"s3:prefix": [f"{c.CODE_PREFIX}/fraud-detection/*"]}} in [s["Condition"] for s in lists]


def test_custom_image_role_pulls_only_its_repository(templates):
    template = templates["custom"]
    _, pipeline = pipeline_resource(template)
    statements = _policy_statements(template, pipeline["RoleArn"]["Fn::GetAtt"][0])
    (pull,) = _statement(statements, "ecr:BatchGetImage")
    assert _resources(pull, template) == [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/support-assistant-trainer"]


def test_tuned_role_creates_tuning_jobs_and_vpc_interfaces_in_its_subnets(variants):
    template = variants["template"]
    _, pipeline = pipeline_resource(template)
    statements = _policy_statements(template, pipeline["RoleArn"]["Fn::GetAtt"][0])
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    (tuning,) = _statement(statements, "sagemaker:CreateHyperParameterTuningJob")
    assert _resources(tuning, template) == [f"{arn}:hyper-parameter-tuning-job/fraud-detection-tune*"]
    (training,) = _statement(statements, "sagemaker:CreateTrainingJob")
    assert _resources(training, template) == [f"{arn}:training-job/fraud-detection-tune*"]
    (eni,) = _statement(statements, "ec2:CreateNetworkInterface")
    assert f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0abc" in _resources(eni, template)


def _logical(template, kind):
    (found,) = [k for k, r in template["Resources"].items() if r["Type"] == kind]
    return found


def _bucket(template, name):
    (found,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and name in k]
    return f"{found.lower()[:40]}-bucket"


# --- cfn-lint ---------------------------------------------------------------------------------------------------

def test_build_pipeline_resources_pass_cfn_lint(templates, variants):
    """0 errors and 0 warnings on this construct's resources and mapping (others' resources are theirs).
    The example models' whole templates are linted by tests/stacks/test_app.py; the tuned VPC variant only exists here."""
    from cfnlint.api import lint

    for key in ("tuned",):
        matches = [m for m in lint(json.dumps(templates[key]), regions=[REGION])
                   if m.rule.id[0] in "EW" and _is_ours(m.path)]
        assert not matches, f"{key}: " + "\n".join(f"{m.path}: {m}" for m in matches)


def _is_ours(path) -> bool:
    parts = list(path)
    return parts[:2] == ["Mappings", "SageMakerImageRegistries"] or (
        len(parts) > 1 and parts[0] == "Resources" and str(parts[1]).startswith("Build"))


# --- the image table generator ----------------------------------------------------------------------------------

def test_generator_reads_the_sdk_config_as_data(tmp_path):
    from mlops_constructs.build.sagemaker_pipeline import generate_images as gen

    registries = {"eu-west-1": "141502667606", "us-east-1": "683313688378"}
    configs = {
        "xgboost": {"training": {"versions": {v: {"registries": registries, "repository": "sagemaker-xgboost"}
                                              for v in ("1.7-1", "3.0-5")}}},
        "sklearn": {"training": {"versions": {"1.9-0": {"registries": registries, "processors": ["cpu"],
                                                        "py_versions": ["py3"],
                                                        "repository": "sagemaker-scikit-learn"}}}},
    }
    wheel = tmp_path / "sagemaker_core-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, config in configs.items():
            archive.writestr(f"{gen.CONFIG_DIR}/{name}.json", json.dumps(config))
    table = gen.generate(wheel)
    assert table["images"]["sklearn-1.9-0"]["tag"] == "1.9-0-cpu-py3"
    assert table["images"]["xgboost-1.7-1"] == {"framework": "xgboost", "version": "1.7-1",
                                                "repository": "sagemaker-xgboost", "tag": "1.7-1",
                                                "registries": registries}
    assert "Apache-2.0" in table["license"] and wheel.name in table["source"]
    with pytest.raises(SystemExit, match=r"xgboost 0.9 is not in the SDK config; known versions: \['1.7-1'"):
        gen.image_entry(configs["xgboost"], "xgboost", "0.9")
