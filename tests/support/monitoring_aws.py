"""moto fixtures for the monitoring Lambdas: a served endpoint whose model package carries a drift baseline."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import boto3
from moto import mock_aws

import mlops_contracts as contracts
from tests.support.lambda_handlers import load_handler

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BUCKET = "fraud-data"
ARTIFACTS = "fraud-artifacts"
MODEL = "fraud-detection"
ENDPOINT = "fraud-detection-prod"
EVENT_TIME = "2026-11-01T13:15:00Z"  # the window is 12:00-13:00 (settled for 10 minutes)
WINDOW = "2026/11/01/12"


# The drift detector's configuration as the monitoring template gives it for this endpoint.
DRIFT_ENVIRONMENT = {contracts.ENV_MODEL_NAME: MODEL, contracts.ENV_ENDPOINT_NAME: ENDPOINT,
                     contracts.ENV_DATA_BUCKET: BUCKET, contracts.ENV_DRIFT_METRIC: "psi",
                     contracts.ENV_DRIFT_THRESHOLD: "0.2", contracts.ENV_MIN_SAMPLES: "500",
                     contracts.ENV_CATEGORICAL_INPUT: contracts.CATEGORICAL_NAMES}
RETRAIN_PIPELINE = "fraud-detection-build"
RETRAIN_TABLE = "retrain-idempotency"


def retrain_environment(alarm_triggers: dict[str, str], cooldown_hours: int = 24) -> dict[str, str]:
    """The retrain trigger's configuration as its template gives it (``alarm_triggers``: alarm name -> trigger)."""
    return {contracts.ENV_MODEL_NAME: MODEL, contracts.ENV_PIPELINE_NAME: RETRAIN_PIPELINE,
            contracts.ENV_COOLDOWN_HOURS: str(cooldown_hours),
            contracts.ENV_IDEMPOTENCY_TABLE: RETRAIN_TABLE, contracts.ENV_ALARM_TRIGGERS: json.dumps(alarm_triggers)}


@contextmanager
def retrain_trigger(alarm_triggers: dict[str, str], cooldown_hours: int = 24) -> Iterator[ModuleType]:
    """The retrain trigger on moto, with its idempotency table and the build pipeline it starts."""
    environment = retrain_environment(alarm_triggers, cooldown_hours)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=RETRAIN_TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        boto3.client("sagemaker").create_pipeline(
            PipelineName=RETRAIN_PIPELINE, RoleArn=ROLE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}))
        with load_handler("retrain_trigger", environment) as trigger:  # imported after the environment is set
            yield trigger


def serve(baseline_json: str | bytes | None, variants=("primary",)) -> None:
    """Buckets, a model package per variant (with the baseline, if given) and the endpoint serving them."""
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    for bucket in (BUCKET, ARTIFACTS):
        s3.create_bucket(Bucket=bucket)
    baselines = {}
    if baseline_json is not None:
        s3.put_object(Bucket=ARTIFACTS, Key=f"{contracts.ARTIFACT_PREFIX}/exec-1/preprocess/baseline/baseline.json", Body=baseline_json)
        baselines = {"DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {
            "ContentType": "application/json",
            "S3Uri": f"s3://{ARTIFACTS}/pipelines/exec-1/preprocess/baseline/baseline.json"}}}}
    sm.create_model_package_group(ModelPackageGroupName=MODEL)
    config_variants = []
    for variant in variants:
        package = sm.create_model_package(
            ModelPackageGroupName=MODEL, **baselines,
            InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                                    "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
        sm.create_model(ModelName=f"m-{variant}", PrimaryContainer={"ModelPackageName": package},
                        ExecutionRoleArn=ROLE)
        config_variants.append({"VariantName": variant, "ModelName": f"m-{variant}", "InitialInstanceCount": 1,
                                "InstanceType": "ml.m5.large"})
    sm.create_endpoint_config(EndpointConfigName="config-1", ProductionVariants=config_variants)
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-1")


def put_capture(text: str, variant: str = "primary", name: str = "part-0.jsonl", window: str = WINDOW) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"{contracts.CAPTURE_PREFIX}/{ENDPOINT}/{variant}/{window}/{name}",
                                  Body=text.encode())


def emf(stdout: str) -> list[dict]:
    """The EMF documents Powertools printed: one dict per document, metric values by name plus dimensions."""
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(documents: list[dict], name: str, **dimensions) -> list:
    values = []
    for doc in documents:
        names = {m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        dimension_names = {k for d in doc["_aws"]["CloudWatchMetrics"] for s in d["Dimensions"] for k in s}
        if name in names and dimension_names == set(dimensions) and all(doc.get(k) == v for k, v in dimensions.items()):
            value = doc[name]
            values.append(value[0] if isinstance(value, list) and len(value) == 1 else value)
    return values
