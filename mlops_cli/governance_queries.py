"""Lineage, audit-trail and reproduce queries behind ``mlops lineage|which-model|reproduce``.

Every function takes its boto3 clients (and the audit table resource) as arguments, so tests pass moto-backed or
stubbed ones. Record keys and shapes are those of ``governance_code.audit_schema``.
"""
from __future__ import annotations

import io
import zipfile

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

import mlops_contracts as contracts
from governance_code import audit_schema as schema

# Execution parameters that the package's metadata records; reproduce passes them back, lineage cross-checks them.
RECORDED_PARAMETERS = {contracts.PARAM_GIT_COMMIT: contracts.META_GIT_COMMIT,
                       contracts.PARAM_CODE_URL: contracts.META_CODE_URL,
                       contracts.PARAM_CODE_SHA256: contracts.META_CODE_SHA256}


class GovernanceError(Exception):
    """A query that cannot be answered; the message says what is missing and where to look."""


def describe_package(sagemaker, package_arn: str) -> dict:
    try:
        return sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        raise GovernanceError(f"model package {package_arn!r} not found: {error.response['Error']['Message']}") \
            from None


def package_records(table, package_arn: str) -> list[dict]:
    """Every audit record of a package (registration, approvals, deployments), oldest first."""
    return _query_all(table, Key("pk").eq(schema.package_pk(package_arn)))


def execution_records(table, execution_arn: str) -> list[dict]:
    return _query_all(table, Key("pk").eq(schema.execution_pk(execution_arn)))


def _query_all(table, condition) -> list[dict]:
    items, kwargs = [], {"KeyConditionExpression": condition, "ScanIndexForward": True}
    while True:
        page = table.query(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def lineage(sagemaker, package_arn: str, table=None) -> dict:
    """Full lineage of a package: recorded metadata, training job, pipeline execution and audit history."""
    package = describe_package(sagemaker, package_arn)
    recorded = schema.lineage_metadata(package.get("CustomerMetadataProperties"))
    result = {
        "model_package_arn": package_arn,
        "model_package_group": package.get("ModelPackageGroupName", ""),
        "version": package.get("ModelPackageVersion"),
        "approval_status": package.get("ModelApprovalStatus", ""),
        "registered_by": schema.identity(package.get("CreatedBy")),
        "serving_images": serving_images(package),
        "recorded": recorded,
        "missing": [key for key in schema.LINEAGE_KEYS if key not in recorded],
        "training_job": training_job(sagemaker, recorded.get(contracts.META_TRAINING_JOB)),
        "pipeline_execution": _execution(sagemaker, recorded.get(contracts.META_PIPELINE_EXECUTION)),
        "lifecycle": {"stage": (package.get("ModelLifeCycle") or {}).get("Stage", ""),
                      "status": (package.get("ModelLifeCycle") or {}).get("StageStatus", ""),
                      "description": (package.get("ModelLifeCycle") or {}).get("StageDescription", "")},
        "model_card_status": (package.get("ModelCard") or {}).get("ModelCardStatus", ""),
        "audit": None,
    }
    result["problems"] = lineage_problems(result)
    if table is not None:
        records = package_records(table, package_arn)
        execution_arn = recorded.get(contracts.META_PIPELINE_EXECUTION)
        result["audit"] = {
            "approvals": [r for r in records if r["kind"] == schema.KIND_PACKAGE],
            "deployments": [r for r in records if r["kind"] == schema.KIND_DEPLOYMENT],
            "execution": execution_records(table, execution_arn) if execution_arn else [],
            "lifecycle": lifecycle_transitions(records),
        }
    return result


def lifecycle_transitions(records: list[dict]) -> list[dict]:
    """Each change of (Stage, StageStatus) in a package's audit records, oldest first, with who made it."""
    transitions, last = [], None
    for record in records:
        if record.get("kind") != schema.KIND_PACKAGE or not record.get("lifecycle_stage"):
            continue
        stage = (record["lifecycle_stage"], record.get("lifecycle_status", ""))
        if stage != last:
            transitions.append({"event_time": record["event_time"], "stage": stage[0], "status": stage[1],
                                "description": record.get("lifecycle_description", ""), "actor": record["actor"]})
            last = stage
    return transitions


def lineage_problems(result: dict) -> list[str]:
    """What makes a lineage incomplete or inconsistent: missing keys, unreachable or contradicting sources."""
    recorded = result["recorded"]
    problems = [f"missing {key}" for key in result["missing"]]
    job, execution = result["training_job"] or {}, result["pipeline_execution"] or {}
    for name, source in (("training job", job), ("pipeline execution", execution)):
        if "error" in source:
            problems.append(f"{name} {source.get('name') or source.get('arn')} cannot be described: {source['error']}")
    image = recorded.get(contracts.META_IMAGE_URI)
    if job.get("image") and image and job["image"] != image:
        problems.append(f"training job image {job['image']} differs from recorded {contracts.META_IMAGE_URI} {image}")
    ran = execution.get("parameters") or {}
    for parameter, key in RECORDED_PARAMETERS.items():
        if ran.get(parameter) and recorded.get(key) and ran[parameter] != recorded[key]:
            problems.append(f"pipeline execution ran {parameter}={ran[parameter]} but the package records "
                            f"{key}={recorded[key]}")
    return problems


def training_job(sagemaker, name: str | None) -> dict | None:
    """Image, hyperparameters and inputs of a training job; its error message if it cannot be described."""
    if not name:
        return None
    try:
        job = sagemaker.describe_training_job(TrainingJobName=name)
    except ClientError as error:
        return {"name": name, "error": error.response["Error"]["Message"]}
    return {
        "name": name,
        "image": (job.get("AlgorithmSpecification") or {}).get("TrainingImage", ""),
        "hyperparameters": dict(sorted((job.get("HyperParameters") or {}).items())),
        "inputs": {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                   for c in job.get("InputDataConfig", []) if "S3DataSource" in c.get("DataSource", {})},
        "model_artifacts": (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts", ""),
        "status": job.get("TrainingJobStatus", ""),
    }


def _execution(sagemaker, arn: str | None) -> dict | None:
    if not arn:
        return None
    try:
        execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        parameters = execution_parameters(sagemaker, arn)
    except ClientError as error:
        return {"arn": arn, "error": error.response["Error"]["Message"]}
    return {"arn": arn, "status": execution.get("PipelineExecutionStatus", ""),
            "started_by": schema.identity(execution.get("CreatedBy")), "parameters": parameters}


def execution_parameters(sagemaker, arn: str) -> dict[str, str]:
    pages = sagemaker.get_paginator("list_pipeline_parameters_for_execution").paginate(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for page in pages for p in page.get("PipelineParameters", [])}


def serving_record(table, endpoint: str, at: str) -> dict:
    """The endpoint's last audit record at or before ``at``: one Query, newest first, limit 1."""
    bound = schema.sort_key_upper_bound(at)
    page = table.query(KeyConditionExpression=Key("pk").eq(schema.endpoint_pk(endpoint)) & Key("sk").lte(bound),
                       ScanIndexForward=False, Limit=1)
    if page.get("Items"):
        return page["Items"][0]
    first = table.query(KeyConditionExpression=Key("pk").eq(schema.endpoint_pk(endpoint)), Limit=1)
    if first.get("Items"):
        raise GovernanceError(f"endpoint {endpoint!r} has no audit record at or before {schema.normalize_time(at)};"
                              f" its first record is at {first['Items'][0]['event_time']}")
    raise GovernanceError(f"endpoint {endpoint!r} has no audit records; check the endpoint name and --table")


def package_as_of(table, package_arn: str, at: str) -> tuple[list[dict], dict | None, dict]:
    """A package's audit state records up to ``at``, its approval as of then (None if not yet approved), and the
    lineage recorded with it ({} if none)."""
    bound = schema.sort_key_upper_bound(at)
    states = [r for r in package_records(table, package_arn) if r["sk"] <= bound and r["kind"] == schema.KIND_PACKAGE]
    approval = next((r for r in reversed(states) if r.get("approval_status") == "Approved"), None)
    recorded = next((r["lineage"] for r in reversed(states) if r.get("lineage")), {})
    return states, approval, recorded


def approval_summary(table, states: list[dict], approval: dict | None, recorded: dict) -> dict:
    """Who approved the package and when (as of its ``states``), its status then, and who started its training."""
    execution_arn = recorded.get(contracts.META_PIPELINE_EXECUTION, "")
    started = execution_records(table, execution_arn) if execution_arn else []
    return {
        "approved_by": approval["actor"] if approval else "",
        "approved_at": approval["event_time"] if approval else "",
        "approval_description": approval.get("approval_description", "") if approval else "",
        "status_then": states[-1]["approval_status"] if states else "unknown",
        "trained_by": started[0]["actor"] if started else "",
        "trigger": started[0].get("trigger", "") if started else "",
    }


def serving_images(package: dict) -> list[str]:
    """The images of a described package's inference containers."""
    return [c.get("Image", "") for c in (package.get("InferenceSpecification") or {}).get("Containers", [])]


def which_model(table, endpoint: str, at: str, sagemaker=None) -> dict:
    """Which packages served ``endpoint`` at ``at``, who approved each (as of then), and its data and code."""
    record = serving_record(table, endpoint, at)
    models = []
    for variant in record.get("serving", []):
        arn = variant.get("model_package_arn", "")
        states, approval, recorded = package_as_of(table, arn, at) if arn else ([], None, {})
        if not recorded and arn and sagemaker is not None:
            recorded = schema.lineage_metadata(describe_package(sagemaker, arn).get("CustomerMetadataProperties"))
        models.append({**variant, **approval_summary(table, states, approval, recorded), "lineage": recorded})
    return {"endpoint": endpoint, "at": schema.normalize_time(at), "record_time": record["event_time"],
            "state_captured_at": record.get("recorded_at", ""),
            "event": record.get("event_status", ""), "rolled_back": bool(record.get("rolled_back")),
            "endpoint_config": record.get("endpoint_config_name", ""), "models": models}


def reproduce_request(sagemaker, package_arn: str, table=None, input_data_url: str | None = None) -> dict:
    """The StartPipelineExecution request that rebuilds a package from its recorded inputs.

    Parameters are the original execution's (from SageMaker, else from the audit trail), with ``GitCommit``,
    ``CodeUrl`` and ``CodeSha256`` as recorded on the package (the steps refuse a zip with another hash),
    ``Trigger=reproduce`` and the new package left pending manual approval.
    """
    package = describe_package(sagemaker, package_arn)
    recorded = schema.lineage_metadata(package.get("CustomerMetadataProperties"))
    needed = [contracts.META_GIT_COMMIT, contracts.META_DATA_VERSION, contracts.META_PIPELINE_EXECUTION,
              contracts.META_CODE_URL, contracts.META_CODE_SHA256]
    missing = [key for key in needed if key not in recorded]
    if missing:
        raise GovernanceError(f"model package {package_arn} lacks lineage metadata {missing}; "
                              "it cannot be reproduced from its records")
    execution_arn = recorded[contracts.META_PIPELINE_EXECUTION]
    parameters = _original_parameters(sagemaker, execution_arn, table)
    if input_data_url:
        if not input_data_url.startswith("s3://"):
            raise GovernanceError(f"--input-data-url must be an s3:// URI; got {input_data_url!r}")
        parameters[contracts.PARAM_INPUT_DATA] = input_data_url
    if contracts.PARAM_INPUT_DATA not in parameters:
        raise GovernanceError(f"no recorded {contracts.PARAM_INPUT_DATA} for execution {execution_arn} "
                              "(neither in SageMaker nor in the audit trail)")
    parameters.update({parameter: recorded[key] for parameter, key in RECORDED_PARAMETERS.items()})
    parameters.update({contracts.PARAM_TRIGGER: "reproduce",
                       contracts.PARAM_APPROVAL_STATUS: "PendingManualApproval"})
    description = (f"reproduce {package_arn}; expect {contracts.META_DATA_VERSION}="
                   f"{recorded[contracts.META_DATA_VERSION]}")
    return {
        "PipelineName": contracts.build_pipeline_name(package["ModelPackageGroupName"]),
        "PipelineExecutionDisplayName": f"reproduce-{package.get('ModelPackageVersion', 'x')}",
        "PipelineExecutionDescription": description[:3072],
        "PipelineParameters": [{"Name": k, "Value": v} for k, v in sorted(parameters.items())],
    }


def missing_step_modules(s3, code_url: str) -> list[str]:
    """The step modules the build pipeline runs (``contracts.STEP_MODULES``) that the code zip at ``code_url`` lacks.

    A zip from before the package layout of ``pipeline_code/{data,training,endpoint}`` has ``pipeline_code/
    validate.py`` where the pipeline now runs ``pipeline_code.data.validate``: its steps would end at once with
    ``No module named ...``. Raises GovernanceError when the zip cannot be read (the steps could not read it either).
    """
    bucket, _, key = code_url.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    except (ClientError, zipfile.BadZipFile) as error:
        raise GovernanceError(f"cannot read the recorded code zip {code_url}: {error}") from error
    return [module for module in contracts.STEP_MODULES.values()
            if f"{module.replace('.', '/')}.py" not in names and f"{module.replace('.', '/')}/__init__.py" not in names]


def check_code_layout(s3, request: dict) -> None:
    """Refuse a reproduction whose recorded code the current pipeline definition cannot run, saying how to
    reproduce it instead (its own commit's platform, or ``mlops reproduce --local`` from that commit)."""
    params = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    url, commit = params[contracts.PARAM_CODE_URL], params.get(contracts.PARAM_GIT_COMMIT, "")
    missing = missing_step_modules(s3, url)
    if missing:
        raise GovernanceError(
            f"the recorded code {url} lacks {missing}, which {request['PipelineName']} now runs: it was built with "
            f"an older code layout. Reproduce it with its own commit's platform: git checkout {commit or '<commit>'}"
            " and run `mlops reproduce --local DATA` there, or deploy that commit's pipeline")


def _original_parameters(sagemaker, execution_arn: str, table) -> dict[str, str]:
    try:
        parameters = execution_parameters(sagemaker, execution_arn)
        if parameters:
            return parameters
    except ClientError:
        pass
    for record in reversed(execution_records(table, execution_arn) if table is not None else []):
        if record.get("parameters"):
            return dict(record["parameters"])
    return {}
