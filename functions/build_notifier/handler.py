"""Tell people what the build did: failed executions (with the failed step and its reason) go to the model's
topic; a model package waiting for approval goes to the steward with its key metrics and a console link.

Environment: TOPIC_ARN (required), the model's notification topic.
"""
from __future__ import annotations

import json
import math
import os
from urllib.parse import quote, urlparse

import boto3
from aws_lambda_powertools import Logger

import mlops_contracts as contracts
from tooling_code.pipeline_runner import describe_failure, failed_steps

MAX_SUBJECT = 100  # SNS limit
logger = Logger()


def _subject(text: str) -> str:
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 3] + "..."  # SNS subjects are ASCII


def failure_message(detail: dict, steps) -> tuple[str, str]:
    """(subject, body) for a failed or stopped execution."""
    arn = detail.get("pipelineExecutionArn", "<unknown execution>")
    status = detail.get("currentPipelineExecutionStatus", "Failed")
    pipeline = detail.get("pipelineArn", "").rsplit("/", 1)[-1] or "pipeline"
    steps = list(steps)
    first = f": step {steps[0].name}" if steps else ""
    body = describe_failure(arn, status, detail.get("failureReason"), steps)
    return _subject(f"{pipeline} {status}{first}"), body


def flatten_metrics(report: dict) -> dict[str, float]:
    """Headline numbers of an evaluation report (``pipeline_code/training/evaluate.py``): the values of SageMaker's
    ``binary_classification_metrics`` (``{"auc": {"value": 0.95}}``); for other reports, top-level numbers."""
    section = report.get("binary_classification_metrics")
    if isinstance(section, dict):
        return {name: float(entry["value"]) for name, entry in section.items()
                if isinstance(entry, dict) and _is_number(entry.get("value"))}
    return {name: float(value) for name, value in report.items() if _is_number(value)}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def console_link(region: str, package_arn: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/model-packages/{quote(package_arn, safe='')}")


def approval_message(detail: dict, metrics: dict[str, float] | None, region: str) -> tuple[str, str]:
    """(subject, body) asking the steward to review a package pending manual approval."""
    group = detail.get("ModelPackageGroupName", "?")
    version = detail.get("ModelPackageVersion", "?")
    arn = detail.get("ModelPackageArn", "")
    lines = [f"Model package {group} version {version} is waiting for your approval.", f"Package: {arn}"]
    if metrics:
        lines.append("Key metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    else:
        lines.append("Key metrics: unavailable (see the package's evaluation report).")
    for key, value in sorted((detail.get("CustomerMetadataProperties") or {}).items()):
        lines.append(f"{key}: {value}")
    lines.append(f"Review: {console_link(region, arn)}")
    card_status = (detail.get("ModelCard") or {}).get("ModelCardStatus")
    lines.append(f"Model card{f' ({card_status})' if card_status else ''}: {console_link(region, arn)} "
                 "(Model card tab: intended use, data version, evaluation and bias results, gate thresholds, limits)")
    return _subject(f"{group} v{version} pending approval"), "\n".join(lines)


def read_metrics(s3, detail: dict) -> dict[str, float] | None:
    """The package's model-quality statistics from S3, or None (logged) when missing or unreadable."""
    uri = (((detail.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    if not uri:
        return None
    parsed = urlparse(uri)
    try:
        body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
        return flatten_metrics(json.loads(body))
    except Exception as error:  # noqa: BLE001 - a missing report must not stop the notification
        logger.warning("could not read model quality statistics", extra={"uri": uri, "error": str(error)})
        return None


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    detail_type, detail = event.get("detail-type"), event.get("detail") or {}
    region = event.get("region") or os.environ.get("AWS_REGION", "us-east-1")
    if detail_type == contracts.DETAIL_PIPELINE_EXECUTION:
        steps = failed_steps(boto3.client("sagemaker"), detail["pipelineExecutionArn"])
        subject, body = failure_message(detail, steps)
    elif detail_type == contracts.DETAIL_PACKAGE_STATE:
        subject, body = approval_message(detail, read_metrics(boto3.client("s3"), detail), region)
    else:
        logger.warning("ignored event", extra={"detail_type": detail_type})
        return {"published": False}
    boto3.client("sns").publish(TopicArn=os.environ[contracts.ENV_TOPIC_ARN], Subject=subject, Message=body)
    return {"published": True, "subject": subject}
