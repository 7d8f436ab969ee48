"""The stage matrix: every stage in the tooling account (the default), staging and prod in two other accounts, and
prod in another region. Each synthesized variant must wire the key, images, alarms, monitoring, artifact reads and
the integration test across the account boundary; the cross-region variant must fail at synth, naming the field.

The two synthesized variants are conftest's session apps (``example_app`` and ``pinned_app``), so this file adds
no synth of its own; both are synthesized with cdk-nag, whose report must be empty.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mlops_contracts as contracts
from tests.conftest import CONFIG_DIR, pin_accounts
from tests.stacks.test_deploy_iam import _contexts, _roles, _serving_roles
from tests.support.iam_eval import allows, render, resource_arn, role_statements

APPS = ["example_app", "pinned_app"]
MODELS = ["fraud-detection", "support-assistant"]


def _resources(template: dict, kind: str) -> dict:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _one(template: dict, kind: str) -> tuple[str, dict]:
    (item,) = _resources(template, kind).items()
    return item


def test_prod_in_another_region_fails_at_synth_naming_the_field(tmp_path):
    """Model packages, their artifacts and the key are regional, and SageMaker creates models only from artifacts
    in the endpoint's region (CreateModel ModelDataUrl): a stage outside the tooling region cannot work."""
    from mlops_config import ConfigError, load_config

    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    platform = pin_accounts(tmp_path / "config") / "platform.yaml"
    platform.write_text(platform.read_text().replace(
        "prod: {account: '222222222222', region: eu-west-1}", "prod: {account: '222222222222', region: us-west-2}"))
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "config")
    message = str(error.value)
    assert "platform.yaml" in message and "stages.prod.region" in message and "'us-west-2'" in message
    assert "must be the tooling region eu-west-1" in message


@pytest.mark.parametrize("app_name", APPS)
def test_the_variant_synthesizes_nag_clean_with_no_iam_in_endpoint_stacks(app_name, request):
    app = request.getfixturevalue(app_name)
    for model in MODELS:
        for stage in ("staging", "prod"):
            resources = app.templates[f"mlops-{model}-{stage}"]["Resources"].values()
            assert not [r["Type"] for r in resources if r["Type"].startswith("AWS::IAM::")], (model, stage)
    report = json.loads((Path(app.assembly.directory) / "validation-report.json").read_text())
    assert [(v["ruleName"], c["constructPath"]) for p in report["pluginReports"] for v in p.get("violations", [])
            for c in v["violatingConstructs"]] == []


def _key_arn(app, contexts, model: str) -> str:
    stack = f"mlops-{model}"
    key_id, _ = _one(app.templates[stack], "AWS::KMS::Key")
    return resource_arn(key_id, app.templates[stack], contexts[stack])


@pytest.mark.parametrize("app_name", APPS)
def test_serving_roles_can_use_the_model_key_limited_to_sagemaker_and_s3(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    checked = 0
    for endpoint_stack, role_stack, role_id in _serving_roles(app, contexts):
        model = endpoint_stack.split("-", 1)[1].rsplit("-", 1)[0]
        key = _key_arn(app, contexts, model)
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        assert allows(statements, "kms:Decrypt", key), endpoint_stack
        role = resource_arn(role_id, app.templates[role_stack], contexts[role_stack])
        if contexts[role_stack].account != contexts[f"mlops-{model}"].account:
            # The key policy names the stage account, narrowed to this role and to SageMaker and S3.
            (key_resource,) = _resources(app.templates[f"mlops-{model}"], "AWS::KMS::Key").values()
            granted = [s for s in key_resource["Properties"]["KeyPolicy"]["Statement"]
                       if "kms:Decrypt" in s["Action"] and "Condition" in s
                       and render(s["Condition"].get("ArnEquals", {}).get("aws:PrincipalArn", ""),
                                  app.templates[f"mlops-{model}"], contexts[f"mlops-{model}"]) == role]
            assert [sorted(s["Condition"]["StringEquals"]["kms:ViaService"]) for s in granted] == [
                ["s3.eu-west-1.amazonaws.com", "sagemaker.eu-west-1.amazonaws.com"]], endpoint_stack
            deploy = role.replace("-serving", "-deploy")
            grants = [s for s in key_resource["Properties"]["KeyPolicy"]["Statement"] if s["Action"] == "kms:CreateGrant"
                      and render(s["Condition"]["ArnEquals"]["aws:PrincipalArn"], app.templates[f"mlops-{model}"],
                                 contexts[f"mlops-{model}"]) == deploy]
            assert [g["Condition"]["StringEquals"]["kms:ViaService"] for g in grants] == [
                "sagemaker.eu-west-1.amazonaws.com"]
        checked += 1
    assert checked == 4


@pytest.mark.parametrize("app_name", APPS)
def test_custom_images_are_pullable_from_the_stage_account_or_the_resolve_step_fails(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    tooling = contexts["mlops-support-assistant"]
    repository = f"arn:aws:ecr:{tooling.region}:{tooling.account}:repository/support-assistant-trainer"
    model_stack = app.templates["mlops-support-assistant"]
    resolve_role = next(lid for lid, r in _resources(model_stack, "AWS::IAM::Role").items()
                        if lid.startswith("DeployResolveRole"))
    resolve = role_statements(model_stack, resolve_role, tooling)
    for endpoint_stack, role_stack, role_id in _serving_roles(app, contexts):
        if not endpoint_stack.startswith("mlops-support-assistant"):
            continue
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        assert allows(statements, "ecr:BatchGetImage", repository), endpoint_stack
        assert allows(statements, "ecr:GetDownloadUrlForLayer", repository), endpoint_stack
        if contexts[endpoint_stack].account != tooling.account:
            # The repository is not the platform's: its policy is a precondition that Resolve checks.
            assert allows(resolve, "ecr:GetRepositoryPolicy", repository)


@pytest.mark.parametrize("app_name", APPS)
def test_stage_alarms_reach_the_model_topic(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    for model in MODELS:
        model_stack = app.templates[f"mlops-{model}"]
        topic_id, _ = _one(model_stack, "AWS::SNS::Topic")
        for stage in ("staging", "prod"):
            name = f"mlops-{model}-{stage}"
            template, ctx = app.templates[name], contexts[name]
            alarms = _resources(template, "AWS::CloudWatch::Alarm")
            assert alarms
            if contracts.ENDPOINT_PARAM_TOPIC in template["Parameters"]:
                assert all(a["Properties"]["AlarmActions"] == [{"Ref": contracts.ENDPOINT_PARAM_TOPIC}] for a in alarms.values())
                continue
            # Another account: CloudFormation names the alarms <stack>-..., the access stack forwards their state
            # changes to the tooling bus, which lets that account in, and a rule there notifies the topic.
            assert all("AlarmName" not in a["Properties"] and "AlarmActions" not in a["Properties"]
                       for a in alarms.values())
            access = app.templates[f"{name}-access"]
            (forward,) = [r for r in _resources(access, "AWS::Events::Rule").values()
                          if r["Properties"]["EventPattern"]["source"] == [contracts.EVENT_SOURCE_CLOUDWATCH]]
            assert forward["Properties"]["EventPattern"]["detail"] == {"alarmName": [{"prefix": f"{name}-"}]}
            tooling = contexts[f"mlops-{model}"]
            assert [render(t["Arn"], access, ctx) for t in forward["Properties"]["Targets"]] == [
                f"arn:aws:events:{tooling.region}:{tooling.account}:event-bus/default"]
            admitted = [p["Properties"]["Statement"] for p in _resources(model_stack, "AWS::Events::EventBusPolicy")
                        .values()]
            assert {"AWS": f"arn:aws:iam::{ctx.account}:root"} in [s["Principal"] for s in admitted]
            home = [r for r in _resources(model_stack, "AWS::Events::Rule").values()
                    if r["Properties"].get("EventPattern", {}).get("account") == [ctx.account]
                    and r["Properties"]["EventPattern"]["detail"] == {"alarmName": [{"prefix": f"{name}-"}]}]
            assert [[t["Arn"] for t in r["Properties"]["Targets"]] for r in home] == [[{"Ref": topic_id}]]


@pytest.mark.parametrize("app_name", APPS)
def test_monitors_read_the_prod_endpoint_and_its_capture_wherever_it_runs(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    roles = _roles(app, contexts)
    model_stack, tooling = app.templates["mlops-fraud-detection"], contexts["mlops-fraud-detection"]
    prod = contexts["mlops-fraud-detection-prod"]
    endpoint = f"arn:aws:sagemaker:{prod.region}:{prod.account}:endpoint/fraud-detection-prod"
    variables = {lid: f["Properties"]["Environment"]["Variables"]
                 for lid, f in _resources(model_stack, "AWS::Lambda::Function").items()}
    functions = {lid: f for lid, f in _resources(model_stack, "AWS::Lambda::Function").items()
                 if variables[lid].get(contracts.ENV_ENDPOINT_NAME) == "fraud-detection-prod"
                 # the drift fan-out's count and reduce steps only read capture objects the detector lists
                 and contracts.ENV_DRIFT_STEP not in variables[lid]}
    assert len(functions) == 2  # drift detector and quality monitor
    # Capture: the prod endpoint writes to the tooling data bucket, which the monitors read.
    endpoint_config = _one(app.templates["mlops-fraud-detection-prod"], "AWS::SageMaker::EndpointConfig")[1]
    assert endpoint_config["Properties"]["DataCaptureConfig"]["DestinationS3Uri"] == {
        "Fn::Join": ["", ["s3://", {"Ref": contracts.ENDPOINT_PARAM_DATA_BUCKET}, "/capture"]]}
    data_bucket = "CoreDataBucket9D957D57"  # pinned in test_app
    capture = f"{resource_arn(data_bucket, model_stack, tooling)}/capture/fraud-detection-prod/2026/11/30/x.jsonl"
    for function in functions.values():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = role_statements(model_stack, role_id, tooling)
        assert allows(statements, "s3:GetObject", capture)
        read_role = function["Properties"]["Environment"]["Variables"].get(contracts.ENV_ENDPOINT_ROLE)
        if prod.account == tooling.account:
            assert read_role is None and allows(statements, "sagemaker:DescribeEndpoint", endpoint)
            continue
        assert allows(statements, "sts:AssumeRole", read_role)
        read_stack, read_id = roles[read_role]
        assert read_stack == "mlops-fraud-detection-prod-access"
        read = role_statements(app.templates[read_stack], read_id, prod)
        assert allows(read, "sagemaker:DescribeEndpoint", endpoint)
        assert allows(read, "sagemaker:DescribeEndpointConfig", endpoint.replace(":endpoint/", ":endpoint-config/") + "-x")
        trust = app.templates[read_stack]["Resources"][read_id]["Properties"]["AssumeRolePolicyDocument"]
        trusted = trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        assert resource_arn(role_id, model_stack, tooling) in trusted


@pytest.mark.parametrize("app_name", APPS)
def test_stage_accounts_read_only_pipeline_outputs_from_the_artifact_bucket(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    for model in MODELS:
        name = f"mlops-{model}"
        template, ctx = app.templates[name], contexts[name]
        artifact_bucket = next(lid for lid in _resources(template, "AWS::S3::Bucket") if "ArtifactBucket" in lid)
        bucket = resource_arn(artifact_bucket, template, ctx)
        (policy,) = [p for p in _resources(template, "AWS::S3::BucketPolicy").values()
                     if p["Properties"]["Bucket"] == {"Ref": artifact_bucket}]
        outsiders = []
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            principals = json.dumps(render(statement["Principal"].get("AWS", ""), template, ctx)
                                    if isinstance(statement["Principal"], dict) else statement["Principal"])
            if statement["Effect"] == "Allow" and any(a for a in ("111111111111", "222222222222") if a in principals):
                outsiders.append(statement)
                resources = [render(r, template, ctx) for r in
                             (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])]
                assert set(resources) <= {bucket, f"{bucket}/pipelines/*"}, resources
                assert not allows([{**statement, "Action": statement["Action"] if isinstance(statement["Action"], list)
                                    else [statement["Action"]], "Resource": resources}], "s3:GetObject",
                                  f"{bucket}/code/{model}/abc.zip")
        assert bool(outsiders) == (app_name == "pinned_app")


@pytest.mark.parametrize("app_name", APPS)
def test_the_integration_test_role_exists_only_in_staging_and_trusts_only_the_test_project(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    for model in MODELS:
        tests = {(name, lid): r for name, template in app.templates.items()
                 for lid, r in _resources(template, "AWS::IAM::Role").items()
                 if r["Properties"].get("RoleName", "").endswith("-integration-test")}
        tests = {k: v for k, v in tests.items() if v["Properties"]["RoleName"].startswith(model)}
        model_stack, tooling = app.templates[f"mlops-{model}"], contexts[f"mlops-{model}"]
        project = next(p for p in _resources(model_stack, "AWS::CodeBuild::Project").values()
                       if p["Properties"]["Name"] == contracts.deploy_project_name(model, "test"))
        variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
        if app_name == "example_app":
            assert tests == {} and contracts.ENV_TEST_ROLE_ARN not in variables
            continue
        ((stack, lid), role), = tests.items()
        assert stack == f"mlops-{model}-staging-access"
        assert variables[contracts.ENV_TEST_ROLE_ARN] == resource_arn(lid, app.templates[stack], contexts[stack])
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        project_role = resource_arn(project["Properties"]["ServiceRole"]["Fn::GetAtt"][0], model_stack, tooling)
        assert render(statement["Principal"]["AWS"], app.templates[stack], contexts[stack]) == \
            f"arn:aws:iam::{tooling.account}:root"
        assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": project_role}}


@pytest.mark.parametrize("app_name", APPS)
def test_resolve_writes_exactly_the_parameters_each_stage_template_declares(app_name, request, tmp_path):
    """The Resolve step's template configurations and the endpoint templates must agree: CloudFormation rejects a
    parameter the template lacks and a required one that is missing."""
    import boto3
    from botocore.stub import Stubber

    from mlops_cli import deploy_commands
    from mlops_cli.main import build_parser

    app = request.getfixturevalue(app_name)
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    if app_name == "pinned_app":
        pin_accounts(config)
    for model in MODELS:
        sagemaker = boto3.client("sagemaker")
        with Stubber(sagemaker) as stub:
            stub.add_response("list_model_packages", {"ModelPackageSummaryList": [
                {"ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:333333333333:model-package/{model}/{v}",
                 "ModelPackageGroupName": model, "ModelPackageVersion": v, "ModelApprovalStatus": "Approved",
                 "ModelPackageStatus": "Completed", "CreationTime": f"2026-11-0{v}T00:00:00Z"} for v in (2, 1)]})
            args = build_parser().parse_args([
                "deploy-resolve", "--config-dir", str(config), "--model", model, "--package-arn", "latest",
                "--data-bucket", "d", "--artifact-bucket", "a", "--key-arn", "k", "--topic-arn", "t",
                "--output-dir", str(tmp_path / "out")])
            ecr = boto3.client("ecr")
            with Stubber(ecr) as ecr_stub:
                if app_name == "pinned_app" and model == "support-assistant":
                    ecr_stub.add_response("get_repository_policy", {"policyText": json.dumps({"Statement": [{
                        "Effect": "Allow", "Principal": {"AWS": ["111111111111", "arn:aws:iam::222222222222:root"]},
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})},
                        {"repositoryName": "support-assistant-trainer"})
                configs = deploy_commands.resolve(args, sagemaker, ecr=ecr)
        for stage, body in configs.items():
            declared = app.templates[f"mlops-{model}-{stage}"]["Parameters"]
            assert set(body["Parameters"]) == set(declared), (model, stage)


# The runtime halves of the wiring above.

def test_the_image_check_names_the_accounts_a_repository_policy_leaves_out():
    from mlops_cli.endpoint_checks import accounts_missing_image_pull

    policy = json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]},
        {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "ecr:BatchGetImage"}]})
    assert accounts_missing_image_pull(policy, ["111111111111", "222222222222"]) == ["222222222222"]
    assert accounts_missing_image_pull(None, ["111111111111"]) == ["111111111111"]
    assert accounts_missing_image_pull(json.dumps({"Statement": {"Effect": "Allow", "Principal": "*",
                                                                  "Action": "ecr:*"}}), ["111111111111"]) == []


def test_resolve_fails_before_deploying_when_a_stage_account_cannot_pull_the_custom_image(tmp_path):
    import boto3
    from botocore.stub import Stubber

    from mlops_cli import deploy_commands
    from mlops_cli.endpoint_checks import CheckFailed
    from mlops_cli.main import build_parser

    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    pin_accounts(config)
    args = build_parser().parse_args([
        "deploy-resolve", "--config-dir", str(config), "--model", "support-assistant", "--data-bucket", "d",
        "--artifact-bucket", "a", "--key-arn", "k", "--topic-arn", "t", "--output-dir", str(tmp_path / "out")])
    ecr = boto3.client("ecr")
    with Stubber(ecr) as stub:
        stub.add_client_error("get_repository_policy", "RepositoryPolicyNotFoundException")
        with pytest.raises(CheckFailed, match=r"support-assistant-trainer does not let stage account\(s\) "
                                              r"\['111111111111', '222222222222'\] pull"):
            deploy_commands.resolve(args, boto3.client("sagemaker"), ecr=ecr)


def test_monitors_describe_the_endpoint_with_the_assumed_read_role():
    import boto3
    from botocore.stub import Stubber

    from monitoring_code.endpoint_session import endpoint_sagemaker_client

    sts = boto3.client("sts")
    role = "arn:aws:iam::222222222222:role/fraud-detection-prod-monitor-read"
    with Stubber(sts) as stub:
        stub.add_response("assume_role", {"Credentials": {
            "AccessKeyId": "ASIAREADROLEEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t",
            "Expiration": "2026-11-30T00:00:00Z"}},
            {"RoleArn": role, "RoleSessionName": "monitor-fraud-detection-prod"})
        client = endpoint_sagemaker_client(sts, {contracts.ENV_ENDPOINT_ROLE: role,
                                                 contracts.ENV_ENDPOINT_NAME: "fraud-detection-prod"})
    assert client.meta.service_model.service_name == "sagemaker"
    assert client._request_signer._credentials.access_key == "ASIAREADROLEEXAMPLE"
    assert endpoint_sagemaker_client(environ={})._request_signer._credentials.access_key != "ASIAREADROLEEXAMPLE"


@pytest.mark.parametrize("stack", ["mlops-support-assistant", "mlops-fraud-detection-staging-access",
                                   "mlops-fraud-detection-prod-access", "mlops-support-assistant-staging-access",
                                   "mlops-support-assistant-prod-access"])
def test_cross_account_templates_are_cfn_lint_clean(pinned_app, stack):
    """The templates that only the cross-account variant has or changes; test_app lints the default ones."""
    from cfnlint.api import ManualArgs, lint_file

    template = Path(pinned_app.assembly.directory) / f"{stack}.template.json"
    matches = lint_file(template, ManualArgs(regions=["eu-west-1"]))
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []
