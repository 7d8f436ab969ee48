"""Registry lifecycle transitions made by the CD pipeline: pure logic, no AWS calls.

SageMaker's ``ModelLifeCycle`` (``Stage``, ``StageStatus``, ``StageDescription``) moves with each package:

- ``Registered/GatesPassed``: set by the build pipeline's RegisterModel step (the gates passed);
- ``Staging/Passed``: the package passed the integration tests on the staging endpoint;
- ``Production/Running``: the prod endpoint serves it (both packages of an A/B or shadow endpoint);
- ``Production/Replaced``: a package that was ``Production/Running`` and no longer serves prod.

Each transition is one ``UpdateModelPackage`` call carrying only ``ModelPackageArn`` and ``ModelLifeCycle``; the
recorder never sends an approval status. SageMaker emits a "Model Package State Change" event for each, which the
audit trail records (``governance_code.audit_schema.package_record`` keeps the lifecycle fields).
"""
from __future__ import annotations

import json

import mlops_contracts as contracts

TRANSITIONS = ("staging-passed", "prod-running")
MAX_DESCRIPTION = 1024  # StageDescription's maximum length (botocore: StageDescription max 1024)


class BadRequest(ValueError):
    """The action's UserParameters are not a transition this recorder makes."""


def parse_parameters(text: str) -> dict:
    """``{"transition": ..., "package": <arn>, "serving": "<arn>[,<arn>]", "execution": <id>}`` from UserParameters.

    ``serving`` (prod only; default the package alone) lists every package the prod endpoint now serves.
    """
    try:
        parameters = json.loads(text)
    except (TypeError, ValueError):
        raise BadRequest(f"UserParameters is not JSON: {text!r}") from None
    if not isinstance(parameters, dict):
        raise BadRequest(f"UserParameters must be a JSON object; got {text!r}")
    transition, package = parameters.get("transition"), parameters.get("package")
    if transition not in TRANSITIONS:
        raise BadRequest(f"transition {transition!r} is not one of {list(TRANSITIONS)}")
    if not isinstance(package, str) or ":model-package/" not in package:
        raise BadRequest(f"package {package!r} is not a model-package ARN")
    serving = [a.strip() for a in str(parameters.get("serving") or package).split(",") if a.strip()]
    if package not in serving:
        serving.insert(0, package)
    bad = [a for a in serving if ":model-package/" not in a]
    if bad:
        raise BadRequest(f"serving {bad} are not model-package ARNs")
    return {"transition": transition, "package": package, "serving": serving,
            "execution": str(parameters.get("execution") or "")}


def _update(arn: str, stage: tuple[str, str], description: str) -> dict:
    return {"ModelPackageArn": arn, "ModelLifeCycle": {
        "Stage": stage[0], "StageStatus": stage[1], "StageDescription": description[:MAX_DESCRIPTION]}}


def updates(request: dict, current: dict[str, tuple[str, str] | None], pipeline: str) -> list[dict]:
    """The UpdateModelPackage requests for one transition.

    ``current`` maps each approved package of the group to its (Stage, StageStatus), None without one. For
    ``prod-running``, every package that was ``Production/Running`` and is not serving now becomes replaced.
    """
    via = f"{pipeline} execution {request['execution']}" if request["execution"] else pipeline
    if request["transition"] == "staging-passed":
        return [_update(request["package"], contracts.LIFECYCLE_STAGING_PASSED,
                        f"passed the integration tests on staging ({via})")]
    serving = request["serving"]
    result = [_update(arn, contracts.LIFECYCLE_PROD_RUNNING, f"serving prod ({via})")
              for arn in serving if current.get(arn) != contracts.LIFECYCLE_PROD_RUNNING]
    result += [_update(arn, contracts.LIFECYCLE_PROD_REPLACED, f"replaced in prod by {request['package']} ({via})")
               for arn, stage in sorted(current.items())
               if stage == contracts.LIFECYCLE_PROD_RUNNING and arn not in serving]
    return result


def lifecycle_of(package: dict) -> tuple[str, str] | None:
    """(Stage, StageStatus) of a DescribeModelPackage response; None when it has none."""
    cycle = package.get("ModelLifeCycle") or {}
    return (cycle["Stage"], cycle["StageStatus"]) if cycle.get("Stage") and cycle.get("StageStatus") else None
