"""ModelBuildCI and the source helper: stages, triggers' file-path filters, CodeBuild environments, roles."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_constructs._private.source import PathFilter
from mlops_constructs.build.code_areas import model_code_areas
from mlops_constructs.build.model_build_ci import ModelBuildCI
from mlops_constructs.core.model_core import ModelCore
from tests.conftest import REPO, new_app
from tests.support.code_ownership import push_filter_starts

CI_TEST, CI_RUN = (contracts.ci_project_name("fraud-detection", step) for step in ("test", "run"))
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012"


def _template(*, model="fraud-detection", algorithm="xgboost", **props) -> Template:
    stack = Stack(new_app(), "Test")
    core = ModelCore(stack, "Core", model_name=model, owner="risk@example.com")
    ModelBuildCI(stack, "BuildCI", model_name=model, pipeline_name=f"{model}-build",
                 artifact_bucket=core.artifact_bucket, key=core.key,
                 code_areas=model_code_areas(model, algorithm=algorithm), **props)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def git() -> Template:
    return _template(connection_arn=CONNECTION, repository="acme/mlops", branch="main")


@pytest.fixture(scope="module")
def s3_source() -> Template:
    return _template()


def _role_of(template: Template, project_name: str) -> str:
    role = Capture()
    template.has_resource_properties("AWS::CodeBuild::Project",
                                     {"Name": project_name, "ServiceRole": {"Fn::GetAtt": [role, "Arn"]}})
    return role.as_string()


def _statements_of(template: Template, role_id: str) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_git_pipeline_is_v2_with_one_push_filter_per_owner_area(git):
    git.has_resource_properties("AWS::CodePipeline::Pipeline", {
        "PipelineType": "V2",
        "Triggers": [{"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {
            "SourceActionName": "Source",
            "Push": [
                {"Branches": {"Includes": ["main"]}, "FilePaths": {
                    "Includes": ["pipeline_code/data/**"], "Excludes": ["**/*.md"]}},
                {"Branches": {"Includes": ["main"]}, "FilePaths": {
                    "Includes": ["pipeline_code/training/**", "models/fraud-detection/**"],
                    "Excludes": ["**/*.md"]}},
                {"Branches": {"Includes": ["main"]}, "FilePaths": {
                    "Includes": ["config/models/fraud-detection.yaml", "config/platform.yaml", "buildspecs/ci-*.yml",
                                 "mlops_contracts/**", "pipeline_code/*.py", "pipeline_code/endpoint/**",
                                 "tooling_code/**", "mlops_cli/{__init__,pipeline_commands}.py"],
                    "Excludes": ["**/*.md"]}},
            ]}}],
    })


def test_custom_algorithm_model_is_not_built_by_changes_to_builtin_training():
    template = _template(connection_arn=CONNECTION, repository="acme/mlops",
                         model="support-assistant", algorithm="custom")
    trigger = Capture()
    template.has_resource_properties("AWS::CodePipeline::Pipeline", {"Triggers": [trigger]})
    filters = [PathFilter(tuple(push["FilePaths"]["Includes"]), tuple(push["FilePaths"].get("Excludes", ())))
               for push in trigger.as_object()["GitConfiguration"]["Push"]]
    assert not any(push_filter_starts(f, "pipeline_code/training/train.py") for f in filters)
    for path in ("pipeline_code/training/evaluate.py", "models/support-assistant/trainer.py",
                 "config/models/support-assistant.yaml"):
        assert any(push_filter_starts(f, path) for f in filters), path
    assert not any("fraud-detection" in p for f in filters for p in f.includes)


def test_git_source_uses_the_connection_and_passes_the_commit_to_the_run_stage(git):
    git.has_resource_properties("AWS::CodePipeline::Pipeline", {"Stages": Match.array_with([
        Match.object_like({"Name": "Source", "Actions": [Match.object_like({
            "ActionTypeId": Match.object_like({"Provider": "CodeStarSourceConnection"}),
            "Configuration": Match.object_like({"ConnectionArn": CONNECTION, "FullRepositoryId": "acme/mlops",
                                                "BranchName": "main", "DetectChanges": False})})]}),
        Match.object_like({"Name": "Run", "Actions": [Match.object_like({"Configuration": Match.object_like({
            "EnvironmentVariables": Match.serialized_json([
                {"name": contracts.ENV_GIT_COMMIT, "type": "PLAINTEXT",
                 "value": "#{Source_Source_NS.CommitId}"}])})})]}),
    ])})


def test_s3_source_reads_the_model_zip_and_starts_on_upload_with_its_own_role(s3_source):
    s3_source.has_resource_properties("AWS::CodePipeline::Pipeline", {"Stages": Match.array_with([
        Match.object_like({"Name": "Source", "Actions": [Match.object_like({
            "ActionTypeId": Match.object_like({"Provider": "S3"}),
            "Configuration": Match.object_like({"S3ObjectKey": contracts.source_object_key("fraud-detection"),
                                                "PollForSourceChanges": False})})]})])})
    role = Capture()
    pipeline = next(iter(s3_source.find_resources("AWS::CodePipeline::Pipeline")))
    s3_source.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": [contracts.EVENT_SOURCE_S3], "detail-type": [contracts.DETAIL_OBJECT_CREATED], "detail": {
            "bucket": {"name": [{"Ref": Match.string_like_regexp("CoreArtifactBucket")}]},
            "object": {"key": [contracts.source_object_key("fraud-detection")]}}},
        "Targets": [Match.object_like({"RoleArn": {"Fn::GetAtt": [role, "Arn"]}})],
    })
    assert {"Action": "codepipeline:StartPipelineExecution", "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":codepipeline:",
                                           {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":",
                                           {"Ref": pipeline}]]}} in _statements_of(s3_source, role.as_string())
    assert s3_source.find_resources("AWS::CodePipeline::Pipeline")[pipeline]["Properties"].get("Triggers") is None


@pytest.mark.parametrize(("name", "compute"), [(CI_TEST, "BUILD_GENERAL1_MEDIUM"),
                                              (CI_RUN, "BUILD_GENERAL1_SMALL")])
def test_codebuild_projects_are_unprivileged_kms_encrypted_and_log_to_retained_groups(s3_source, name, compute):
    key = next(iter(s3_source.find_resources("AWS::KMS::Key")))
    log_group = Capture()
    s3_source.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": name,
        "Environment": Match.object_like({"PrivilegedMode": False, "Image": "aws/codebuild/standard:7.0",
                                          "ComputeType": compute}),
        "EncryptionKey": {"Fn::GetAtt": [key, "Arn"]},
        "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": log_group}}},
        "Source": {"Type": "CODEPIPELINE", "BuildSpec": f"buildspecs/ci-{name.rsplit('-', 1)[1]}.yml"},
    })
    group = s3_source.find_resources("AWS::Logs::LogGroup")[log_group.as_string()]
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert group["DeletionPolicy"] == "Retain"


def test_buildspecs_exist_and_the_report_group_matches_the_buildspec_key(s3_source):
    import yaml

    test_spec = yaml.safe_load((REPO / "buildspecs/ci-test.yml").read_text())
    assert yaml.safe_load((REPO / "buildspecs/ci-run.yml").read_text())["version"] == 0.2
    [key] = test_spec["reports"]
    assert test_spec["reports"][key]["file-format"] == "JUNITXML"
    # CodeBuild files a buildspec report key under the report group named <project>-<key>.
    s3_source.has_resource_properties("AWS::CodeBuild::ReportGroup",
                                      {"Name": f"{CI_TEST}-{key}", "Type": "TEST"})
    statements = _statements_of(s3_source, _role_of(s3_source, CI_TEST))
    report_group = next(iter(s3_source.find_resources("AWS::CodeBuild::ReportGroup")))
    assert any(s["Resource"] == {"Fn::GetAtt": [report_group, "Arn"]} and "codebuild:BatchPutTestCases" in s["Action"]
               for s in statements)


def test_run_role_may_start_and_follow_only_this_models_pipeline(s3_source):
    statements = _statements_of(s3_source, _role_of(s3_source, CI_RUN))
    arn = ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
           ":pipeline/fraud-detection-build"]
    assert {"Sid": "StartModelBuildPipeline", "Action": "sagemaker:StartPipelineExecution", "Effect": "Allow",
            "Resource": {"Fn::Join": ["", arn]}} in statements
    assert {"Sid": "FollowModelBuildExecutions", "Effect": "Allow",
            "Action": ["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"],
            "Resource": {"Fn::Join": ["", [*arn[:-1], ":pipeline/fraud-detection-build/execution/*"]]}} in statements
    test_statements = _statements_of(s3_source, _role_of(s3_source, CI_TEST))
    assert not [s for s in test_statements if "sagemaker" in str(s["Action"])]


def test_run_stage_passes_pipeline_name_and_waits_less_than_the_build_timeout(s3_source):
    s3_source.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": CI_RUN, "TimeoutInMinutes": 480,
        "Environment": Match.object_like({"EnvironmentVariables": Match.array_with([
            {"Name": contracts.ENV_PIPELINE_NAME, "Type": "PLAINTEXT", "Value": "fraud-detection-build"},
            {"Name": contracts.ENV_WAIT_MINUTES, "Type": "PLAINTEXT", "Value": "475"}])})})


def test_connection_without_code_areas_is_rejected():
    stack = Stack(new_app(), "Test")
    core = ModelCore(stack, "Core", model_name="m", owner="o@example.com")
    with pytest.raises(ValueError, match="a connection source needs code_areas"):
        ModelBuildCI(stack, "BuildCI", model_name="m", pipeline_name="m-build", artifact_bucket=core.artifact_bucket,
                     key=core.key, connection_arn=CONNECTION, repository="a/b")


def test_path_filter_limits_are_checked():
    with pytest.raises(ValueError, match="at most 8 file-path includes; got 9"):
        PathFilter(includes=tuple(f"p{i}" for i in range(9)))
    with pytest.raises(ValueError, match="at least one file-path include"):
        PathFilter(includes=())


def test_run_stage_may_upload_code_only_under_its_models_prefix_with_the_model_key(s3_source):
    statements = _statements_of(s3_source, _role_of(s3_source, CI_RUN))
    bucket = _logical(s3_source, "AWS::S3::Bucket", "ArtifactBucket")
    key = _logical(s3_source, "AWS::KMS::Key", "Key")
    assert {"Sid": "UploadCommitCode", "Effect": "Allow", "Action": "s3:PutObject",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/code/fraud-detection/*"]]},
            "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms",
                                           "s3:x-amz-server-side-encryption-aws-kms-key-id":
                                               {"Fn::GetAtt": [key, "Arn"]}}}} in statements
    assert {"Sid": "EncryptCommitCode", "Effect": "Allow", "Action": "kms:GenerateDataKey",
            "Resource": {"Fn::GetAtt": [key, "Arn"]}} in statements
    puts = [s for s in statements if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list)
                                                         else [s["Action"]])]
    assert len(puts) == 1, "the run stage writes nowhere else"
    s3_source.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": CI_RUN,
        "Environment": Match.object_like({"EnvironmentVariables": Match.array_with([
            {"Name": contracts.ENV_CODE_BUCKET, "Type": "PLAINTEXT", "Value": {"Ref": bucket}},
            {"Name": contracts.ENV_CODE_KMS_KEY, "Type": "PLAINTEXT", "Value": {"Fn::GetAtt": [key, "Arn"]}}])})})


def _logical(template: Template, kind: str, name: str) -> str:
    (found,) = [k for k in template.find_resources(kind) if k.startswith("Core") and name in k]
    return found


def test_connection_without_a_repository_is_rejected():
    stack = Stack(new_app(), "Test")
    core = ModelCore(stack, "Core", model_name="m", owner="o@example.com")
    with pytest.raises(ValueError, match="a connection source needs repository as 'owner/name'; got None"):
        ModelBuildCI(stack, "BuildCI", model_name="m", pipeline_name="m-build", artifact_bucket=core.artifact_bucket,
                     key=core.key, connection_arn=CONNECTION, code_areas=model_code_areas("m", algorithm="xgboost"))
