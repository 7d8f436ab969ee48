"""GuardedEndpoint and the per-stage endpoint stacks: guardrails, rollback wiring, autoscaling, validation."""
from __future__ import annotations

import json
import re

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_constructs.deploy import limits
from mlops_constructs.deploy.guarded_endpoint import GuardedEndpoint, VariantSpec
from tests.conftest import new_app

FRAUD_PROD = "mlops-fraud-detection-prod"
SUPPORT_STAGING = "mlops-support-assistant-staging"


def _resources(template: Template, kind: str) -> dict:
    return template.find_resources(kind)


def _rollback_alarm_ids(template: Template) -> list[str]:
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    alarms = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    return [a["AlarmName"]["Ref"] for a in alarms]


def test_fraud_prod_shifts_linearly_with_a_timeout_covering_every_step(example_app):
    template = example_app.template(FRAUD_PROD)
    template.has_resource_properties("AWS::SageMaker::Endpoint", {
        "EndpointName": contracts.endpoint_name("fraud-detection", "prod"),
        "DeploymentConfig": {"BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "LINEAR", "WaitIntervalInSeconds": 3600,
                                            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}},
            "TerminationWaitInSeconds": 600,
            # 4 steps x 3600 s bake + 600 s termination wait + 1200 s provisioning.
            "MaximumExecutionTimeoutInSeconds": 16_200,
        }},
    })


def test_every_rollback_alarm_exists_and_watches_this_endpoint_and_variant(example_app):
    template = example_app.template(FRAUD_PROD)
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    watched = {}
    for logical_id in _rollback_alarm_ids(template):
        assert logical_id in alarms, f"rollback names {logical_id}, which is not an alarm in the stack"
        props = alarms[logical_id]["Properties"]
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        watched[(props["Namespace"], props["MetricName"])] = props
        assert dims == {"EndpointName": "fraud-detection-prod", "VariantName": "primary"}
        assert props["AlarmActions"] == [{"Ref": contracts.ENDPOINT_PARAM_TOPIC}]
    # Fleet health only: drift and quality are monitoring alarms, never rollback alarms.
    assert set(watched) == {("AWS/SageMaker", "Invocation5XXErrors"), ("AWS/SageMaker", "ModelLatency")}
    errors = watched[("AWS/SageMaker", "Invocation5XXErrors")]
    assert (errors["Statistic"], errors["Threshold"], errors["ComparisonOperator"]) == (
        "Average", 0.05, "GreaterThanThreshold")
    assert errors["EvaluationPeriods"] == errors["DatapointsToAlarm"] == 3
    assert watched[("AWS/SageMaker", "ModelLatency")]["ExtendedStatistic"] == "p99"


def test_autoscaling_tracks_invocations_per_instance_between_config_bounds(example_app):
    template = example_app.template(FRAUD_PROD)
    target = Capture()
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "endpoint/fraud-detection-prod/variant/primary",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ServiceNamespace": "sagemaker", "MinCapacity": 4, "MaxCapacity": 8,
    })
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "ScalingTargetId": {"Ref": target},
        "TargetTrackingScalingPolicyConfiguration": {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "TargetValue": 2000,
        },
    })
    targets = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert targets[target.as_string()]["Properties"]["ResourceId"] == "endpoint/fraud-detection-prod/variant/primary"
    assert _resources(template, "AWS::SageMaker::Endpoint").keys() <= set(targets[target.as_string()]["DependsOn"])


def test_capture_goes_encrypted_to_the_capture_prefix_and_the_role_may_write_only_there(example_app):
    template = example_app.template(FRAUD_PROD)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "KmsKeyId": {"Ref": contracts.ENDPOINT_PARAM_KEY},
        "DataCaptureConfig": {
            "EnableCapture": True, "InitialSamplingPercentage": 100, "KmsKeyId": {"Ref": contracts.ENDPOINT_PARAM_KEY},
            "DestinationS3Uri": {"Fn::Join": ["", ["s3://", {"Ref": contracts.ENDPOINT_PARAM_DATA_BUCKET}, "/capture"]]},
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
        "ProductionVariants": [Match.object_like({"VariantName": "primary", "InitialInstanceCount": 4,
                                                  "InstanceType": "ml.m5.xlarge"})],
    })
    serving_role = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"},
                                      ":role/fraud-detection-prod-serving"]]}
    template.has_resource_properties("AWS::SageMaker::Model", {
        "ExecutionRoleArn": serving_role, "Containers": [{"ModelPackageName": {"Ref": "ModelPackageArn"}}],
    })
    # The serving role lives in the model stack: it may write capture data under capture/ only.
    model_stack = example_app.template("mlops-fraud-detection")
    (role_id,) = model_stack.find_resources("AWS::IAM::Role", {"Properties": {
        "RoleName": "fraud-detection-prod-serving"}})
    data_bucket = "CoreDataBucket9D957D57"  # pinned in test_app
    writes = [s for p in model_stack.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
              .values() for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:PutObject"]
    assert [w["Resource"] for w in writes] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [data_bucket, "Arn"]}, "/capture/*"]]}]


def test_ab_endpoint_serves_champion_and_challenger_with_weights_and_per_variant_alarms(example_app):
    template = example_app.template(SUPPORT_STAGING)
    models = _resources(template, "AWS::SageMaker::Model")
    package_of = {lid: m["Properties"]["Containers"][0]["ModelPackageName"]["Ref"] for lid, m in models.items()}
    variants = Capture()
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": variants})
    by_name = {v["VariantName"]: v for v in variants.as_array()}
    assert {n: v["InitialVariantWeight"] for n, v in by_name.items()} == {"champion": 0.9, "challenger": 0.1}
    assert package_of[by_name["champion"]["ModelName"]["Fn::GetAtt"][0]] == contracts.ENDPOINT_PARAM_CHAMPION_PACKAGE
    assert package_of[by_name["challenger"]["ModelName"]["Fn::GetAtt"][0]] == "ModelPackageArn"
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    rollback = [alarms[i]["Properties"] for i in _rollback_alarm_ids(template)]
    per_variant = {(a["MetricName"], d["Value"]) for a in rollback for d in a["Dimensions"] if d["Name"] == "VariantName"}
    assert per_variant == {(m, v) for m in ("Invocation5XXErrors", "ModelLatency") for v in ("champion", "challenger")}
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}}}})


def test_endpoint_stacks_are_plain_templates_the_pipeline_can_deploy(example_app):
    for stage in ("staging", "prod"):
        name = f"mlops-fraud-detection-{stage}"
        artifact = example_app.assembly.get_stack_by_name(name)
        assert [d.id for d in artifact.dependencies if not d.id.endswith(".assets")] == []
        assert set(example_app.templates[name]["Parameters"]) == {
            "ModelPackageArn", contracts.ENDPOINT_PARAM_DATA_BUCKET, contracts.ENDPOINT_PARAM_KEY, contracts.ENDPOINT_PARAM_TOPIC}
        assert not [r for r in example_app.templates[name]["Resources"].values() if r["Type"].startswith("AWS::IAM::")]
    assert "mlops-employee-attrition-staging" not in example_app.templates  # batch models have no endpoint


# Construct-level checks in a bare stack.

def _endpoint(**overrides) -> Template:
    stack = Stack(new_app(), "Test")
    props = {
        "model_name": "m", "endpoint_name": "m-staging", "model_package_arn": "arn:aws:sagemaker:eu-west-1:111111111111:"
        "model-package/m/1", "artifact_bucket": s3.Bucket(stack, "Artifacts"), "key": kms.Key(stack, "Key"),
        "image_repositories": [ecr.Repository.from_repository_name(stack, "Images", "m")],
        "alarm_topic": sns.Topic(stack, "Topic"),
    }
    props.update(overrides.pop("_with_stack", lambda s: {})(stack))
    props.update(overrides)
    GuardedEndpoint(stack, "Endpoint", **props)
    return Template.from_stack(stack)


def test_instance_store_types_get_no_volume_key_but_capture_stays_encrypted():
    template = _endpoint(instance_type="ml.g5.xlarge",
                         _with_stack=lambda s: {"capture_bucket": s3.Bucket(s, "Data")})
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "KmsKeyId": Match.absent(),
        "DataCaptureConfig": Match.object_like({"KmsKeyId": Match.any_value()}),
    })


def test_serverless_has_no_guardrails_no_capture_and_no_rollback_alarms():
    template = _endpoint(serverless_memory_mb=3072, serverless_max_concurrency=10)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ProductionVariants": [Match.object_like({"ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 10}})],
        "DataCaptureConfig": Match.absent(), "KmsKeyId": Match.absent(),
    })
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.absent()})
    assert _resources(template, "AWS::CloudWatch::Alarm") == {}


def test_all_at_once_bakes_once_and_has_no_step_size():
    template = _endpoint(traffic_shift="ALL_AT_ONCE", bake_seconds=300, termination_wait_seconds=0)
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300,
                                        "LinearStepSize": Match.absent(), "CanarySize": Match.absent()},
        "MaximumExecutionTimeoutInSeconds": 1_500}}})


@pytest.mark.parametrize(("props", "message"), [
    ({"traffic_shift": "LINEAR", "step_percent": 5}, "step_percent 5: LINEAR steps must be 10-50% of capacity"),
    ({"traffic_shift": "CANARY", "step_percent": 60}, "step_percent 60: CANARY steps must be 1-50% of capacity"),
    ({"traffic_shift": "LINEAR"}, "step_percent None: LINEAR steps must be 10-50% of capacity"),
    ({"step_percent": 20}, "step_percent 20: applies to LINEAR and CANARY only"),
    ({"traffic_shift": "BLUE"}, "traffic_shift BLUE: must be one of LINEAR, CANARY, ALL_AT_ONCE"),
    ({"bake_seconds": 4000}, "bake_seconds 4000: must be 0-3600"),
    ({"termination_wait_seconds": -1}, "termination_wait_seconds -1: must be 0-3600"),
    ({"traffic_shift": "LINEAR", "step_percent": 10, "bake_seconds": 3600, "instance_count": 10},
     "beyond SageMaker's 28800 s limit"),
    ({"traffic_shift": "LINEAR", "step_percent": 25, "instance_count": 3}, "shifts less than one instance"),
    ({"traffic_shift": "CANARY", "step_percent": 10, "instance_count": 1}, "a CANARY on 1 instance"),
    ({"max_error_rate": 1.5}, "max_error_rate 1.5 must lie in (0, 1)"),
    ({"error_minutes": 0}, "error_minutes 0 must be 1-60"),
    ({"instance_count": 101}, "instance_count 101 must be 1-100"),
    ({"min_instances": 3, "max_instances": 6, "instance_count": 2},
     "instance_count 2 must lie within autoscaling [3, 6]"),
    ({"min_instances": 3}, "autoscaling needs 1 <= min_instances <= max_instances <= 100; got [3, None]"),
    ({"min_instances": 2, "max_instances": 101}, "got [2, 101]"),
    ({"serverless_memory_mb": 1000}, "serverless_memory_mb 1000 must be one of [1024, 2048,"),
    ({"serverless_memory_mb": 2048, "serverless_max_concurrency": 201}, "serverless_max_concurrency 201 must be 1-200"),
    ({"min_instances": 4, "max_instances": 3, "instance_count": 3}, "got [4, 3]"),
    ({"serverless_memory_mb": 2048, "traffic_shift": "LINEAR", "step_percent": 10}, "no deployment guardrails"),
    ({"serverless_memory_mb": 2048, "min_instances": 1, "max_instances": 2}, "a serverless endpoint scales itself"),
    ({"variants": [VariantSpec("a", 0.5), VariantSpec("a", 0.5)]}, "variant names repeat"),
    ({"variants": [VariantSpec("a", 0)]}, "weight 0 must lie in (0, 1]"),
    ({"traffic_shift": "CANARY", "step_percent": 10, "instance_type": "ml.inf1.xlarge"},
     "SageMaker ignores traffic shifting on Inf1 instances (ml.inf1.xlarge)"),
])
def test_bad_props_fail_at_synth_naming_the_value_and_the_limit(props, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _endpoint(**props)


def test_serverless_refuses_data_capture():
    with pytest.raises(ValueError, match="a serverless endpoint has no data capture"):
        _endpoint(serverless_memory_mb=2048, _with_stack=lambda s: {"capture_bucket": s3.Bucket(s, "Data")})


def test_longest_valid_linear_shift_fits_sagemakers_limit():
    timeout = limits.execution_timeout_seconds("LINEAR", 50, 3600, 3600)
    assert timeout == 2 * 3600 + 3600 + 1200 <= limits.EXECUTION_TIMEOUT_RANGE[1]
    assert limits.traffic_shift_problems(kind="LINEAR", step_percent=50, bake_seconds=3600,
                                         termination_wait_seconds=3600, instance_count=2,
                                         instance_type="ml.m5.large") == []


def test_the_variant_dashboard_compares_champion_and_challenger(example_app):
    template = example_app.template(SUPPORT_STAGING)
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "support-assistant-staging-variants"
    body = "".join(p if isinstance(p, str) else "REGION" for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1])
    widgets = json.loads(body)["widgets"]
    variants_by_title = {}
    for widget in widgets:
        metrics = widget["properties"]["metrics"]
        variants_by_title[widget["properties"]["title"]] = sorted(m[5] for m in metrics)
        assert all(m[:5] == ["AWS/SageMaker", m[1], "EndpointName", "support-assistant-staging", "VariantName"]
                   for m in metrics)
    assert variants_by_title == {title: ["challenger", "champion"] for title in (
        "Invocations per variant", "5XX errors per variant", "p99 model latency per variant (us)")}


def _bare_endpoint(**props) -> GuardedEndpoint:
    stack = Stack(new_app(), "Test")
    return GuardedEndpoint(
        stack, "Endpoint", model_name="m", endpoint_name="m-staging", key=kms.Key(stack, "Key"),
        model_package_arn="arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1",
        artifact_bucket=s3.Bucket(stack, "Artifacts"),
        image_repositories=[ecr.Repository.from_repository_name(stack, "Images", "m")], **props)


def test_metric_methods_name_the_endpoint_and_variant_like_sagemaker_publishes_them():
    endpoint = _bare_endpoint(variants=[VariantSpec("a", 0.5), VariantSpec("b", 0.5)],
                              shadow_variant=VariantSpec("s"), traffic_shift="CANARY", step_percent=10)
    for method, name, statistic in ((endpoint.metric_invocations, "Invocations", "Sum"),
                                    (endpoint.metric_invocation_5xx_errors, "Invocation5XXErrors", "Sum"),
                                    (endpoint.metric_invocation_4xx_errors, "Invocation4XXErrors", "Sum"),
                                    (endpoint.metric_model_latency, "ModelLatency", "p99")):
        metric = method("b")
        assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/SageMaker", name, statistic)
        assert metric.dimensions == {"EndpointName": "m-staging", "VariantName": "b"}
        assert metric.period.to_minutes() == 5
    assert endpoint.metric_invocations("s").dimensions["VariantName"] == "s"  # the shadow variant too
    assert endpoint.metric_model_latency("a", statistic="p50", period=Duration.minutes(1)).statistic == "p50"
    with pytest.raises(ValueError, match=re.escape("no variant 'c'; variants are ['a', 'b', 's']")):
        endpoint.metric_invocations("c")


def test_rollback_and_rejection_alarms_watch_the_endpoints_own_metric_methods():
    endpoint = _bare_endpoint(variants=[VariantSpec("a", 0.5), VariantSpec("b", 0.5)], count_rejections=True,
                              traffic_shift="CANARY", step_percent=10)
    minute = Duration.minutes(1)
    expected = [m for v in ("a", "b") for m in (
        endpoint.metric_invocation_5xx_errors(v, statistic="Average", period=minute),
        endpoint.metric_model_latency(v, period=minute))]
    expected += [endpoint.metric_invocation_4xx_errors(v) for v in ("a", "b")]

    def key(metric):
        return (metric.metric_name, metric.statistic, metric.period.to_seconds(), tuple(metric.dimensions.items()))

    assert [key(a.metric) for a in endpoint.alarms + endpoint.rejection_alarms] == [key(m) for m in expected]
