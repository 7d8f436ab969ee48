"""``mlops deploy-resolve``, ``mlops endpoint-test`` and ``mlops endpoint-promote``: the CD pipeline's steps.

- deploy-resolve (Resolve stage): picks the approved package (and the A/B champion) and writes one
  CloudFormation template-configuration file per stage for the endpoint stacks.
- endpoint-test (integration-test stage): the endpoint must serve the config this deployment created (a silent
  rollback fails), and must reach the configured recall on the model's known cases.
- endpoint-promote (A/B): shifts traffic between variants with UpdateEndpointWeightsAndCapacities.
"""
from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from urllib.parse import urlparse

import mlops_contracts as contracts
from mlops_cli.endpoint_checks import (
    PULL_ACTIONS,
    CheckFailed,
    accounts_missing_image_pull,
    check_endpoint,
    check_recall,
    parse_scores,
    parse_weights,
    recall_on_cases,
    resolve_packages,
    template_configuration,
    weight_updates,
)

BATCH_ROWS = 50  # rows per InvokeEndpoint request: well under the 6 MB payload limit


def register(subparsers) -> None:
    resolve = subparsers.add_parser("deploy-resolve", help="Resolve the approved package; write stage parameters.")
    _model_args(resolve)
    resolve.add_argument("--package-arn", default="", help="Approved package; default: the newest approved.")
    for name in ("data-bucket", "artifact-bucket", "key-arn", "topic-arn"):
        resolve.add_argument(f"--{name}", required=True)
    resolve.add_argument("--output-dir", type=Path, required=True)
    resolve.set_defaults(func=run_resolve)

    test = subparsers.add_parser("endpoint-test", help="Check a deployed endpoint: config and known-case recall.")
    _model_args(test)
    test.add_argument("--stage", required=True)
    test.add_argument("--expected-config", required=True, help="Endpoint config created by this deployment.")
    test.add_argument("--package-arn", required=True, help="The deployed package (its baseline holds the encoding).")
    test.add_argument("--role-arn", default="", help="Role in the stage account to call the endpoint with.")
    test.set_defaults(func=run_endpoint_test)

    check = subparsers.add_parser("endpoint-check", help="Fail unless an endpoint runs the config just deployed.")
    _model_args(check)
    check.add_argument("--stage", required=True)
    check.add_argument("--expected-config", required=True, help="Endpoint config created by this deployment.")
    check.add_argument("--role-arn", default="", help="Role in the stage account to describe the endpoint with.")
    check.set_defaults(func=run_endpoint_check)

    promote = subparsers.add_parser("endpoint-promote", help="Set A/B variant weights on an endpoint.")
    promote.add_argument("--endpoint", required=True)
    promote.add_argument("--weights", required=True, help="e.g. champion=0,challenger=1")
    promote.set_defaults(func=run_promote)


def _model_args(parser) -> None:
    parser.add_argument("--config-dir", type=Path, default=Path("config"))
    parser.add_argument("--model", required=True)


def _load_model(config_dir: Path, name: str):
    from mlops_config import load_model

    return load_model(config_dir / "models" / f"{name}.yaml")


def _client(service: str):
    import boto3

    return boto3.client(service)


def _stage_session(role_arn: str):
    """A session in the stage account through its integration-test role."""
    credentials = _client("sts").assume_role(RoleArn=role_arn, RoleSessionName="mlops-endpoint-test")["Credentials"]
    import boto3

    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                                  aws_secret_access_key=credentials["SecretAccessKey"],
                                  aws_session_token=credentials["SessionToken"])


def _fail(error: Exception) -> int:
    print(f"FAILED: {error}", file=sys.stderr)
    return 1


# deploy-resolve

def approved_packages(sagemaker, group: str) -> list[dict]:
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending")
    return [s for page in pages for s in page["ModelPackageSummaryList"]]


def check_stage_image_access(model, platform, ecr) -> None:
    """A custom serving image lives in the tooling account's ECR; a stage in another account pulls it only if the
    repository's policy lets that account pull (docs/deploy.md, "From zero to a live endpoint")."""
    if model.training.algorithm != "custom":
        return
    accounts = platform.other_accounts
    if not accounts:
        return
    repository = model.training.image.repository
    try:
        policy = ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        policy = None
    missing = accounts_missing_image_pull(policy, accounts)
    if missing:
        raise CheckFailed(f"ECR repository {repository} does not let stage account(s) {missing} pull its images "
                          f"({', '.join(PULL_ACTIONS)}); add a repository policy statement for them, see "
                          "docs/deploy.md")


def resolve(args, sagemaker, ecr=None) -> dict[str, dict]:
    """Template configurations by stage name: the endpoint stacks' parameters and tags."""
    model = _load_model(args.config_dir, args.model)
    from mlops_config import load_platform

    platform = load_platform(args.config_dir / "platform.yaml")
    if model.training.algorithm == "custom":
        check_stage_image_access(model, platform, ecr or _client("ecr"))
    requested = None if args.package_arn in ("", "latest") else args.package_arn
    packages = resolve_packages(approved_packages(sagemaker, model.name), requested)
    parameters = {contracts.ENDPOINT_PARAM_PACKAGE: packages.package_arn,
                  contracts.ENDPOINT_PARAM_DATA_BUCKET: args.data_bucket, contracts.ENDPOINT_PARAM_KEY: args.key_arn,
                  contracts.ENDPOINT_PARAM_TOPIC: args.topic_arn}
    if model.deployment.has_champion:
        parameters[contracts.ENDPOINT_PARAM_CHAMPION_PACKAGE] = packages.champion_arn
    tags = {contracts.TAG_MODEL: model.name, contracts.TAG_MODEL_PACKAGE: packages.package_arn.split("/", 1)[1]}

    def stage_parameters(stage: str) -> dict:
        # A stage in another account has no TopicArn: its alarms reach the topic through EventBridge.
        elsewhere = platform.in_other_account(stage)
        return {k: v for k, v in parameters.items() if not (elsewhere and k == contracts.ENDPOINT_PARAM_TOPIC)}

    return {stage: template_configuration(stage_parameters(stage), {**tags, contracts.TAG_STAGE: stage})
            for stage in platform.stages}


def run_resolve(args) -> int:
    try:
        configs = resolve(args, _client("sagemaker"))
    except CheckFailed as error:
        return _fail(error)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for stage, body in configs.items():
        (args.output_dir / f"{stage}.json").write_text(json.dumps(body, indent=2) + "\n")
    package = next(iter(configs.values()))["Parameters"][contracts.ENDPOINT_PARAM_PACKAGE]
    (args.output_dir / "package.txt").write_text(package + "\n")
    print(f"deploying {package} to stages {list(configs)}")
    return 0


# endpoint-test

def encoder_for(sagemaker, s3, package_arn: str) -> dict:
    """The model's input encoding, rebuilt from the drift baseline recorded on its package."""
    from pipeline_code.data import encoding
    from pipeline_code.training.drift_stats import Baseline

    metadata = sagemaker.describe_model_package(ModelPackageName=package_arn).get("CustomerMetadataProperties", {})
    uri = metadata.get(contracts.META_BASELINE_URI)
    if not uri:
        raise CheckFailed(f"model package {package_arn} has no {contracts.META_BASELINE_URI} metadata")
    location = urlparse(uri)
    body = s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
    baseline = Baseline.from_json(body)
    return encoding.fit(baseline.feature_names,
                        {f.name: f.categories for f in baseline.features if f.kind == "categorical"})


def score_cases(runtime, endpoint: str, rows: list[str]) -> list[float | None]:
    """Invoke the endpoint in batches of CSV rows; a failed or malformed batch yields None scores."""
    scores: list[float | None] = []
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start:start + BATCH_ROWS]
        try:
            response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Accept="text/csv",
                                               Body="".join(batch).encode())
            scores.extend(parse_scores(response["Body"].read().decode(), len(batch)))
        except runtime.exceptions.ModelError as error:  # a 4xx from the served model arrives as ModelError
            print(f"batch at row {start} failed: {error}", file=sys.stderr)
            scores.extend([None] * len(batch))
    return scores


def case_rows(frame, model, sagemaker, s3, package_arn: str) -> list[str]:
    """The known cases as CSV request rows: raw records in training feature order (the served model encodes
    them), or encoded with the package's encoding for a custom image declared ``input: encoded``."""
    from pipeline_code.data import encoding

    image = model.training.image
    if image is not None and image.input == "encoded":
        matrix = encoding.encode(frame, encoder_for(sagemaker, s3, package_arn))
        return [",".join("" if math.isnan(v) else repr(float(v)) for v in row) + "\n" for row in matrix]
    features = model.data.features
    if isinstance(features, str):  # all_but_label: the case file's columns, in file order
        features = [c for c in frame.columns if c != model.data.label]
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise CheckFailed(f"the known cases lack feature columns {missing}")
    buffer = io.StringIO()
    frame[features].to_csv(buffer, header=False, index=False)
    return buffer.getvalue().splitlines(keepends=True)


def endpoint_test(args, sagemaker, runtime, s3, endpoint_sagemaker=None) -> list[str]:
    """Run every check; returns report lines, raises CheckFailed on the first failure.

    ``sagemaker`` and ``s3`` read the package in the tooling account; ``endpoint_sagemaker`` (default
    ``sagemaker``) and ``runtime`` reach the endpoint, in the stage account when it has its own.
    """
    import pandas as pd

    model = _load_model(args.config_dir, args.model)
    endpoint = contracts.endpoint_name(model.name, args.stage)
    described = (endpoint_sagemaker or sagemaker).describe_endpoint(EndpointName=endpoint)
    lines = [check_endpoint(described, args.expected_config)]
    cases = model.deployment.known_cases
    if cases is None:
        return lines + ["no known cases configured: recall not checked"]
    frame = pd.read_csv(args.config_dir / cases.file, dtype={c: str for c in [model.data.label,
                                                                              *model.data.categorical]})
    if model.data.label not in frame.columns:
        raise CheckFailed(f"{cases.file} has no label column {model.data.label!r}")
    scores = score_cases(runtime, endpoint, case_rows(frame, model, sagemaker, s3, args.package_arn))
    result = recall_on_cases(frame[model.data.label].astype(str).tolist(), scores,
                             positive_class=model.data.positive_class,
                             threshold=model.quality_gate.decision_threshold)
    return lines + [check_recall(result, cases.min_recall)]


def run_endpoint_test(args) -> int:
    from pipeline_code.common import DataError

    try:
        stage = _stage_session(args.role_arn) if args.role_arn else None
        runtime = stage.client("sagemaker-runtime") if stage else _client("sagemaker-runtime")
        lines = endpoint_test(args, _client("sagemaker"), runtime, _client("s3"),
                              stage.client("sagemaker") if stage else None)
    except (CheckFailed, DataError) as error:
        return _fail(error)
    print("\n".join(lines))
    return 0


# endpoint-check

def endpoint_check(args, sagemaker) -> str:
    """The stage's endpoint runs ``args.expected_config`` and is InService; raises CheckFailed otherwise."""
    endpoint = contracts.endpoint_name(_load_model(args.config_dir, args.model).name, args.stage)
    return check_endpoint(sagemaker.describe_endpoint(EndpointName=endpoint), args.expected_config)


def run_endpoint_check(args) -> int:
    try:
        sagemaker = _stage_session(args.role_arn).client("sagemaker") if args.role_arn else _client("sagemaker")
        line = endpoint_check(args, sagemaker)
    except CheckFailed as error:
        return _fail(error)
    print(line)
    return 0


# endpoint-promote

def promote(sagemaker, endpoint: str, weights: dict[str, float]) -> list[dict]:
    variants = [v["VariantName"] for v in sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]]
    updates = weight_updates(weights, variants)
    sagemaker.update_endpoint_weights_and_capacities(EndpointName=endpoint, DesiredWeightsAndCapacities=updates)
    return updates


def run_promote(args) -> int:
    try:
        updates = promote(_client("sagemaker"), args.endpoint, parse_weights(args.weights))
    except CheckFailed as error:
        return _fail(error)
    print(f"{args.endpoint}: " + ", ".join(f"{u['VariantName']}={u['DesiredWeight']}" for u in updates))
    return 0
