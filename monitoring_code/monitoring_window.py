"""Where a monitor's window of data lives, and how the serving model's baseline is found. Used by the Lambdas.

The window is the previous full hour: capture files under ``capture/<endpoint>/<variant>/yyyy/mm/dd/hh/``.
The baseline is the one registered with the model actually serving each variant: DescribeEndpoint → endpoint
config → model → model package → ``DriftCheckBaselines.ModelDataQuality.Statistics`` (falling back to the
package's ``mlops:baseline_uri`` metadata).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import mlops_contracts as contracts
from pipeline_code.training.drift_stats import Baseline, BaselineError

MAX_FILE_BYTES = 256 * 1024 * 1024  # a capture file larger than this is skipped, not loaded into memory
# Data capture flushes its buffer to the hour partition a few minutes late: an hour is checked only once it has
# been over for this long. Hourly runs fire at a fixed minute, so each run still gets its own hour.
SETTLE_MINUTES = 10


def window_hour(event_time: str | None, now: datetime | None = None) -> datetime:
    """The last full hour that ended at least SETTLE_MINUTES before the event's time (ISO 8601), in UTC."""
    moment = now or datetime.now(UTC)
    if event_time:
        moment = datetime.fromisoformat(event_time)  # Python 3.11+ reads the trailing "Z"
    settled = moment.astimezone(UTC) - timedelta(minutes=SETTLE_MINUTES)
    return settled.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def hour_path(hour: datetime) -> str:
    return hour.strftime("%Y/%m/%d/%H")


def report_key(endpoint: str, hour: datetime, name: str) -> str:
    return f"{contracts.MONITORING_REPORTS_PREFIX}/{endpoint}/{hour_path(hour)}/{name}"


def window_objects(s3, bucket: str, prefix: str) -> list[dict]:
    """The objects (Key, Size) under a prefix."""
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += page.get("Contents", [])
    return objects


def capture_prefix(endpoint: str, variant: str, hour: datetime) -> str:
    return f"{contracts.CAPTURE_PREFIX}/{endpoint}/{variant}/{hour_path(hour)}/"


def serving_packages(sagemaker, endpoint: str) -> dict[str, str]:
    """Model package ARN serving each variant (production and shadow) of an endpoint."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    packages = {}
    for variant in config.get("ProductionVariants", []) + config.get("ShadowProductionVariants", []):
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        containers = [model.get("PrimaryContainer")] if model.get("PrimaryContainer") else model.get("Containers", [])
        package = next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), None)
        if package is None:
            raise BaselineError(f"model {variant['ModelName']!r} of variant {variant['VariantName']!r} was not "
                                "created from a model package, so it has no registered baseline")
        packages[variant["VariantName"]] = package
    return packages


def baseline_uri(sagemaker, package_arn: str) -> str:
    """The drift baseline S3 URI registered on a model package."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    stats = (package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics", {}))
    uri = stats.get("S3Uri") or package.get("CustomerMetadataProperties", {}).get(contracts.META_BASELINE_URI)
    if not uri:
        raise BaselineError(f"model package {package_arn} has no DriftCheckBaselines.ModelDataQuality.Statistics "
                            f"and no {contracts.META_BASELINE_URI} metadata")
    return uri


def load_baseline(s3, uri: str) -> Baseline:
    """Read and validate a baseline JSON from S3; any failure is a BaselineError naming the URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise BaselineError(f"baseline URI {uri!r} is not s3://bucket/key")
    try:
        body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except Exception as exc:  # botocore ClientError and friends: missing object, access denied
        raise BaselineError(f"cannot read baseline {uri}: {exc}") from exc
    try:
        return Baseline.from_json(body)
    except BaselineError as exc:
        raise BaselineError(f"{uri}: {exc}") from exc
