"""moto fixtures for the monitoring Lambdas: a served endpoint whose model package carries a drift baseline."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import boto3

import mlops_contracts as contracts

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "functions"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BUCKET = "fraud-data"
ARTIFACTS = "fraud-artifacts"
MODEL = "fraud-detection"
ENDPOINT = "fraud-detection-prod"
EVENT_TIME = "2026-11-01T13:15:00Z"  # the window is 12:00-13:00 (settled for 10 minutes)
WINDOW = "2026/11/01/12"


class Context:
    function_name = "monitor"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:monitor"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def load_handler(function: str):
    """Import functions/<function>/handler.py by path (``lambda`` is a keyword) as module ``lambda.<function>.handler``,
    the name mutation testing (mutmut) gives that file."""
    spec = importlib.util.spec_from_file_location(f"lambda.{function}.handler", LAMBDA_DIR / function / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
