"""Typed builders for the pipeline-definition steps this platform uses. Each returns the step as plain data.

``Arguments`` of Processing, Training, Tuning and RegisterModel steps are the request shapes of
CreateProcessingJob, CreateTrainingJob, CreateHyperParameterTuningJob and CreateModelPackage; tests validate
them against botocore's SageMaker service model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Value = Any  # a literal, a CDK token or a pipeline expression


@dataclass(frozen=True)
class ProcessingInput:
    """An S3 object or prefix copied to ``local_path`` before the job starts."""

    name: str
    s3_uri: Value
    local_path: str

    def to_request(self) -> dict:
        return {"InputName": self.name, "AppManaged": False, "S3Input": {
            "S3Uri": self.s3_uri, "LocalPath": self.local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


@dataclass(frozen=True)
class ProcessingOutput:
    """A local directory uploaded to ``s3_uri`` at the end of the job."""

    name: str
    local_path: str
    s3_uri: Value

    def to_request(self) -> dict:
        return {"OutputName": self.name, "AppManaged": False, "S3Output": {
            "S3Uri": self.s3_uri, "LocalPath": self.local_path, "S3UploadMode": "EndOfJob"}}


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file in a processing output whose values later steps read with ``Std:JsonGet``."""

    name: str
    output_name: str
    file_path: str

    def to_request(self) -> dict:
        return {"PropertyFileName": self.name, "OutputName": self.output_name, "FilePath": self.file_path}


@dataclass(frozen=True)
class JobResources:
    """Instances, volume, encryption, network and time limit shared by every job of the pipeline."""

    role_arn: Value
    kms_key_arn: Value
    instance_type: str
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    encrypt_volume: bool = True  # False on NVMe instance-store types, where SageMaker rejects a volume key
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    def vpc_config(self) -> dict:
        if not self.subnet_ids:
            return {}
        return {"VpcConfig": {"Subnets": list(self.subnet_ids), "SecurityGroupIds": list(self.security_group_ids)}}

    def volume_key(self) -> dict:
        return {"VolumeKmsKeyId": self.kms_key_arn} if self.encrypt_volume else {}


def _step(name: str, type_: str, arguments: dict, depends_on: list[str] | None, extra: dict | None = None) -> dict:
    step = {"Name": name, "Type": type_, "Arguments": arguments, **(extra or {})}
    if depends_on:
        step["DependsOn"] = list(depends_on)
    return step


def processing_step(
    name: str,
    *,
    job_name_prefix: str,
    image_uri: Value,
    entrypoint: list[str],
    resources: JobResources,
    arguments: list[Value] | None = None,
    inputs: list[ProcessingInput],
    outputs: list[ProcessingOutput],
    environment: dict[str, Value] | None = None,
    network_isolation: bool = True,
    property_files: list[PropertyFile] | None = None,
    depends_on: list[str] | None = None,
) -> dict:
    """A Processing step (CreateProcessingJob); the job name is a prefix that Pipelines completes."""
    arguments = {
        "ProcessingJobName": job_name_prefix,
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": resources.instance_count, "InstanceType": resources.instance_type,
            "VolumeSizeInGB": resources.volume_size_gb, **resources.volume_key()}},
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": list(entrypoint),
                             **({"ContainerArguments": list(arguments)} if arguments else {})},
        "Environment": dict(environment or {}),
        "ProcessingInputs": [i.to_request() for i in inputs],
        "ProcessingOutputConfig": {"Outputs": [o.to_request() for o in outputs], "KmsKeyId": resources.kms_key_arn},
        "NetworkConfig": {"EnableNetworkIsolation": network_isolation,
                          "EnableInterContainerTrafficEncryption": True, **resources.vpc_config()},
        "StoppingCondition": {"MaxRuntimeInSeconds": resources.max_runtime_seconds},
        "RoleArn": resources.role_arn,
    }
    extra = {"PropertyFiles": [p.to_request() for p in property_files]} if property_files else None
    return _step(name, "Processing", arguments, depends_on, extra)


def csv_channel(name: str, s3_uri: Value) -> dict:
    """A File-mode text/csv training channel."""
    return {"ChannelName": name, "ContentType": "text/csv", "InputMode": "File", "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def _training_definition(image_uri: Value, channels: list[dict], output_uri: Value, resources: JobResources) -> dict:
    """The parts CreateTrainingJob and a tuning job's TrainingJobDefinition share."""
    return {
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output_uri, "KmsKeyId": resources.kms_key_arn},
        "ResourceConfig": {"InstanceType": resources.instance_type, "InstanceCount": resources.instance_count,
                           "VolumeSizeInGB": resources.volume_size_gb, **resources.volume_key()},
        "StoppingCondition": {"MaxRuntimeInSeconds": resources.max_runtime_seconds},
        "RoleArn": resources.role_arn,
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        **resources.vpc_config(),
    }


def training_step(
    name: str,
    *,
    job_name_prefix: str,
    image_uri: Value,
    hyperparameters: dict[str, str],
    channels: list[dict],
    output_uri: Value,
    resources: JobResources,
    depends_on: list[str] | None = None,
) -> dict:
    """A Training step (CreateTrainingJob), network-isolated with inter-container encryption."""
    arguments = {"TrainingJobName": job_name_prefix, "HyperParameters": dict(hyperparameters),
                 **_training_definition(image_uri, channels, output_uri, resources)}
    return _step(name, "Training", arguments, depends_on)


@dataclass(frozen=True)
class ParameterRange:
    """One tuned hyperparameter."""

    name: str
    kind: Literal["continuous", "integer"]
    min_value: float
    max_value: float
    scaling: str = "Auto"

    def to_request(self) -> dict:
        fmt = (lambda v: str(int(v))) if self.kind == "integer" else (lambda v: repr(float(v)))
        return {"Name": self.name, "MinValue": fmt(self.min_value), "MaxValue": fmt(self.max_value),
                "ScalingType": self.scaling}


def tuning_step(
    name: str,
    *,
    job_name_prefix: str,
    image_uri: Value,
    static_hyperparameters: dict[str, str],
    ranges: list[ParameterRange],
    objective_metric: str,
    objective_type: Literal["Maximize", "Minimize"],
    max_jobs: int,
    max_parallel_jobs: int,
    channels: list[dict],
    output_uri: Value,
    resources: JobResources,
    depends_on: list[str] | None = None,
) -> dict:
    """A Tuning step (CreateHyperParameterTuningJob) with Bayesian search over ``ranges``."""
    by_kind = {"continuous": "ContinuousParameterRanges", "integer": "IntegerParameterRanges"}
    parameter_ranges = {key: [r.to_request() for r in ranges if by_kind[r.kind] == key] for key in by_kind.values()}
    parameter_ranges = {key: value for key, value in parameter_ranges.items() if value}
    definition = _training_definition(image_uri, channels, output_uri, resources)
    definition["StaticHyperParameters"] = dict(static_hyperparameters)
    arguments = {
        "HyperParameterTuningJobName": job_name_prefix,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": objective_type, "MetricName": objective_metric},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": max_parallel_jobs},
            "ParameterRanges": parameter_ranges,
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": definition,
    }
    return _step(name, "Tuning", arguments, depends_on)


def condition_step(name: str, *, conditions: list[dict], if_steps: list[dict], else_steps: list[dict]) -> dict:
    """A Condition step: ``if_steps`` run when every condition holds, ``else_steps`` otherwise."""
    return _step(name, "Condition", {"Conditions": conditions, "IfSteps": if_steps, "ElseSteps": else_steps}, None)


def condition(kind: Literal["GreaterThanOrEqualTo", "LessThanOrEqualTo"], left: Value, right: Value) -> dict:
    return {"Type": kind, "LeftValue": left, "RightValue": right}


def fail_step(name: str, *, message: Value) -> dict:
    """A Fail step: the execution ends as Failed with ``message``."""
    return _step(name, "Fail", {"ErrorMessage": message}, None)


def register_model_step(name: str, *, arguments: dict, depends_on: list[str] | None = None) -> dict:
    """A RegisterModel step; ``arguments`` is a CreateModelPackage request."""
    return _step(name, "RegisterModel", arguments, depends_on)
