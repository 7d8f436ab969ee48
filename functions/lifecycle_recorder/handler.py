"""CodePipeline action: move model packages through the registry lifecycle (``governance_code.model_lifecycle``).

Invoked by the CD pipeline after the staging integration test (``staging-passed``) and after the prod deployment
(``prod-running``, which also marks the packages prod no longer serves as replaced). It reports the job's result
to CodePipeline; a failure fails the action, so a lifecycle that could not be recorded stops the pipeline.

Environment:
    MODEL_PACKAGE_GROUP: the model's registry group (required).
    PIPELINE_NAME: the CD pipeline, named in each StageDescription (required).
"""
from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

import mlops_contracts as contracts
from governance_code import model_lifecycle as lifecycle

logger = Logger()


@cache
def _sagemaker():
    return boto3.client("sagemaker")


@cache
def _codepipeline():
    return boto3.client("codepipeline")


def current_lifecycles(group: str) -> dict[str, tuple[str, str] | None]:
    """(Stage, StageStatus) of every approved package of the group."""
    client = _sagemaker()
    pages = client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group,
                                                                  ModelApprovalStatus="Approved")
    arns = [s["ModelPackageArn"] for page in pages for s in page["ModelPackageSummaryList"]]
    return {arn: lifecycle.lifecycle_of(client.describe_model_package(ModelPackageName=arn)) for arn in arns}


def record(request: dict) -> list[dict]:
    group = os.environ[contracts.ENV_MODEL_PACKAGE_GROUP]
    foreign = [a for a in request["serving"] if f":model-package/{group}/" not in a]
    if foreign:
        raise lifecycle.BadRequest(f"packages {foreign} are not in group {group}")
    current = current_lifecycles(group) if request["transition"] == "prod-running" else {}
    made = lifecycle.updates(request, current, os.environ[contracts.ENV_PIPELINE_NAME])
    for update in made:
        _sagemaker().update_model_package(**update)
        logger.info("lifecycle updated", package=update["ModelPackageArn"], lifecycle=update["ModelLifeCycle"])
    return made


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    job = event["CodePipeline.job"]
    try:
        request = lifecycle.parse_parameters(job["data"]["actionConfiguration"]["configuration"]["UserParameters"])
        made = record(request)
    except Exception as error:  # CodePipeline waits for a result: every failure is reported
        logger.exception("lifecycle not recorded")
        _codepipeline().put_job_failure_result(jobId=job["id"], failureDetails={
            "type": "JobFailed", "message": str(error)[:5000]})
        return {"failed": str(error)}
    _codepipeline().put_job_success_result(jobId=job["id"])
    return {"updated": [u["ModelPackageArn"] for u in made]}
