"""Start a model's SageMaker build pipeline, wait for it, and explain a failure.

Shared by the ``mlops pipeline start`` command (CodeBuild run stage), the new-data trigger Lambda and the
failure notifier. Every function takes its boto3 client, so tests drive them with Stubber or moto.
"""
from __future__ import annotations

import base64
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mlops_contracts import (
    CODE_ZIP_NAME,
    PARAM_CODE_SHA256,
    PARAM_CODE_URL,
    PARAM_GIT_COMMIT,
    PARAM_INPUT_DATA,
    PARAM_TRIGGER,
    TRIGGERS,
    code_object_key,
)
from pipeline_code.code_bundle import build_code_zip

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
_DISPLAY_NAME_CHARS = re.compile(r"[^a-zA-Z0-9-]+")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
MAX_PARAMETER_VALUE = 1024
_KEY_SAFE_COMMIT = re.compile(r"^[A-Za-z0-9._-]{1,128}$")  # a git SHA or an S3 source version ID


class PipelineExecutionFailed(RuntimeError):
    """The execution ended in Failed or Stopped; ``str(error)`` names the failed steps and their reasons."""

    def __init__(self, execution_arn: str, status: str, summary: str):
        self.execution_arn = execution_arn
        self.status = status
        super().__init__(summary)


@dataclass(frozen=True)
class FailedStep:
    name: str
    status: str
    reason: str


@dataclass(frozen=True)
class UploadedCode:
    """Where a commit's code zip went and its SHA-256: the ``CodeUrl`` / ``CodeSha256`` of the execution."""

    url: str
    sha256: str

    def parameters(self) -> dict[str, str]:
        return {PARAM_CODE_URL: self.url, PARAM_CODE_SHA256: self.sha256}


def upload_code(s3, package_dir: Path | str, *, bucket: str, model: str, git_commit: str,
                kms_key_id: str | None = None) -> UploadedCode:
    """Zip ``package_dir`` reproducibly and put it at ``code/<model>/<commit>/pipeline_code.zip`` in ``bucket``.

    S3 checks the upload against its SHA-256; the hash is also stored as object metadata (``sha256``) for
    auditors. Encrypted with ``kms_key_id`` when given, else with the bucket's default key. The same commit
    always gives the same bytes, so a re-run overwrites the object with itself.
    """
    if not _KEY_SAFE_COMMIT.match(git_commit or ""):
        raise ValueError(f"git commit {git_commit!r} must be 1-128 letters, digits, '.', '_' or '-' "
                         "(it names the code zip's S3 prefix)")
    key = code_object_key(model, git_commit)
    with tempfile.TemporaryDirectory() as scratch:
        built = build_code_zip(package_dir, Path(scratch) / CODE_ZIP_NAME)
        body = built.path.read_bytes()
    encryption = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {})}
    s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=base64.b64encode(bytes.fromhex(built.sha256))
                  .decode(), Metadata={"sha256": built.sha256, "git-commit": git_commit}, **encryption)
    return UploadedCode(f"s3://{bucket}/{key}", built.sha256)


def execution_parameters(
    *,
    trigger: str,
    git_commit: str | None = None,
    input_data_url: str | None = None,
    code: UploadedCode | None = None,
    extra: dict[str, str] | None = None,
) -> list[dict[str, str]]:
    """The ``PipelineParameters`` list for StartPipelineExecution; raises ValueError on a bad name or value."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger {trigger!r} is not one of {list(TRIGGERS)}")
    values = {PARAM_TRIGGER: trigger}
    if git_commit:
        values[PARAM_GIT_COMMIT] = git_commit
    if code:
        values.update(code.parameters())
    if input_data_url:
        if not input_data_url.startswith("s3://"):
            raise ValueError(f"input data URL {input_data_url!r} must be an s3:// URI")
        values[PARAM_INPUT_DATA] = input_data_url
    for name, value in (extra or {}).items():
        if name in values:
            raise ValueError(f"parameter {name!r} is set twice; {sorted(values)} are set by their own options")
        values[name] = value
    for name, value in values.items():
        if not _PARAMETER_NAME.match(name):
            raise ValueError(f"parameter name {name!r} must be 1-256 letters, digits, '-' or '_'")
        if not 0 < len(str(value)) <= MAX_PARAMETER_VALUE:
            raise ValueError(f"parameter {name!r} value must be 1-{MAX_PARAMETER_VALUE} characters")
    return [{"Name": name, "Value": str(value)} for name, value in values.items()]


def display_name(trigger: str, git_commit: str | None = None) -> str:
    """A readable execution display name, e.g. ``code-3f2c1ab``; at most 82 characters, SageMaker's limit."""
    parts = [trigger] + ([git_commit[:12]] if git_commit else [])
    name = _DISPLAY_NAME_CHARS.sub("-", "-".join(parts)).strip("-")
    return name[:82].rstrip("-") or "run"


def start_execution(
    client,
    pipeline_name: str,
    parameters: list[dict[str, str]],
    *,
    name: str | None = None,
    description: str | None = None,
    client_token: str | None = None,
) -> str:
    """Start one execution and return its ARN. ``client_token`` (32-128 chars) makes retries idempotent."""
    request = {"PipelineName": pipeline_name, "PipelineParameters": parameters}
    if name:
        request["PipelineExecutionDisplayName"] = name
    if description:
        request["PipelineExecutionDescription"] = description[:3072]
    if client_token:
        request["ClientRequestToken"] = client_token
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def wait_for_execution(
    client,
    execution_arn: str,
    *,
    poll_seconds: float = 30,
    timeout_seconds: float = 8 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> str:
    """Poll until the execution ends; return ``Succeeded`` or raise PipelineExecutionFailed / TimeoutError."""
    waited, last = 0.0, None
    while True:
        status = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)["PipelineExecutionStatus"]
        if status != last:
            log(f"{execution_arn}: {status}")
            last = status
        if status == "Succeeded":
            return status
        if status in TERMINAL_STATUSES:
            raise PipelineExecutionFailed(execution_arn, status, failure_summary(client, execution_arn, status))
        if waited >= timeout_seconds:
            raise TimeoutError(f"{execution_arn} still {status} after {int(waited)} s; it keeps running in SageMaker")
        sleep(poll_seconds)
        waited += poll_seconds


def failed_steps(client, execution_arn: str) -> list[FailedStep]:
    """Steps that failed or stopped, in execution order, each with SageMaker's failure reason."""
    pages = client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    )
    return [
        FailedStep(step["StepName"], step["StepStatus"], step.get("FailureReason") or "no reason given")
        for page in pages
        for step in page.get("PipelineExecutionSteps", [])
        if step.get("StepStatus") in ("Failed", "Stopped")
    ]


def describe_failure(execution_arn: str, status: str, pipeline_reason: str | None,
                     steps: Iterable[FailedStep]) -> str:
    """One human-readable paragraph: what ended, which steps failed and why."""
    lines = [f"Pipeline execution {execution_arn} ended {status}."]
    if pipeline_reason:
        lines.append(f"Reason: {pipeline_reason}")
    for step in steps:
        lines.append(f"Step {step.name} {step.status}: {step.reason}")
    return "\n".join(lines)


def failure_summary(client, execution_arn: str, status: str = "Failed") -> str:
    """describe_failure with the reasons read from SageMaker."""
    reason = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn).get("FailureReason")
    return describe_failure(execution_arn, status, reason, failed_steps(client, execution_arn))
