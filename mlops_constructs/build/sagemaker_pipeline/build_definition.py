"""The model build pipeline definition: validate -> preprocess -> train (or tune) -> evaluate -> gates -> register.

Pure data from typed inputs; CDK tokens may appear in any value. ``ModelBuildPipeline`` supplies the inputs
(role, key, buckets, assets, images) and renders the result into ``AWS::SageMaker::Pipeline``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, fields

import mlops_contracts as c
from mlops_config.model import QUALITY_METRICS, ModelConfig, is_instance_store
from mlops_constructs.build.sagemaker_pipeline import code_bootstrap
from mlops_constructs.build.sagemaker_pipeline import expressions as ex
from mlops_constructs.build.sagemaker_pipeline import steps as st
from mlops_constructs.build.sagemaker_pipeline.model_card import model_card
from mlops_constructs.build.sagemaker_pipeline.step_images import StepImage
from pipeline_code.endpoint.packaging import MODEL_ARCHIVE, serving_environment

CODE_DIR = "/opt/ml/processing/input/code"
SPEC_DIR = "/opt/ml/processing/input/spec"
IN = "/opt/ml/processing/input"
OUT = "/opt/ml/processing/output"
OBJECTIVE_TYPE = {"validation:auc": "Maximize", "validation:logloss": "Minimize", "validation:error": "Minimize"}
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class JobNames:
    """Job-name prefixes of one model's pipeline. Pipelines keeps a name given in the step arguments as the job's
    prefix (custom job prefixing) so the execution role is scoped to ``<kind>/<prefix>*``."""

    model: str

    @property
    def base(self) -> str:
        return self.model[:24].rstrip("-")

    def processing(self, step: str) -> str:
        return f"{self.base}-{step.lower()}"

    @property
    def training(self) -> str:
        return f"{self.base}-train"

    @property
    def tuning(self) -> str:
        """Tuning job names are at most 32 characters; its training jobs are named ``<tuning job>-NNN-<hash>``."""
        return f"{self.model[:16].rstrip('-')}-tune"


@dataclass(frozen=True, kw_only=True)
class BuildResources:
    """What ``ModelBuildPipeline`` creates or is given, as the definition refers to it. Values may be CDK tokens.

    ``code_uri`` and ``code_sha256`` are the defaults of the ``CodeUrl`` / ``CodeSha256`` parameters: the zip
    of ``pipeline_code/`` the steps run unless an execution names another (CI passes the commit's own zip).
    ``spec_uri`` is the job spec, a single S3 object; ``spec_file_name`` its key basename, the name it gets
    under the input's local directory. ``step_image`` is the recorded XGBoost image the steps run in (its
    versions go into the package metadata).
    """

    role_arn: str
    kms_key_arn: str
    data_bucket_name: str
    artifact_bucket_name: str
    model_package_group_name: str
    code_uri: str
    code_sha256: str
    spec_uri: str
    spec_file_name: str
    processing_image: str
    training_image: str
    evaluation_image: str
    serving_image: str
    step_image: StepImage
    processing_instance_type: str = "ml.m5.xlarge"
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BuildInputs(BuildResources):
    """Everything the definition needs: the model config, its job spec and config hash, and the resources."""

    model: ModelConfig
    job_spec: dict
    config_hash: str


DefinitionFactory = Callable[[BuildResources], dict]


def definition_for(model: ModelConfig, job_spec: dict, config_hash: str) -> DefinitionFactory:
    """The build definition of ``model`` as a function of the resources ``ModelBuildPipeline`` creates (its
    ``definition`` prop): the config stays on this side, the construct only supplies resources."""
    def definition(resources: BuildResources) -> dict:
        values = {f.name: getattr(resources, f.name) for f in fields(BuildResources)}
        return build_definition(BuildInputs(model=model, job_spec=job_spec, config_hash=config_hash, **values))
    return definition


def hyperparameters_sha256(model: ModelConfig, hyperparameters: dict[str, str]) -> str:
    """SHA-256 of the training configuration: the fixed hyperparameters plus any tuning ranges."""
    tuning = model.training.tuning.model_dump(mode="json") if model.training.tuning else None
    text = json.dumps({"hyperparameters": hyperparameters, "tuning": tuning}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def parameters(inputs: BuildInputs) -> list[dict]:
    """Pipeline parameters: input data, git commit, approval status, trigger, code and one per gate threshold."""
    model = inputs.model
    gate = model.quality_gate
    declared = [
        ex.parameter(c.PARAM_INPUT_DATA, "String",
                     f"s3://{inputs.data_bucket_name}/{model.data.input_prefix}"),
        ex.parameter(c.PARAM_GIT_COMMIT, "String", "unknown"),
        ex.parameter(c.PARAM_APPROVAL_STATUS, "String", "PendingManualApproval"),
        ex.parameter(c.PARAM_TRIGGER, "String", "manual"),
        ex.parameter(c.PARAM_CODE_URL, "String", inputs.code_uri),
        ex.parameter(c.PARAM_CODE_SHA256, "String", inputs.code_sha256),
    ]
    declared += [ex.parameter(c.min_metric_parameter(m), "Float", float(gate.min_metrics[m]))
                 for m in QUALITY_METRICS if m in gate.min_metrics]
    if gate.bias:
        declared.append(ex.parameter(c.PARAM_BIAS_LIMIT, "Float", float(gate.bias.limit)))
    return declared


class _Builder:
    """Assembles the steps; one method per step keeps each short."""

    def __init__(self, inputs: BuildInputs) -> None:
        self.i = inputs
        self.names = JobNames(inputs.model.name)
        training = inputs.model.training
        self.tuned = training.tuning is not None
        self.train_step = "Tune" if self.tuned else "Train"
        self.processing = st.JobResources(
            role_arn=inputs.role_arn, kms_key_arn=inputs.kms_key_arn, instance_type=inputs.processing_instance_type,
            encrypt_volume=not is_instance_store(inputs.processing_instance_type),
            subnet_ids=inputs.subnet_ids, security_group_ids=inputs.security_group_ids)
        self.training = st.JobResources(
            role_arn=inputs.role_arn, kms_key_arn=inputs.kms_key_arn, instance_type=training.instance_type,
            instance_count=training.instance_count, volume_size_gb=training.volume_size_gb,
            max_runtime_seconds=training.max_runtime_seconds,
            encrypt_volume=not is_instance_store(training.instance_type),
            subnet_ids=inputs.subnet_ids, security_group_ids=inputs.security_group_ids)

    def step_uri(self, step: str, leaf: str) -> dict:
        """``s3://<artifact bucket>/pipelines/<execution id>/<step>/<leaf>``."""
        return ex.join([f"s3://{self.i.artifact_bucket_name}/{c.ARTIFACT_PREFIX}/", ex.EXECUTION_ID, f"/{step}/{leaf}"])

    def script(self, step: str, module: str, args: list[str], inputs: list[st.ProcessingInput],
               outputs: list[st.ProcessingOutput], image: str, **kwargs) -> dict:
        """A processing step running ``pipeline_code.<module> --spec ... ARGS`` from the ``CodeUrl`` zip, after
        checking it against ``CodeSha256`` (see ``code_bootstrap``)."""
        shared = [st.ProcessingInput("code", ex.param(c.PARAM_CODE_URL), CODE_DIR),
                  st.ProcessingInput("spec", self.i.spec_uri, SPEC_DIR)]
        arguments = code_bootstrap.container_arguments(
            CODE_DIR, ex.param(c.PARAM_CODE_SHA256), c.STEP_MODULES[module],
            ["--spec", f"{SPEC_DIR}/{self.i.spec_file_name}", *args])
        return st.processing_step(
            step, job_name_prefix=self.names.processing(step), image_uri=image,
            entrypoint=code_bootstrap.ENTRYPOINT, arguments=arguments,
            resources=self.processing, inputs=shared + inputs, outputs=outputs,
            environment={"PYTHONUNBUFFERED": "1"}, **kwargs)

    def validate(self) -> dict:
        return self.script(
            "Validate", "validate",
            ["--input", f"{IN}/data", "--output", f"{OUT}/validation"],
            [st.ProcessingInput("data", ex.param(c.PARAM_INPUT_DATA), f"{IN}/data")],
            [st.ProcessingOutput("validation", f"{OUT}/validation", self.step_uri("Validate", "validation"))],
            self.i.processing_image,
            property_files=[st.PropertyFile("DataVersion", "validation", c.DATA_VERSION_FILE)])

    def preprocess(self) -> dict:
        outputs = [st.ProcessingOutput(name, f"{OUT}/{name}", self.step_uri("Preprocess", name))
                   for name in ("train", "validation", "test", "encoder", "baseline")]
        return self.script(
            "Preprocess", "preprocess", ["--input", f"{IN}/data", "--output", OUT],
            [st.ProcessingInput("data", ex.param(c.PARAM_INPUT_DATA), f"{IN}/data")], outputs,
            self.i.processing_image, depends_on=["Validate"])

    def train(self) -> dict:
        training = self.i.model.training
        hyperparameters = dict(self.i.job_spec["hyperparameters"])
        channels = [st.csv_channel(n, ex.processing_output_uri("Preprocess", n)) for n in ("train", "validation")]
        output_uri = self.step_uri(self.train_step, "model")
        if not self.tuned:
            return st.training_step(
                "Train", job_name_prefix=self.names.training, image_uri=self.i.training_image,
                hyperparameters=hyperparameters, channels=channels, output_uri=output_uri, resources=self.training)
        tuning = training.tuning
        ranges = [st.ParameterRange(name, r.type, r.min, r.max, r.scaling) for name, r in sorted(tuning.ranges.items())]
        static = {k: v for k, v in hyperparameters.items() if k not in tuning.ranges}
        return st.tuning_step(
            "Tune", job_name_prefix=self.names.tuning, image_uri=self.i.training_image,
            static_hyperparameters=static, ranges=ranges, objective_metric=tuning.objective_metric,
            objective_type=OBJECTIVE_TYPE[tuning.objective_metric], max_jobs=tuning.max_jobs,
            max_parallel_jobs=tuning.max_parallel_jobs, channels=channels, output_uri=output_uri,
            resources=self.training)

    def model_data_url(self) -> dict:
        if not self.tuned:
            return ex.step_property("Train", "ModelArtifacts.S3ModelArtifacts")
        best = ex.step_property("Tune", "BestTrainingJob.TrainingJobName")
        return ex.join([self.step_uri("Tune", "model/"), best, "/output/model.tar.gz"])

    def training_job_name(self) -> dict:
        if self.tuned:
            return ex.step_property("Tune", "BestTrainingJob.TrainingJobName")
        return ex.step_property("Train", "TrainingJobName")

    @property
    def packages_model(self) -> bool:
        """Built-in XGBoost models are served by the framework container in script mode: Evaluate packages the
        booster with encoder.json and pipeline_code (``pipeline_code.endpoint.packaging``). Custom images serve their
        own training output."""
        return self.i.model.training.algorithm == "xgboost"

    def evaluate(self) -> dict:
        args = ["--model", f"{IN}/model", "--test", f"{IN}/test", "--baseline", f"{IN}/baseline",
                "--output", f"{OUT}/evaluation", "--model-package-group", self.i.model_package_group_name]
        inputs = [st.ProcessingInput("model", self.model_data_url(), f"{IN}/model"),
                  st.ProcessingInput("test", ex.processing_output_uri("Preprocess", "test"), f"{IN}/test"),
                  st.ProcessingInput("baseline", ex.processing_output_uri("Preprocess", "baseline"), f"{IN}/baseline")]
        outputs = [st.ProcessingOutput("evaluation", f"{OUT}/evaluation", self.step_uri("Evaluate", "evaluation"))]
        if self.packages_model:
            args += ["--encoder", f"{IN}/encoder", "--package", f"{OUT}/served"]
            inputs.append(st.ProcessingInput("encoder", ex.processing_output_uri("Preprocess", "encoder"),
                                             f"{IN}/encoder"))
            outputs.append(st.ProcessingOutput("served", f"{OUT}/served", self.step_uri("Evaluate", "served")))
        return self.script(
            "Evaluate", "evaluate", args, inputs, outputs,
            self.i.evaluation_image,
            network_isolation=False,  # reads the champion's metrics from the Model Registry through the API
            property_files=[st.PropertyFile("Evaluation", "evaluation", c.EVALUATION_FILE)],
            depends_on=[self.train_step])

    def served_container(self) -> dict:
        """The model package's container: the served package in script mode, or a custom image's own output."""
        if not self.packages_model:
            return {"Image": self.i.serving_image, "ModelDataUrl": self.model_data_url()}
        return {"Image": self.i.serving_image,
                "ModelDataUrl": ex.join([ex.processing_output_uri("Evaluate", "served"), f"/{MODEL_ARCHIVE}"]),
                "Environment": serving_environment()}

    def evaluation_file_uri(self, file_name: str) -> dict:
        return ex.join([ex.processing_output_uri("Evaluate", "evaluation"), f"/{file_name}"])

    def register(self) -> dict:
        i, model = self.i, self.i.model
        metadata = {
            c.META_GIT_COMMIT: ex.param(c.PARAM_GIT_COMMIT),
            c.META_CONFIG_HASH: i.config_hash,
            c.META_DATA_VERSION: ex.json_get("Validate", "DataVersion", "data_version"),
            c.META_PIPELINE_EXECUTION: ex.EXECUTION_ARN,
            c.META_TRAINING_JOB: self.training_job_name(),
            c.META_IMAGE_URI: i.training_image,
            c.META_HYPERPARAMETERS_HASH: hyperparameters_sha256(model, i.job_spec["hyperparameters"]),
            c.META_BASELINE_URI: self.evaluation_file_uri(c.BASELINE_FILE),
            c.META_CODE_URL: ex.param(c.PARAM_CODE_URL),
            c.META_CODE_SHA256: ex.param(c.PARAM_CODE_SHA256),
            c.META_STEP_IMAGE: i.step_image.version,
            c.META_STEP_LIBRARIES: i.step_image.summary(),
            c.META_MODEL_SHA256: ex.json_get("Evaluate", "Evaluation", c.MODEL_SHA256_KEY),
        }
        deployment = model.deployment
        instance_types = {"SupportedRealtimeInferenceInstanceTypes": [deployment.instance_type]}
        if deployment.batch:
            instance_types = {"SupportedTransformInstanceTypes": [deployment.batch.instance_type]}
        content_types = ["text/csv", "application/json"] if self.packages_model else ["text/csv"]
        arguments = {
            "ModelPackageGroupName": i.model_package_group_name,
            "ModelPackageDescription": f"{model.name} built by pipeline {c.build_pipeline_name(model.name)}",
            "InferenceSpecification": {
                "Containers": [self.served_container()],
                "SupportedContentTypes": content_types, "SupportedResponseMIMETypes": content_types, **instance_types},
            "ModelApprovalStatus": ex.param(c.PARAM_APPROVAL_STATUS),
            "ModelMetrics": {"ModelQuality": {"Statistics": {
                "ContentType": "application/json", "S3Uri": self.evaluation_file_uri(c.EVALUATION_FILE)}}},
            "DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {
                "ContentType": "application/json", "S3Uri": self.evaluation_file_uri(c.BASELINE_FILE)}}},
            "CustomerMetadataProperties": metadata,
            "ModelCard": model_card(model, model_data_url=self.model_data_url(), training_image=i.training_image,
                                    config_hash=i.config_hash, hyperparameters=i.job_spec["hyperparameters"]),
            "ModelLifeCycle": {"Stage": c.LIFECYCLE_REGISTERED[0], "StageStatus": c.LIFECYCLE_REGISTERED[1],
                               "StageDescription": f"registered by {c.build_pipeline_name(model.name)} after "
                                                   "its gates passed"},
        }
        return st.register_model_step("Register", arguments=arguments)

    def gates(self) -> list[tuple[str, dict, str]]:
        """(step suffix, condition, failure message parts) for every configured gate, in order."""
        gate = self.i.model.quality_gate
        result = []
        for metric in (m for m in QUALITY_METRICS if m in gate.min_metrics):
            value = ex.json_get("Evaluate", "Evaluation", c.quality_metric_path(metric))
            floor = ex.param(c.min_metric_parameter(metric))
            result.append((c.QUALITY_METRIC_NAMES[metric], st.condition("GreaterThanOrEqualTo", value, floor),
                           [f"Quality gate {metric} failed: {metric}", value, "is below the floor", floor]))
        if gate.bias:
            value = ex.json_get("Evaluate", "Evaluation", c.bias_gate_path(gate.bias.metric))
            limit = ex.param(c.PARAM_BIAS_LIMIT)
            if gate.bias.metric == "disparate_impact":
                check, words = st.condition("GreaterThanOrEqualTo", value, limit), "is below the limit"
            else:
                check, words = st.condition("LessThanOrEqualTo", value, limit), "exceeds the limit"
            result.append(("Bias", check, [f"Bias gate {gate.bias.metric} failed: worst value", value, words, limit]))
        if gate.must_beat_champion:
            value = ex.json_get("Evaluate", "Evaluation", c.CHAMPION_PASSED_PATH)
            result.append(("Champion", st.condition("GreaterThanOrEqualTo", value, 1.0),
                           ["Champion gate failed: the challenger is worse than the approved champion;",
                            f"{c.CHAMPION_PASSED_PATH} =", value, "against the threshold 1.0"]))
        return result

    def gate_chain(self) -> dict:
        """One ConditionStep per gate, each passing on to the next; the last one registers the model."""
        passed = [self.register()]
        for suffix, check, message in reversed(self.gates()):
            failed = st.fail_step(f"Fail{suffix}", message=ex.join(message, " "))
            passed = [st.condition_step(f"Gate{suffix}", conditions=[check], if_steps=passed, else_steps=[failed])]
        return passed[0]


def build_definition(inputs: BuildInputs) -> dict:
    """The pipeline definition (schema version 2020-12-01) of one model's build pipeline."""
    if not inputs.model.quality_gate.min_metrics:
        raise ValueError(f"model {inputs.model.name}: quality_gate.min_metrics needs at least one metric")
    builder = _Builder(inputs)
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": parameters(inputs),
        "Steps": [builder.validate(), builder.preprocess(), builder.train(), builder.evaluate(),
                  builder.gate_chain()],
    }
