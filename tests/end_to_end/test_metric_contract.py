"""Contract: every alarm and dashboard metric in a namespace of ours matches what a Lambda of ours really emits.

For every Lambda in every synthesized template, the handler (``functions/<FUNCTION>``, read from the image asset's
build arguments in the cloud assembly) is imported (``tests.support.lambda_handlers.load_handler``) with exactly
the environment variables of its template resource and run over realistic input against moto; the EMF documents
Powertools prints are collected. Every CloudWatch alarm and dashboard metric whose namespace is not ``AWS/*`` must
then match an emitted namespace, metric name and exact dimension set (names and values): CloudWatch matches
dimension sets exactly, so an alarm on a subset of the emitted dimensions never sees a datapoint. The source of truth is Powertools' real output under the
template's environment, not our own constants.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from functools import cache

import boto3
import pytest
from moto import mock_aws

import mlops_contracts as contracts
from monitoring_code.capture_records import capture_line
from monitoring_code.monitoring_window import hour_path, window_hour
from tests.conftest import REPO
from tests.support import governance_helpers as governance
from tests.support.lambda_handlers import deployed_functions, load_handler
from tests.support.monitoring_data import capture_file, fraud_baseline

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's defaults (tests/conftest.py sets the region)
EVENT_TIME = "2026-11-01T13:15:00Z"
Metric = tuple[str, str, frozenset]  # namespace, metric name, frozenset of (dimension, value)


# What the templates hold.

def resolve(value, template: dict) -> str:
    """A template value as a string, with references replaced by the names the moto resources get."""
    if isinstance(value, (str, int, float)):
        return str(value)
    if "Ref" in value:
        name = value["Ref"]
        if name.startswith("AWS::"):
            return {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                    "AWS::URLSuffix": "amazonaws.com"}[name]
        if name in template.get("Parameters", {}):
            return str(template["Parameters"][name].get("Default", name))
        resource = template["Resources"][name]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{props.get('TopicName', name)}"
        return str(props.get({"AWS::DynamoDB::Table": "TableName", "AWS::S3::Bucket": "BucketName",
                              "AWS::CloudWatch::Alarm": "AlarmName"}.get(kind, ""), _physical(name, kind)))
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(p, template) for p in parts)
    if "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    raise AssertionError(f"cannot resolve {value!r}: teach resolve() this intrinsic")


def _physical(logical_id: str, kind: str) -> str:
    return logical_id.lower() if kind == "AWS::S3::Bucket" else logical_id


def expected_metrics(templates: dict[str, dict]) -> dict[Metric, list[str]]:
    """Every alarm and dashboard metric in a namespace of ours -> where it is used."""
    found: dict[Metric, list[str]] = {}
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            where = f"{stack}/{logical_id}"
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
                if "MetricName" in props:
                    stats.append(props)
                for stat in stats:
                    dims = {d["Name"]: resolve(d["Value"], template) for d in stat.get("Dimensions", [])}
                    found.setdefault((stat["Namespace"], stat["MetricName"], frozenset(dims.items())), []).append(where)
            elif resource["Type"] == "AWS::CloudWatch::Dashboard":
                body = json.loads(resolve(props["DashboardBody"], template))
                for widget in body["widgets"]:
                    for entry in widget.get("properties", {}).get("metrics", []):
                        if isinstance(entry[0], str):
                            names = [e for e in entry if isinstance(e, str)]
                            dims = dict(zip(names[2::2], names[3::2]))
                            found.setdefault((names[0], names[1], frozenset(dims.items())), []).append(where)
    return {m: w for m, w in found.items() if not m[0].startswith("AWS/")}


SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'")
TERM = re.compile(r'(\w+)="([^"]*)"')


def expected_searches(templates: dict[str, dict]) -> list[tuple[str, str, frozenset, dict, str]]:
    """Dashboard SEARCH expressions in our namespaces: (namespace, metric, dimension names, filters, where)."""
    searches = []
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::CloudWatch::Dashboard":
                continue
            body = json.loads(resolve(resource["Properties"]["DashboardBody"], template))
            for widget in body["widgets"]:
                for entry in widget.get("properties", {}).get("metrics", []):
                    expression = entry[0].get("expression", "") if isinstance(entry[0], dict) else ""
                    for match in SEARCH.finditer(expression):
                        namespace, *dimensions = [p.strip() for p in match["schema"].split(",")]
                        filters = dict(TERM.findall(match["terms"]))
                        if not namespace.startswith("AWS/"):
                            searches.append((namespace, filters.pop("MetricName"), frozenset(dimensions), filters,
                                             f"{stack}/{logical_id}"))
    return searches


# Realistic input per function: seed moto from the function's environment, return the events to send.

@cache
def _baseline():
    return fraud_baseline(rows=5_000)


def _serve(model: str, endpoint: str, *, with_baseline: bool) -> None:
    """A model package (with the drift baseline) served by ``endpoint`` through one ``primary`` variant."""
    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    extra = {}
    if with_baseline:
        s3.create_bucket(Bucket="contract-artifacts")
        key = f"{contracts.ARTIFACT_PREFIX}/exec-1/preprocess/baseline/{contracts.BASELINE_FILE}"
        s3.put_object(Bucket="contract-artifacts", Key=key, Body=_baseline().to_json())
        extra = {"DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {
            "ContentType": "application/json", "S3Uri": f"s3://contract-artifacts/{key}"}}}}
    sagemaker.create_model_package_group(ModelPackageGroupName=model)
    package = sagemaker.create_model_package(
        ModelPackageGroupName=model, **extra,
        InferenceSpecification={"Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/x:1"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    sagemaker.create_model(ModelName="served", PrimaryContainer={"ModelPackageName": package},
                           ExecutionRoleArn=governance.ROLE)
    sagemaker.create_endpoint_config(EndpointConfigName="served-1", ProductionVariants=[{
        "VariantName": "primary", "ModelName": "served", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName="served-1")


def _scheduled() -> dict:
    return {"id": "sched-1", "source": "aws.events", "detail-type": "Scheduled Event", "time": EVENT_TIME,
            "account": ACCOUNT, "region": REGION, "detail": {}}


def drift_detector(env: dict) -> list[dict]:
    """A drifted hour of capture data, more records than MIN_SAMPLES: every drift metric gets a value. The
    fan-out's functions (DRIFT_STEP count, reduce) get the plan, a batch and the map's results instead."""
    endpoint = env[contracts.ENV_ENDPOINT_NAME]
    _serve(env[contracts.ENV_MODEL_NAME], endpoint, with_baseline=True)
    rows = 2 * int(env.get(contracts.ENV_MIN_SAMPLES, "500"))
    key = f"{contracts.CAPTURE_PREFIX}/{endpoint}/primary/{hour_path(window_hour(EVENT_TIME))}/part-0.jsonl"
    body = capture_file(rows, seed=4, drift=1.0, baseline=_baseline(), raw=True).encode()  # raw, as served
    boto3.client("s3").put_object(Bucket=env[contracts.ENV_DATA_BUCKET], Key=key, Body=body)
    step = env.get(contracts.ENV_DRIFT_STEP, contracts.DRIFT_STEP_PLAN)
    return [_scheduled()] if step == contracts.DRIFT_STEP_PLAN else [_fanout_event(env, step, key, body)]


def _fanout_event(env: dict, step: str, key: str, body: bytes) -> dict:
    """What the state machine hands the count child or the reduce step (see mlops_constructs/monitor/drift_fanout.py)."""
    from monitoring_code import drift_fanout
    from monitoring_code.drift_detect import DriftWindow

    s3, bucket, hour = boto3.client("s3"), env[contracts.ENV_DATA_BUCKET], window_hour(EVENT_TIME)
    prefix = drift_fanout.fanout_prefix(env[contracts.ENV_ENDPOINT_NAME], hour)
    uri = f"s3://contract-artifacts/pipelines/exec-1/preprocess/baseline/{contracts.BASELINE_FILE}"
    plan = {"model": env[contracts.ENV_MODEL_NAME], "endpoint": env[contracts.ENV_ENDPOINT_NAME], "bucket": bucket,
            "hour": hour.isoformat(), "metric": "psi", "threshold": 0.2, "min_samples": 500,
            "baselines": {"primary": uri}, "errors": {}, "categorical_codes": False}
    s3.put_object(Bucket=bucket, Key=f"{prefix}/plan.json", Body=json.dumps(plan).encode())
    event = {"bucket": bucket, "plan_key": f"{prefix}/plan.json"}
    if step == contracts.DRIFT_STEP_COUNT:
        return {**event, "batch": {"variant": "primary", "keys": [key], "bytes": len(body)}}
    window = DriftWindow(_baseline())
    window.add_file(body)
    child = {"Status": "SUCCEEDED", "Output": json.dumps({"variant": "primary", "state": window.counts_state()})}
    s3.put_object(Bucket=bucket, Key=f"{prefix}/results/run/SUCCEEDED_0.json", Body=json.dumps([child]).encode())
    manifest = {"DestinationBucket": bucket, "MapRunArn": "arn:run",
                "ResultFiles": {"SUCCEEDED": [{"Key": f"{prefix}/results/run/SUCCEEDED_0.json", "Size": 1}]}}
    s3.put_object(Bucket=bucket, Key=f"{prefix}/results/run/manifest.json", Body=json.dumps(manifest).encode())
    return {**event, "result_writer": {"Bucket": bucket, "Key": f"{prefix}/results/run/manifest.json"}}


def quality_monitor(env: dict) -> list[dict]:
    """An hour of captured scores and their labels (20% positive), more than MIN_SAMPLES of them."""
    endpoint = env[contracts.ENV_ENDPOINT_NAME]
    _serve(env[contracts.ENV_MODEL_NAME], endpoint, with_baseline=False)
    hour = hour_path(window_hour(EVENT_TIME) - timedelta(hours=int(env.get(contracts.ENV_LABEL_DELAY_HOURS, "0"))))
    positive, n = env.get(contracts.ENV_POSITIVE_CLASS, "1"), 5 * int(env.get(contracts.ENV_MIN_SAMPLES, "100"))
    captures, labels = [], []
    for i in range(n):
        fraud = i % 5 == 0
        captures.append(capture_line(f"{i % 7}.5,1,2", "0.91" if fraud else "0.12", inference_id=f"inf-{i}"))
        labels.append(json.dumps({"groundTruthData": {"data": positive if fraud else "0", "encoding": "CSV"},
                                  "eventMetadata": {"eventId": f"inf-{i}"}, "eventVersion": "0"}))
    s3 = boto3.client("s3")
    s3.put_object(Bucket=env[contracts.ENV_DATA_BUCKET],
                  Key=f"{contracts.CAPTURE_PREFIX}/{endpoint}/primary/{hour}/a.jsonl",
                  Body="\n".join(captures).encode())
    s3.put_object(Bucket=env[contracts.ENV_DATA_BUCKET],
                  Key=f"{env[contracts.ENV_GROUND_TRUTH_PREFIX]}{hour}/labels.jsonl",
                  Body="\n".join(labels).encode())
    return [_scheduled()]


def audit_writer(env: dict) -> list[dict]:
    """An event the writer cannot use (skipped) and a package registered without full lineage."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=governance.MODEL)
    arn = governance.register_package(sagemaker, {contracts.META_GIT_COMMIT: "a" * 40,
                                                  contracts.META_IMAGE_URI: "img"})
    return [governance.event("Some Other Event", "2026-05-01T10:00:00Z", {}),
            governance.package_event("2026-05-01T10:00:01Z", arn, "PendingManualApproval")]


def deploy_trigger(env: dict) -> list[dict]:
    """An approval in another group (skipped and counted) and one in this model's group."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
    boto3.client("iam").create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))
    boto3.client("codepipeline").create_pipeline(pipeline={
        "name": env[contracts.ENV_PIPELINE_NAME], "roleArn": f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [{"name": "Source", "actions": [{"name": "S", "actionTypeId": {
            "category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}}]},
                   {"name": "Deploy", "actions": [{"name": "D", "actionTypeId": {
                       "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}}]}]})
    group = env[contracts.ENV_MODEL_PACKAGE_GROUP]

    def approval(group_name: str, version: int) -> dict:
        return {"id": f"appr-{version}", "source": contracts.EVENT_SOURCE_SAGEMAKER,
                "detail-type": contracts.DETAIL_PACKAGE_STATE, "time": EVENT_TIME,
                "detail": {"ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/"
                                              f"{group_name}/{version}",
                           "ModelPackageGroupName": group_name, "ModelApprovalStatus": "Approved"}}
    return [approval(f"not-{group}", 1), approval(group, 2)]


def _build_pipeline(name: str) -> None:
    boto3.client("sagemaker").create_pipeline(PipelineName=name, RoleArn=governance.ROLE,
                                              PipelineDefinition=governance.PIPELINE_DEFINITION)


def new_data_trigger(env: dict) -> list[dict]:
    """A drop's files (skipped) and its _SUCCESS marker (starts the build once)."""
    _build_pipeline(env[contracts.ENV_PIPELINE_NAME])

    def created(key: str) -> dict:
        return {"id": key, "source": contracts.EVENT_SOURCE_S3, "detail-type": contracts.DETAIL_OBJECT_CREATED, "time": EVENT_TIME,
                "detail": {"bucket": {"name": env[contracts.ENV_DATA_BUCKET]}, "object": {"key": key, "size": 10}}}
    drop = f"{env[contracts.ENV_NEW_DATA_PREFIX]}2026-11/"
    return [created(f"{drop}part-0.csv"), created(f"{drop}{contracts.DROP_MARKER}")]


def build_notifier(env: dict) -> list[dict]:
    return [{"id": "pkg-1", "source": contracts.EVENT_SOURCE_SAGEMAKER, "detail-type": contracts.DETAIL_PACKAGE_STATE,
             "region": REGION, "detail": {"ModelPackageGroupName": "m", "ModelPackageVersion": 1,
                                          "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/m/1",
                                          "ModelApprovalStatus": "PendingManualApproval"}}]


def retrain_trigger(env: dict) -> list[dict]:
    _build_pipeline(env[contracts.ENV_PIPELINE_NAME])
    alarm = next(iter(json.loads(env[contracts.ENV_ALARM_TRIGGERS])))
    return [{"id": "alarm-1", "source": contracts.EVENT_SOURCE_CLOUDWATCH, "detail-type": contracts.DETAIL_ALARM_STATE,
             "time": EVENT_TIME, "detail": {"alarmName": alarm, "state": {"value": "ALARM"}}}]


def lifecycle_recorder(env: dict) -> list[dict]:
    """A CodePipeline job recording that a package of the group passed staging."""
    group = env[contracts.ENV_MODEL_PACKAGE_GROUP]
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(ModelPackageGroupName=group, InferenceSpecification={
        "Containers": [{"Image": "img", "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    parameters = {"transition": "staging-passed", "package": arn, "execution": "exec-1"}
    return [{"CodePipeline.job": {"id": "job-1", "data": {"actionConfiguration": {"configuration": {
        "FunctionName": "recorder", "UserParameters": json.dumps(parameters)}}}}}]


class _JobResults:
    """CodePipeline's job-result calls (moto has no CodePipeline job API). The recorder reports a failed update
    to CodePipeline instead of raising: here that failure is raised, so a scenario that no longer fits is named."""

    def put_job_success_result(self, **_) -> None:
        pass

    def put_job_failure_result(self, *, failureDetails: dict, **_) -> None:
        raise RuntimeError(f"the job failed: {failureDetails['message']}")


SCENARIOS: dict[str, Callable[[dict], list[dict]]] = {f.__name__: f for f in (
    drift_detector, quality_monitor, audit_writer, deploy_trigger, new_data_trigger, build_notifier, retrain_trigger,
    lifecycle_recorder)}
# After import, before the events: replace what moto cannot serve.
PREPARE: dict[str, Callable[[object], None]] = {
    "lifecycle_recorder": lambda module: setattr(module, "_codepipeline", _JobResults),
}


# Running them.

def create_stateful(template: dict) -> None:
    """The template's tables (with their key schema), buckets and topics, under the names resolve() gives."""
    for logical_id, resource in template.get("Resources", {}).items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            boto3.client("dynamodb").create_table(
                TableName=resolve({"Ref": logical_id}, template), KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST")
        elif kind == "AWS::S3::Bucket":
            boto3.client("s3").create_bucket(Bucket=resolve({"Ref": logical_id}, template))
        elif kind == "AWS::SNS::Topic":
            boto3.client("sns").create_topic(Name=resolve({"Ref": logical_id}, template).rsplit(":", 1)[-1])


def emitted(stdout: str) -> set[Metric]:
    """(namespace, metric, dimensions) of every EMF document in ``stdout``."""
    metrics = set()
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = frozenset((name, str(document[name])) for name in dimension_set)
                metrics |= {(directive["Namespace"], m["Name"], dims) for m in directive["Metrics"]}
    return metrics


def run_function(folder: str, environment: dict[str, str], template: dict, lambda_context, capsys) -> set[Metric]:
    """Import functions/<folder>/handler.py with exactly ``environment`` and run its scenario under moto."""
    assert folder in SCENARIOS, f"functions/{folder} has no scenario in {__name__}: add one (realistic input)"
    capsys.readouterr()
    with mock_aws(), load_handler(folder, environment) as module:
        create_stateful(template)
        events = SCENARIOS[folder](environment)
        PREPARE.get(folder, lambda _: None)(module)
        for event in events:
            try:
                module.handler(event, lambda_context)
            except Exception as error:  # noqa: BLE001 - name the function whose scenario no longer fits
                pytest.fail(f"functions/{folder} under {sorted(environment)} failed on its scenario ({error!r}): "
                            f"give it a realistic input for this environment in SCENARIOS")
        return emitted(capsys.readouterr().out)


@pytest.fixture(scope="module")
def templates(example_app) -> dict[str, dict]:
    return example_app.templates


def test_every_alarm_and_dashboard_metric_of_ours_is_emitted_with_its_exact_dimensions(
        example_app, templates, capsys, lambda_context):
    functions = [(f.stack, f.logical_id, f.folder, f.variables) for f in deployed_functions(example_app)]
    emitted_metrics: set[Metric] = set()
    runs = {}
    for stack, _logical_id, folder, variables in functions:
        environment = {k: resolve(v, templates[stack]) for k, v in variables.items()}
        key = (folder, json.dumps(environment, sort_keys=True))
        if key not in runs:  # the same function with the same environment emits the same metrics
            runs[key] = run_function(folder, environment, templates[stack], lambda_context, capsys)
        emitted_metrics |= runs[key]
    present = {p.name for p in (REPO / "functions").iterdir() if (p / "handler.py").is_file()}
    assert {folder for folder, _ in runs} == set(SCENARIOS) & present, "every scenario runs a Lambda of the templates"

    expected = expected_metrics(templates)
    assert expected, "the templates alarm on metrics of ours"
    missing = []
    for (namespace, name, dims), used_by in sorted(expected.items(), key=lambda item: str(item[0])):
        if (namespace, name, dims) not in emitted_metrics:
            seen = sorted(str(dict(sorted(d))) for n, m, d in emitted_metrics if (n, m) == (namespace, name))
            missing.append(f"{namespace} {name} {dict(dims)} (used by {used_by}); emitted as: {seen or 'never'}")
    for namespace, name, dimensions, filters, where in expected_searches(templates):
        if not any(n == namespace and m == name and {k for k, _ in d} == dimensions
                   and filters.items() <= dict(d).items() for n, m, d in emitted_metrics):
            seen = sorted(sorted(k for k, _ in d) for n, m, d in emitted_metrics if (n, m) == (namespace, name))
            missing.append(f"SEARCH {{{namespace},{','.join(sorted(dimensions))}}} {name} {filters} (used by "
                           f"{where}); emitted with dimensions: {seen or 'never'}")
    assert not missing, "alarms and dashboards that can never see a datapoint:\n" + "\n".join(missing)


def test_resolve_names_template_references_as_the_moto_resources_are_created():
    template = {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {}},
                              "A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "x-drift"}}}}
    assert resolve({"Ref": "T"}, template) == f"arn:aws:sns:{REGION}:{ACCOUNT}:T"
    assert resolve({"Fn::Join": ["", ["{\"", {"Ref": "A"}, "\": 1}"]]}, template) == '{"x-drift": 1}'
    with pytest.raises(AssertionError, match="teach resolve"):
        resolve({"Fn::Sub": "x"}, template)
