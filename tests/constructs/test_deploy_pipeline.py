"""ModelDeployPipeline: approval trigger, stage order, deploy actions and their roles."""
from __future__ import annotations

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_constructs.deploy.deploy_pipeline import DeployTarget, ModelDeployPipeline
from tests.conftest import new_app

FRAUD = "mlops-fraud-detection"


def _pipeline(template: Template) -> dict:
    pipelines = template.find_resources("AWS::CodePipeline::Pipeline", {"Properties": {"Name": contracts.deploy_pipeline_name("fraud-detection")}})
    (pipeline,) = pipelines.values()
    return pipeline["Properties"]


def test_stages_and_actions_run_in_deployment_order(example_app):
    props = _pipeline(example_app.template(FRAUD))
    order = [(s["Name"], [(a["Name"], a["ActionTypeId"]["Provider"]) for a in s["Actions"]]) for s in props["Stages"]]
    assert order == [
        ("Source", [("Source", "S3")]),
        ("Resolve", [("ResolveAndSynth", "CodeBuild")]),
        ("DeployStaging", [("Deploy", "CloudFormation")]),
        ("IntegrationTest", [("EndpointTest", "CodeBuild"), ("RecordStagingPassed", "Lambda")]),
        ("Approve", [("PromoteToProd", "Manual")]),
        ("DeployProd", [("Deploy", "CloudFormation")]),
        ("VerifyProd", [("EndpointCheck", "CodeBuild"), ("RecordProdRunning", "Lambda")]),
    ]
    assert props["PipelineType"] == "V2"
    assert [(v["Name"], v["DefaultValue"]) for v in props["Variables"]] == [("ModelPackageArn", "latest")]


def test_deploy_actions_use_the_synthesized_templates_and_per_stage_parameters(example_app):
    props = _pipeline(example_app.template(FRAUD))
    stages = {s["Name"]: s["Actions"][0] for s in props["Stages"]}
    for stage, name in (("DeployStaging", "staging"), ("DeployProd", "prod")):
        config = stages[stage]["Configuration"]
        assert config["StackName"] == f"mlops-fraud-detection-{name}"
        assert config["TemplatePath"] == f"Resolved::mlops-fraud-detection-{name}.template.json"
        assert config["TemplateConfiguration"] == f"Resolved::{name}.json"
        assert config["Capabilities"] == "CAPABILITY_NAMED_IAM" and config["ActionMode"] == "CREATE_UPDATE"
    test_env = stages["IntegrationTest"]["Configuration"]["EnvironmentVariables"]
    assert '"value":"#{DeployStaging.EndpointConfigName}"' in test_env.replace(" ", "")
    assert stages["DeployStaging"]["Namespace"] == "DeployStaging"
    resolve_env = stages["Resolve"]["Configuration"]["EnvironmentVariables"]
    assert "#{variables.ModelPackageArn}" in resolve_env


def test_approval_notifies_the_model_topic(example_app):
    template = example_app.template(FRAUD)
    props = _pipeline(template)
    approve = next(s for s in props["Stages"] if s["Name"] == "Approve")["Actions"][0]
    (topic_id,) = template.find_resources("AWS::SNS::Topic").keys()
    assert approve["Configuration"]["NotificationArn"] == {"Ref": topic_id}


def test_approved_packages_of_this_group_invoke_the_idempotent_trigger(example_app):
    template = example_app.template(FRAUD)
    function = Capture()
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": [contracts.EVENT_SOURCE_SAGEMAKER], "detail-type": [contracts.DETAIL_PACKAGE_STATE],
                         "detail": {"ModelPackageGroupName": [Match.any_value()], "ModelApprovalStatus": ["Approved"]}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]}})],
    })
    functions = template.find_resources("AWS::Lambda::Function")
    env = functions[function.as_string()]["Properties"]["Environment"]["Variables"]
    assert env[contracts.ENV_PIPELINE_NAME] == contracts.deploy_pipeline_name("fraud-detection") and contracts.ENV_IDEMPOTENCY_TABLE in env
    role = functions[function.as_string()]["Properties"]["Role"]["Fn::GetAtt"][0]
    pipeline_id = next(iter(template.find_resources("AWS::CodePipeline::Pipeline", {
        "Properties": {"Name": contracts.deploy_pipeline_name("fraud-detection")}})))
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": role}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": {"Fn::Join": ["", Match.array_with([{"Ref": pipeline_id}])]}})])},
    })


def test_rejected_packages_are_announced_and_never_deployed(example_app):
    template = example_app.template(FRAUD)
    rules = template.find_resources("AWS::Events::Rule", {"Properties": {"EventPattern": {
        "detail": {"ModelApprovalStatus": ["Rejected"]}}}})
    (rule,) = rules.values()
    (topic_id,) = template.find_resources("AWS::SNS::Topic").keys()
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Ref": topic_id}]


def test_the_staging_deployment_role_is_scoped_to_this_endpoint(example_app):
    template = example_app.template(FRAUD)
    props = _pipeline(template)
    staging = next(s for s in props["Stages"] if s["Name"] == "DeployStaging")["Actions"][0]
    role_id = staging["Configuration"]["RoleArn"]["Fn::GetAtt"][0]
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": role_id}],
        "PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Sid": "Endpoint", "Resource": {"Fn::Join": ["", Match.array_with([
                ":endpoint/fraud-detection-staging"])]}}),
            Match.object_like({"Sid": "PassServingRole", "Condition": {
                "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}),
        ])},
    })


def test_batch_models_get_no_deploy_pipeline(example_app):
    template = example_app.template("mlops-employee-attrition")
    assert template.find_resources("AWS::CodePipeline::Pipeline", {
        "Properties": {"Name": contracts.deploy_pipeline_name("employee-attrition")}}) == {}


def _bare(staging: DeployTarget, env: Environment | None = None, **props) -> Template:
    stack = Stack(new_app(), "Test", env=env)
    key = kms.Key(stack, "Key")
    ModelDeployPipeline(
        stack, "Deploy", model_name="m", model_package_group_name="m", staging=staging,
        prod=DeployTarget("prod", "p-m-prod", "m-prod"),
        artifact_bucket=s3.Bucket(stack, "Artifacts", encryption_key=key, versioned=True),
        data_bucket=s3.Bucket(stack, "Data"), key=key, topic=sns.Topic(stack, "Topic"), **props)
    return Template.from_stack(stack)


CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/12345678-1234-1234-1234-123456789012"


def _source_action(template: Template) -> dict:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    (stage,) = [s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Source"]
    (action,) = stage["Actions"]
    return action


def test_the_source_is_the_repository_zip_without_a_connection_and_the_branch_with_one():
    staging = DeployTarget("staging", "p-m-staging", "m-staging")
    s3_source = _source_action(_bare(staging))
    assert (s3_source["ActionTypeId"]["Provider"], s3_source["Configuration"]["S3ObjectKey"]) == (
        "S3", contracts.source_object_key("m"))
    git = _source_action(_bare(staging, source_connection_arn=CONNECTION, source_repository="org/platform",
                               source_branch="release"))
    assert git["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert git["Configuration"]["ConnectionArn"] == CONNECTION
    assert (git["Configuration"]["FullRepositoryId"], git["Configuration"]["BranchName"]) == (
        "org/platform", "release")
    with pytest.raises(ValueError, match="needs repository as 'owner/name'"):
        _bare(staging, source_connection_arn=CONNECTION)


def test_a_stage_in_another_account_deploys_through_its_access_stack_roles():
    template = _bare(DeployTarget("staging", "p-m-staging", "m-staging", account="222222222222",
                                  region="eu-west-1"), Environment(account="111111111111", region="eu-west-1"))
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    staging = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "DeployStaging")["Actions"][0]
    assert staging["RoleArn"] == "arn:aws:iam::222222222222:role/m-staging-deploy-action"
    assert staging["Configuration"]["RoleArn"] == "arn:aws:iam::222222222222:role/m-staging-deploy"
    assert staging["Region"] == "eu-west-1"
    # The stage account trusts these two tooling roles by name.
    template.has_resource_properties("AWS::IAM::Role", {"RoleName": contracts.pipeline_role_name("m")})
    template.has_resource_properties("AWS::IAM::Role", {"RoleName": contracts.test_project_role_name("m")})


def test_cross_account_stages_need_a_pipeline_region():
    with pytest.raises(ValueError, match=r"stages in other accounts \(\['222222222222'\]\) need the pipeline's stack"):
        _bare(DeployTarget("staging", "p-m-staging", "m-staging", account="222222222222"))


def test_staging_and_prod_must_differ():
    with pytest.raises(ValueError, match="staging and prod must be different stages and stacks"):
        _bare(DeployTarget("prod", "p-m-prod", "m-prod"))


def test_the_pipeline_assumes_the_staging_test_role_when_staging_has_its_own_account():
    template = _bare(DeployTarget("staging", "p-m-staging", "m-staging", account="222222222222",
                                  region="eu-west-1"), Environment(account="111111111111", region="eu-west-1"))
    test_role = "arn:aws:iam::222222222222:role/m-staging-integration-test"
    template.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": contracts.deploy_project_name("m", "test"),
        "Environment": Match.object_like({"EnvironmentVariables": Match.array_with([
            {"Name": contracts.ENV_TEST_ROLE_ARN, "Type": "PLAINTEXT", "Value": test_role}])}),
    })
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "AssumeStagingTestRole", "Action": "sts:AssumeRole", "Resource": test_role})])}})


def test_deploy_constructs_stay_nag_clean_when_stacks_pin_accounts(pinned_app):
    """Acknowledgments must name the ARNs nag prints for pinned stacks too (literal partition, region, account)."""
    import json
    from pathlib import Path

    report = json.loads((Path(pinned_app.assembly.directory) / "validation-report.json").read_text())
    ours = ("/Deploy/", "/BatchScoring/", "/Endpoint/")
    violations = [(v["ruleName"], c["constructPath"]) for p in report["pluginReports"] for v in p.get("violations", [])
                  for c in v["violatingConstructs"] if any(part in c["constructPath"] for part in ours)]
    assert violations == []
    assert {p["pluginName"] for p in report["pluginReports"]} <= {"AwsSolutions", "NIST.800.53.R5"}


def test_ci_and_cd_names_are_the_documented_ones_and_unknown_steps_are_refused():
    """docs/ci.md and docs/deploy.md tell operators these names; the constructs create exactly them."""
    assert [contracts.ci_project_name("m", s) for s in contracts.CI_STEPS] == ["m-ci-test", "m-ci-run"]
    assert contracts.deploy_pipeline_name("m") == "m-deploy"
    assert [contracts.deploy_project_name("m", s) for s in contracts.DEPLOY_STEPS] == [
        "m-deploy-resolve", "m-deploy-test", "m-deploy-verify"]
    assert contracts.source_object_key("m") == f"{contracts.CI_SOURCE_PREFIX}/m/{contracts.CI_SOURCE_ZIP}"
    with pytest.raises(ValueError, match="'pipeline'"):
        contracts.deploy_project_name("m", "pipeline")
    with pytest.raises(ValueError, match="'deploy'"):
        contracts.ci_project_name("m", "deploy")
