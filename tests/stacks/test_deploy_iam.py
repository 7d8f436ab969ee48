"""IAM checked against sources outside the project: every role CloudFormation deploys with grants the registry's
handler permissions of every resource in its template; no role can create or change IAM without a boundary;
service roles hold what their AWS documentation page requires.

Runs over the default app (all stages in the tooling account) and the pinned app (tooling, staging and prod in
three accounts), both session fixtures of conftest.
"""
from __future__ import annotations

import json

import pytest

import mlops_contracts as contracts
from tests.support.iam_eval import Context, allows, registry_handlers, render, resource_arn, role_statements

APPS = ["example_app", "pinned_app"]
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"

# Handler permissions for resource kinds no template of ours can contain, so the roles need not hold them.
IGNORED = {
    # The ScalableTarget handler manages Lambda provisioned concurrency only for service namespace "lambda";
    # ours are SageMaker variants (asserted below).
    "lambda:GetProvisionedConcurrencyConfig": "Lambda provisioned concurrency (ServiceNamespace lambda)",
    "lambda:PutProvisionedConcurrencyConfig": "Lambda provisioned concurrency (ServiceNamespace lambda)",
    "lambda:DeleteProvisionedConcurrencyConfig": "Lambda provisioned concurrency (ServiceNamespace lambda)",
    # AWS::IAM::Policy can attach to users and groups; our templates have neither (asserted below).
    "iam:GetUserPolicy": "IAM users", "iam:PutUserPolicy": "IAM users", "iam:DeleteUserPolicy": "IAM users",
    "iam:GetGroupPolicy": "IAM groups", "iam:PutGroupPolicy": "IAM groups", "iam:DeleteGroupPolicy": "IAM groups",
}

# Handler permissions the registry lists for every resource of a type, but whose call depends on a property: set
# (the permission is needed only when the resource sets it) or removed (needed only when the resource lacks it, the
# update then removing it). Each is required exactly when the template's resource is in that state.
NEEDED_WHEN_SET = {
    "AWS::Logs::LogGroup": {
        # A data protection policy, and the delivery of its audit findings to S3, Firehose or another log group.
        "logs:PutDataProtectionPolicy": "DataProtectionPolicy", "logs:DeleteDataProtectionPolicy": "DataProtectionPolicy",
        "logs:CreateLogDelivery": "DataProtectionPolicy", "s3:REST.PUT.OBJECT": "DataProtectionPolicy",
        "firehose:TagDeliveryStream": "DataProtectionPolicy",
        "logs:PutResourcePolicy": "ResourcePolicyDocument", "logs:DeleteResourcePolicy": "ResourcePolicyDocument",
        "logs:PutIndexPolicy": "FieldIndexPolicies", "logs:DeleteIndexPolicy": "FieldIndexPolicies",
        "logs:PutBearerTokenAuthentication": "BearerTokenAuthenticationEnabled",
        "logs:PutLogGroupDeletionProtection": "DeletionProtectionEnabled",
    },
}
NEEDED_WHEN_ABSENT = {
    "AWS::Logs::LogGroup": {"logs:DisassociateKmsKey": "KmsKeyId", "logs:DeleteRetentionPolicy": "RetentionInDays"},
}


def _retained(resource: dict) -> bool:
    """CloudFormation never calls the delete handler of a resource it retains on delete and on replacement."""
    return resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain"


def _contexts(app) -> dict[str, Context]:
    """Concrete account and region per stack; env-agnostic stacks share one stand-in account."""
    contexts = {}
    for name, stack in app.stacks.items():
        account = stack.account if stack.account.isdigit() else DEFAULT_ACCOUNT
        region = stack.region if not stack.region.startswith("${") else DEFAULT_REGION
        contexts[name] = Context(account, region, stack=name)
    return contexts


def _roles(app, contexts) -> dict[str, tuple[str, str]]:
    """Every role by rendered ARN: (stack, logical ID)."""
    return {resource_arn(lid, template, contexts[name]): (name, lid)
            for name, template in app.templates.items()
            for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def _cloudformation_deployments(app, contexts):
    """(deploy role stack, role ID, deployed stack name, model stack) for every CloudFormation deploy action."""
    roles = _roles(app, contexts)
    found = []
    for name, template in app.templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::CodePipeline::Pipeline":
                continue
            for stage in resource["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    if action["ActionTypeId"]["Provider"] != "CloudFormation":
                        continue
                    config = action["Configuration"]
                    role = render(config["RoleArn"], template, contexts[name])
                    found.append((*roles[role], config["StackName"], name))
    return found


def _endpoint_parameters(app, contexts, model_stack: str, deployed: str) -> dict[str, str]:
    """The values `mlops deploy-resolve` writes, from the model stack's outputs."""
    model_template, ctx = app.templates[model_stack], contexts[model_stack]
    key = next(lid for lid, r in model_template["Resources"].items() if r["Type"] == "AWS::KMS::Key")
    model = model_stack.split("-", 1)[1]
    return {contracts.ENDPOINT_PARAM_KEY: resource_arn(key, model_template, ctx), contracts.ENDPOINT_PARAM_DATA_BUCKET: "data-bucket",
            "TopicArn": f"arn:aws:sns:{ctx.region}:{ctx.account}:topic",
            "ModelPackageArn": f"arn:aws:sagemaker:{ctx.region}:{ctx.account}:model-package/{model}/2",
            contracts.ENDPOINT_PARAM_CHAMPION_PACKAGE: f"arn:aws:sagemaker:{ctx.region}:{ctx.account}:model-package/{model}/1"}


def _required(lid: str, resource: dict, template: dict, stack_name: str, ctx: Context):
    """(permission, resource ARN or None) pairs a resource's handlers need; None where the handler acts on a
    resource the template does not name (checked for the action alone)."""
    kind, props = resource["Type"], resource.get("Properties", {})
    p, r, a = ctx.partition, ctx.region, ctx.account
    own = {
        "AWS::SageMaker::Endpoint": f"arn:{p}:sagemaker:{r}:{a}:endpoint/"
                                    f"{render(props.get('EndpointName', lid), template, ctx)}",
        "AWS::SageMaker::EndpointConfig": f"arn:{p}:sagemaker:{r}:{a}:endpoint-config/{lid.lower()}-abc123",
        "AWS::SageMaker::Model": f"arn:{p}:sagemaker:{r}:{a}:model/{lid.lower()}-abc123",
        # CloudFormation names alarms <stack>-<logical ID>-<suffix>.
        "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:"
                                  f"{render(props['AlarmName'], template, ctx) if 'AlarmName' in props else f'{stack_name}-{lid}-ABC123'}",
        "AWS::CloudWatch::Dashboard": f"arn:{p}:cloudwatch::{a}:dashboard/"
                                      f"{render(props.get('DashboardName', lid), template, ctx)}",
    }.get(kind)
    service = kind.split("::")[1].lower()
    for handler, permissions in registry_handlers(kind, r).items():
        if handler == "delete" and _retained(resource) and kind == "AWS::Logs::LogGroup":
            continue
        for permission in permissions:
            if permission in IGNORED:
                continue
            if NEEDED_WHEN_SET.get(kind, {}).get(permission, "") not in ("", *props):
                continue
            if NEEDED_WHEN_ABSENT.get(kind, {}).get(permission) in props:
                continue
            target = None
            if permission.split(":")[0] == service.replace("applicationautoscaling", "application-autoscaling"):
                target = own
            elif kind == "AWS::SageMaker::Model" and permission == "iam:PassRole":
                target = render(props["ExecutionRoleArn"], template, ctx)
            elif kind == "AWS::SageMaker::EndpointConfig" and permission == "kms:DescribeKey" and "KmsKeyId" in props:
                target = render(props["KmsKeyId"], template, ctx)
            elif kind == "AWS::ApplicationAutoScaling::ScalableTarget" and permission.startswith("iam:"):
                target = render(props["RoleARN"], template, ctx)
            elif kind == "AWS::ApplicationAutoScaling::ScalableTarget" and permission.startswith("cloudwatch:"):
                target = (f"arn:{p}:cloudwatch:{r}:{a}:alarm:TargetTracking-"
                          f"{render(props['ResourceId'], template, ctx)}-AlarmHigh-ABC123")
            yield handler, permission, target


@pytest.mark.parametrize("app_name", APPS)
def test_every_deploy_role_grants_the_registry_handler_permissions_of_its_template(app_name, request):
    """CloudFormation registry schemas (shipped with cfn-lint) list what each resource type's create, update and
    delete handlers call; the role CloudFormation deploys with must allow each of them on that resource."""
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    deployments = _cloudformation_deployments(app, contexts)
    assert len(deployments) == 4  # staging and prod of the two endpoint models
    missing = []
    for role_stack, role_id, deployed, model_stack in deployments:
        ctx = Context(contexts[deployed].account, contexts[deployed].region, stack=deployed,
                      parameters=_endpoint_parameters(app, contexts, model_stack, deployed))
        template = app.templates[deployed]
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        for lid, resource in template["Resources"].items():
            assert resource["Type"] not in ("AWS::IAM::User", "AWS::IAM::Group")
            if resource["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget":
                assert resource["Properties"]["ServiceNamespace"] == "sagemaker"
            for handler, permission, target in _required(lid, resource, template, deployed, ctx):
                if not allows(statements, permission, target):
                    missing.append(f"{role_stack}/{role_id} -> {deployed}/{lid} ({resource['Type']} {handler}): "
                                   f"{permission} on {target or 'its resource'}")
    assert sorted(set(missing)) == []


@pytest.mark.parametrize("app_name", APPS)
def test_every_role_cloudformation_assumes_is_checked(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    checked = {(stack, lid) for stack, lid, _, _ in _cloudformation_deployments(app, contexts)}
    trusting = {(name, lid) for name, template in app.templates.items()
                for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"
                and "cloudformation.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])}
    assert trusting == checked


@pytest.mark.parametrize("app_name", APPS)
def test_deploy_roles_pass_only_the_serving_role_of_their_endpoint(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    for role_stack, role_id, deployed, _ in _cloudformation_deployments(app, contexts):
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        passed = sorted(r for s in statements if "iam:PassRole" in s["Action"] for r in s["Resource"])
        endpoint = deployed.split("-", 1)[1]
        ctx = contexts[deployed]
        assert passed == sorted([
            f"arn:aws:iam::{ctx.account}:role/{endpoint}-serving",
            (f"arn:aws:iam::{ctx.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
             "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")]), deployed


# Actions that create or change IAM roles, users, groups or policies: with any of them unconstrained, a role can
# grant itself (or a role it creates) more than it has.
ESCALATING = ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
              "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
              "iam:UpdateAssumeRolePolicy", "iam:CreatePolicy", "iam:CreatePolicyVersion",
              "iam:SetDefaultPolicyVersion", "iam:CreateUser", "iam:PutUserPolicy", "iam:AttachUserPolicy",
              "iam:CreateGroup", "iam:PutGroupPolicy", "iam:AttachGroupPolicy", "iam:AddUserToGroup",
              "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"]


@pytest.mark.parametrize("app_name", APPS)
def test_no_role_can_create_or_change_iam_unless_a_permissions_boundary_constrains_it(app_name, request):
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    findings, roles = [], 0
    for name, template in app.templates.items():
        for lid, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            roles += 1
            for statement in role_statements(template, lid, contexts[name]):
                if statement["Effect"] != "Allow":
                    continue
                bounded = "iam:PermissionsBoundary" in json.dumps(statement.get("Condition", {}))
                granted = [a for a in ESCALATING if allows([statement], a)]
                if granted and not bounded:
                    findings.append(f"{name}/{lid}: {granted}")
                if allows([statement], "iam:PassRole", "arn:aws:iam::000000000000:role/any-role"):
                    findings.append(f"{name}/{lid}: iam:PassRole on any role")
    assert roles > 40
    assert findings == []


# Documented needs of service roles.

def _serving_roles(app, contexts):
    """(endpoint stack, serving role stack, role ID) for every endpoint stack."""
    roles = _roles(app, contexts)
    for name, template in app.templates.items():
        models = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
        if models and any(r["Type"] == "AWS::SageMaker::Endpoint" for r in template["Resources"].values()):
            arn = render(models[0]["Properties"]["ExecutionRoleArn"], template, contexts[name])
            yield name, *roles[arn]


@pytest.mark.parametrize("app_name", APPS)
def test_serving_roles_may_describe_their_rollback_alarms(app_name, request):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html: "Ensure that your
    IAM execution role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms
    you specify." """
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    checked = 0
    for endpoint_stack, role_stack, role_id in _serving_roles(app, contexts):
        template, ctx = app.templates[endpoint_stack], contexts[endpoint_stack]
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        endpoint = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Endpoint")
        rollback = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
        for alarm in rollback:
            lid = alarm["AlarmName"]["Ref"]
            arn = f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{endpoint_stack}-{lid}-ABC123"
            assert allows(statements, "cloudwatch:DescribeAlarms", arn), (endpoint_stack, lid)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("app_name", APPS)
def test_serving_roles_hold_the_createmodel_execution_role_permissions(app_name, request):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms:
    pull the image from ECR, read the model artifacts from S3, write CloudWatch logs and metrics."""
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    for endpoint_stack, role_stack, role_id in _serving_roles(app, contexts):
        statements = role_statements(app.templates[role_stack], role_id, contexts[role_stack])
        ctx = contexts[endpoint_stack]
        for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
                       "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"):
            assert allows(statements, action), (endpoint_stack, action)
        log_group = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:/aws/sagemaker/Endpoints/" \
                    f"{endpoint_stack.split('-', 1)[1]}"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:DescribeLogStreams"):
            assert allows(statements, action, f"{log_group}:log-stream:x"), (endpoint_stack, action)
        artifacts = [r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]]
        assert artifacts and all(r.endswith("/pipelines/*") for r in artifacts), artifacts


@pytest.mark.parametrize("app_name", APPS)
def test_pipeline_execution_roles_pass_the_step_roles_and_create_each_job_type(app_name, request):
    """https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-access.html: the pipeline execution role
    needs iam:PassRole for the role passed to each job, and Create and Describe permissions for each job type."""
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    job_actions = {"Processing": "ProcessingJob", "Training": "TrainingJob", "Transform": "TransformJob"}
    pipelines = 0
    for name, template in app.templates.items():
        ctx = contexts[name]
        roles = {resource_arn(lid, template, ctx): lid for lid, r in template["Resources"].items()
                 if r["Type"] == "AWS::IAM::Role"}
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::SageMaker::Pipeline":
                continue
            pipelines += 1
            props = resource["Properties"]
            statements = role_statements(template, roles[render(props["RoleArn"], template, ctx)], ctx)
            body = json.loads(render(props["PipelineDefinition"]["PipelineDefinitionBody"], template, ctx))
            for step in body["Steps"]:
                if step["Type"] in job_actions:
                    for verb in ("Create", "Describe"):
                        assert allows(statements, f"sagemaker:{verb}{job_actions[step['Type']]}"), step["Name"]
                    assert allows(statements, "iam:PassRole", step["Arguments"]["RoleArn"]), step["Name"]
    assert pipelines == 3


def _target_action(arn: str) -> str:
    service, resource = arn.split(":")[2], arn.split(":")[5]
    return {"codepipeline": "codepipeline:StartPipelineExecution", "states": "states:StartExecution",
            "events": "events:PutEvents"}.get(service) or (
        "sagemaker:StartPipelineExecution" if resource.startswith("pipeline/") else f"{service}:?")


@pytest.mark.parametrize("app_name", APPS)
def test_scheduler_and_eventbridge_target_roles_may_start_their_targets(app_name, request):
    """EventBridge Scheduler: https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
    (trusted by scheduler.amazonaws.com, allowed the target's API). EventBridge rule targets with a role:
    https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cloudtrail-S3-source-cfn.html (codepipeline:
    StartPipelineExecution on the pipeline), https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
    (events:PutEvents on the target bus)."""
    app = request.getfixturevalue(app_name)
    contexts = _contexts(app)
    checked = set()
    for name, template in app.templates.items():
        ctx = contexts[name]
        roles = {resource_arn(lid, template, ctx): lid for lid, r in template["Resources"].items()
                 if r["Type"] == "AWS::IAM::Role"}
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Scheduler::Schedule":
                targets, principal = [resource["Properties"]["Target"]], "scheduler.amazonaws.com"
            elif resource["Type"] == "AWS::Events::Rule":
                targets = [t for t in resource["Properties"].get("Targets", []) if "RoleArn" in t]
                principal = "events.amazonaws.com"
            else:
                continue
            for target in targets:
                role_id = roles[render(target["RoleArn"], template, ctx)]
                trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                assert [s["Principal"] for s in trust] == [{"Service": principal}], role_id
                arn = render(target["Arn"], template, ctx)
                action = _target_action(arn)
                assert allows(role_statements(template, role_id, ctx), action, arn), (name, role_id, action, arn)
                checked.add(action)
    assert {"codepipeline:StartPipelineExecution", "states:StartExecution",
            "sagemaker:StartPipelineExecution"} <= checked
    if app_name == "pinned_app":
        assert "events:PutEvents" in checked
