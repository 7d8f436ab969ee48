"""The audit trail's record schema: keys, timestamps and record builders. Pure Python, no AWS calls.

Shared by the audit writer Lambda (which builds records from EventBridge events and Describe* responses) and the
``mlops`` CLI (which queries them). One DynamoDB table, keys ``pk`` (partition) and ``sk`` (sort):

- ``endpoint#<endpoint name>``: one record per endpoint event, with the model packages serving right after it.
  "Which model served endpoint E at time T" is one Query: ``pk = endpoint#E, sk <= T``, newest first, limit 1.
- ``package#<model package ARN>``: registration, approval changes (who, why) and deployments of the package.
- ``execution#<pipeline execution ARN>``: status changes of a build pipeline execution (who started it, why).

Sort keys are ``<UTC time, ISO 8601 to the second>Z#<EventBridge event id>``: ordered by time, unique per event.
"""
from __future__ import annotations

from datetime import UTC, datetime

import mlops_contracts as contracts

KIND_PACKAGE = "package-state"
KIND_EXECUTION = "pipeline-execution"
KIND_ENDPOINT = "endpoint-state"
KIND_DEPLOYMENT = "deployment"

LINEAGE_KEYS = (
    contracts.META_GIT_COMMIT,
    contracts.META_CONFIG_HASH,
    contracts.META_DATA_VERSION,
    contracts.META_PIPELINE_EXECUTION,
    contracts.META_TRAINING_JOB,
    contracts.META_IMAGE_URI,
    contracts.META_HYPERPARAMETERS_HASH,
    contracts.META_BASELINE_URI,
    contracts.META_CODE_URL,
    contracts.META_CODE_SHA256,
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SK_MAX = "#\uffff"  # sorts after every "#<event id>" suffix of the same second


class BadEvent(ValueError):
    """An event this writer cannot turn into an audit record (missing or malformed fields)."""


def normalize_time(value: str | datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` from an ISO 8601 string (any offset, ``Z`` allowed) or a datetime.

    A value without an offset is taken as UTC. Raises ``ValueError`` naming the value and the accepted form.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"invalid timestamp {value!r}: use ISO 8601, e.g. 2026-05-01T12:00:00Z or 2026-05-01T14:00:00+02:00"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def endpoint_pk(endpoint: str) -> str:
    return f"endpoint#{endpoint}"


def package_pk(package_arn: str) -> str:
    return f"package#{package_arn}"


def execution_pk(execution_arn: str) -> str:
    return f"execution#{execution_arn}"


def sort_key(time: str, event_id: str) -> str:
    return f"{normalize_time(time)}#{event_id}"


def sort_key_upper_bound(time: str | datetime) -> str:
    """The largest sort key of records at or before ``time`` (for ``sk <= bound`` queries)."""
    return f"{normalize_time(time)}{_SK_MAX}"


def identity(user_info: dict | None) -> str:
    """Who, from a SageMaker ``UserInfo`` (CreatedBy / LastModifiedBy): IAM ARN, else Studio user profile."""
    user_info = user_info or {}
    iam_arn = (user_info.get("IamIdentity") or {}).get("Arn")
    if iam_arn:
        return iam_arn
    if user_info.get("UserProfileName"):
        return f"studio-user:{user_info.get('DomainId', '?')}/{user_info['UserProfileName']}"
    return "unknown"


def lineage_metadata(customer_metadata: dict | None) -> dict[str, str]:
    """The lineage keys of a package's customer metadata; absent keys are left out."""
    customer_metadata = customer_metadata or {}
    return {key: customer_metadata[key] for key in LINEAGE_KEYS if customer_metadata.get(key)}


def _envelope(event: dict, kind: str, pk: str, recorded_at: str) -> dict:
    try:
        time, event_id = event["time"], event["id"]
        sk = sort_key(time, event_id)
    except (KeyError, TypeError, ValueError) as error:
        raise BadEvent(f"event needs 'id' and an ISO 8601 'time': {error}") from None
    return {"pk": pk, "sk": sk, "kind": kind, "event_time": normalize_time(time), "event_id": event_id,
            "source": event.get("detail-type", ""), "recorded_at": recorded_at}


def _require(detail: dict, *names: str) -> list[str]:
    values = [detail.get(name) for name in names]
    missing = [name for name, value in zip(names, values) if not value]
    if missing:
        raise BadEvent(f"event detail lacks {missing}")
    return values


def package_record(event: dict, package: dict, recorded_at: str) -> dict:
    """A package state change: approval status, who changed it and why, and the lineage metadata then."""
    (arn,) = _require(event.get("detail") or {}, "ModelPackageArn")
    changed_by = package.get("LastModifiedBy") or package.get("CreatedBy")
    record = _envelope(event, KIND_PACKAGE, package_pk(arn), recorded_at)
    record.update({
        "model_package_arn": arn,
        "model_package_group": package.get("ModelPackageGroupName", ""),
        "model_package_version": int(package.get("ModelPackageVersion", 0)),
        "approval_status": package.get("ModelApprovalStatus", "Unknown"),
        "approval_description": package.get("ApprovalDescription", ""),
        "actor": identity(changed_by),
        "lineage": lineage_metadata(package.get("CustomerMetadataProperties")),
    })
    record["lineage_missing"] = [key for key in LINEAGE_KEYS if key not in record["lineage"]]
    cycle = package.get("ModelLifeCycle") or {}
    if cycle:  # SageMaker's ModelLifeCycle as it stood after this change (see governance_code.model_lifecycle)
        record.update({"lifecycle_stage": cycle.get("Stage", ""), "lifecycle_status": cycle.get("StageStatus", ""),
                       "lifecycle_description": cycle.get("StageDescription", "")})
    card = package.get("ModelCard") or {}
    if card.get("ModelCardStatus"):
        record["model_card_status"] = card["ModelCardStatus"]
    return record


def execution_record(event: dict, execution: dict, parameters: dict[str, str], recorded_at: str) -> dict:
    """A pipeline execution status change: who started it, its trigger and its recorded parameters."""
    arn, status = _require(event.get("detail") or {}, "pipelineExecutionArn", "currentPipelineExecutionStatus")
    record = _envelope(event, KIND_EXECUTION, execution_pk(arn), recorded_at)
    record.update({
        "pipeline_execution_arn": arn,
        "pipeline_arn": event["detail"].get("pipelineArn", ""),
        "status": status,
        "actor": identity(execution.get("CreatedBy")),
        "trigger": parameters.get(contracts.PARAM_TRIGGER, ""),
        "parameters": dict(parameters),
    })
    return record


def endpoint_name_of(event: dict, endpoint_stacks: dict[str, str]) -> tuple[str, str, str]:
    """(endpoint name, status, actor) of an endpoint or endpoint-stack event.

    ``endpoint_stacks`` maps CloudFormation stack name to the endpoint it deploys; stacks not in it are rejected.
    """
    detail = event.get("detail") or {}
    if event.get("detail-type") == contracts.DETAIL_STACK_STATUS:
        stack_id, details = detail.get("stack-id", ""), detail.get("status-details") or {}
        parts = stack_id.split(":stack/", 1)
        stack = parts[1].split("/", 1)[0] if len(parts) == 2 else ""
        if stack not in endpoint_stacks:
            raise BadEvent(f"stack {stack or stack_id!r} does not deploy an audited endpoint; "
                           f"audited stacks: {sorted(endpoint_stacks)}")
        if not details.get("status"):
            raise BadEvent("stack event lacks status-details.status")
        return endpoint_stacks[stack], f"stack:{details['status']}", f"cloudformation:{stack}"
    name, status = _require(detail, "EndpointName", "EndpointStatus")
    return name, f"endpoint:{status}", "sagemaker"


def serving_from(endpoint: dict | None, config: dict | None, models: dict[str, dict]) -> list[dict]:
    """Variants serving traffic (and shadows) with their model and model package, from Describe* responses.

    ``endpoint`` None means the endpoint does not exist (deleted, or never created): nothing serves.
    """
    if not endpoint or not config:
        return []
    serving = []
    for role, key in (("production", "ProductionVariants"), ("shadow", "ShadowProductionVariants")):
        for variant in config.get(key) or []:
            model = models.get(variant.get("ModelName", "")) or {}
            containers = [model.get("PrimaryContainer")] + list(model.get("Containers") or [])
            packages = [c["ModelPackageName"] for c in containers if c and c.get("ModelPackageName")]
            serving.append({
                "variant": variant.get("VariantName", ""),
                "role": role,
                "model_name": variant.get("ModelName", ""),
                "model_package_arn": packages[0] if packages else "",
            })
    return serving


def endpoint_records(event: dict, endpoint_name: str, status: str, actor: str, endpoint: dict | None,
                     serving: list[dict], recorded_at: str, pending: list[dict] | None = None) -> list[dict]:
    """The endpoint record plus one deployment record per serving package (so a package lists its endpoints).

    ``pending`` is what an update in progress is deploying (``serving_from`` of the endpoint's
    ``PendingDeploymentSummary`` config); while it bakes, traffic may reach either, so ``mlops which-decision``
    names both for a request in that window. Default none.
    """
    stack_status = status.split(":", 1)[1] if status.startswith("stack:") else ""
    record = _envelope(event, KIND_ENDPOINT, endpoint_pk(endpoint_name), recorded_at)
    record.update({
        "endpoint": endpoint_name,
        "event_status": status,
        "endpoint_status": (endpoint or {}).get("EndpointStatus", "NotFound"),
        "endpoint_config_name": (endpoint or {}).get("EndpointConfigName", ""),
        "rolled_back": "ROLLBACK" in stack_status or bool((endpoint or {}).get("FailureReason")),
        "failure_reason": (endpoint or {}).get("FailureReason", ""),
        "actor": actor,
        "serving": serving,
    })
    if pending:
        record["pending"] = pending
        record["pending_endpoint_config_name"] = ((endpoint or {}).get("PendingDeploymentSummary") or {}).get(
            "EndpointConfigName", "")
    records = [record]
    for package_arn in sorted({s["model_package_arn"] for s in serving if s["model_package_arn"]}):
        deployment = _envelope(event, KIND_DEPLOYMENT, package_pk(package_arn), recorded_at)
        deployment["sk"] = f"{deployment['sk']}#{endpoint_name}"
        deployment.update({key: record[key] for key in ("endpoint", "event_status", "endpoint_status",
                                                          "endpoint_config_name", "rolled_back", "actor")})
        deployment["model_package_arn"] = package_arn
        records.append(deployment)
    return records
