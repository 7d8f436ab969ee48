"""ModelMonitoring: schedules, alarms on the right metric and dimensions, role permissions, retraining wiring."""
from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Capture, Match, Template

import mlops_contracts as contracts
from mlops_config.model import DriftMonitor, RetrainingSettings
from mlops_constructs._private.wildcard_review import add_nag_checks
from mlops_constructs.core.model_core import ModelCore
from mlops_constructs.monitor.model_monitoring import ModelMonitoring, schedule_period
from monitoring_code import limits
from tests.conftest import new_app

MODEL, ENDPOINT = "fraud-detection", "fraud-detection-prod"
MONITORS = {"schedule": "rate(1 hour)", "drift_metric": "psi", "drift_threshold": 0.2, "quality_metric": "recall",
            "quality_floor": 0.9, "retrain_on_alarm": True, "retrain_cooldown_hours": 12}
# CDK sorts them; ``service`` is the one Powertools adds (tests/end_to_end/test_metric_contract.py runs the real handlers).
DRIFT_DIMENSIONS = [{"Name": contracts.DIM_ENDPOINT, "Value": ENDPOINT}, {"Name": contracts.DIM_MODEL, "Value": MODEL},
                    {"Name": contracts.DIM_SERVICE, "Value": contracts.SERVICE_DRIFT_DETECTOR}]
QUALITY_DIMENSIONS = [{"Name": contracts.DIM_ENDPOINT, "Value": ENDPOINT}, {"Name": contracts.DIM_MODEL, "Value": MODEL},
                      {"Name": contracts.DIM_SERVICE, "Value": contracts.SERVICE_QUALITY_MONITOR}]


def build(**overrides):
    app = new_app()
    stack = Stack(app, "Monitored")
    core = ModelCore(stack, "Core", model_name=MODEL, owner="risk@example.com")
    props = {"model_name": MODEL, "endpoint_name": ENDPOINT, "data_bucket": core.data_bucket,
             "artifact_bucket": core.artifact_bucket, "key": core.key, "topic": core.topic, **MONITORS,
             "ground_truth_prefix": "ground-truth/fraud-detection/",
             "pipeline_name": contracts.build_pipeline_name(MODEL), "variants": ["primary"]}
    props.update(overrides)
    monitoring = ModelMonitoring(stack, "Monitoring", **props)
    add_nag_checks(app)
    app.synth()  # cdk-nag findings fail here
    return stack, monitoring


@pytest.fixture(scope="module")
def built():
    stack, monitoring = build()
    return Template.from_stack(stack), stack, monitoring


def logical_id(stack, construct) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_drift_detector_runs_on_the_configured_schedule(built):
    template, stack, monitoring = built
    template.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(1 hour)",
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [logical_id(stack, monitoring.drift_function.function),
                                                              "Arn"]}})],
    })
    template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({contracts.ENV_ENDPOINT_NAME: ENDPOINT,
                                                        contracts.ENV_DRIFT_METRIC: "psi",
                                                        contracts.ENV_DRIFT_THRESHOLD: "0.2",
                                                        contracts.ENV_MIN_SAMPLES: "500"})},
        "PackageType": "Image", "MemorySize": 2048,
    })


def test_drift_alarm_watches_the_overall_score_of_this_endpoint(built):
    template, stack, monitoring = built
    topic = Capture()
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{ENDPOINT}-drift", "Namespace": contracts.METRIC_NAMESPACE,
        "MetricName": contracts.METRIC_DRIFT_SCORE, "Dimensions": DRIFT_DIMENSIONS, "Statistic": "Maximum",
        "Period": 3600, "Threshold": 0.2, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": [topic],
    })
    assert topic.as_object() == {"Ref": logical_id(stack, monitoring._topic)}


def test_quality_alarm_fires_below_the_floor(built):
    template, _, _ = built
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{ENDPOINT}-quality", "MetricName": "Recall", "Dimensions": QUALITY_DIMENSIONS,
        "Threshold": 0.9, "ComparisonOperator": "LessThanThreshold", "TreatMissingData": "notBreaching",
    })


def test_baseline_error_alarm_exists(built):
    template, _, _ = built
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": contracts.METRIC_BASELINE_ERROR, "Dimensions": DRIFT_DIMENSIONS, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    })


def test_retraining_rule_listens_to_the_drift_and_quality_alarms(built):
    template, stack, monitoring = built
    alarms = [monitoring.drift_alarm, monitoring.prediction_drift_alarm, monitoring.quality_alarm]
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": [contracts.EVENT_SOURCE_CLOUDWATCH], "detail-type": [contracts.DETAIL_ALARM_STATE],
            "resources": Match.array_with([{"Fn::GetAtt": [logical_id(stack, a), "Arn"]} for a in alarms]),
            "detail": {"state": {"value": ["ALARM"]}},
        },
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [
            logical_id(stack, monitoring.retrain_trigger.function.function), "Arn"]}})],
    })
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({
        contracts.ENV_PIPELINE_NAME: "fraud-detection-build", contracts.ENV_COOLDOWN_HOURS: "12"})}})


def test_retrain_role_may_start_only_its_pipeline(built):
    template, stack, monitoring = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": logical_id(stack, monitoring.retrain_trigger.function.role)}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": ["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
            "Resource": {"Fn::Join": ["", Match.array_with([":pipeline/fraud-detection-build"])]},
        })])},
    })


def test_retrain_role_may_use_the_idempotency_table_and_its_key(built):
    template, stack, monitoring = built
    trigger = monitoring.retrain_trigger
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": logical_id(stack, trigger.function.role)}],
        "PolicyDocument": {"Statement": Match.array_with([  # CDK merges statements on the same resource
            Match.object_like({"Action": Match.array_with(["kms:Encrypt", "kms:GenerateDataKey"]),
                               "Resource": {"Fn::GetAtt": [logical_id(stack, monitoring._key), "Arn"]}}),
            Match.object_like({"Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                                          "dynamodb:UpdateItem"],
                               "Resource": {"Fn::GetAtt": [logical_id(stack, trigger.table), "Arn"]}}),
        ])},
    })


def test_idempotency_table_is_encrypted_with_the_model_key_and_has_pitr(built):
    template, stack, monitoring = built
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                             "KMSMasterKeyId": {"Fn::GetAtt": [logical_id(stack, monitoring._key), "Arn"]}},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
    })


def test_drift_role_reads_capture_of_this_endpoint_and_writes_reports(built):
    template, stack, monitoring = built
    bucket = logical_id(stack, monitoring._data_bucket)
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": logical_id(stack, monitoring.drift_function.role)}],
        "PolicyDocument": {"Statement": Match.array_with([  # in the order they are added
            Match.object_like({"Action": "sagemaker:DescribeEndpoint", "Resource": {"Fn::Join": ["", Match.array_with(
                [f":endpoint/{ENDPOINT}"])]}}),
            Match.object_like({"Action": "s3:GetObject", "Resource": Match.array_with([{"Fn::Join": ["", [
                {"Fn::GetAtt": [bucket, "Arn"]}, f"/capture/{ENDPOINT}/*"]]}])}),
            Match.object_like({"Action": "s3:ListBucket", "Condition": {"StringLike": {
                "s3:prefix": [f"{contracts.CAPTURE_PREFIX}/{ENDPOINT}/*"]}}}),
            Match.object_like({"Action": "s3:PutObject", "Resource": {"Fn::Join": ["", [
                {"Fn::GetAtt": [bucket, "Arn"]}, f"/monitoring/{ENDPOINT}/*"]]}}),
        ])},
    })


def test_dashboard_is_named_after_the_endpoint(built):
    template, _, _ = built
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": f"{ENDPOINT}-monitoring"})


def test_without_retraining_there_is_no_trigger():
    stack, monitoring = build(retrain_on_alarm=False)
    assert monitoring.retrain_trigger is None
    Template.from_stack(stack).resource_properties_count_is(
        "AWS::Events::Rule", {"EventPattern": Match.object_like({"source": [contracts.EVENT_SOURCE_CLOUDWATCH]})}, 0)


@pytest.mark.parametrize("overrides, message", [
    ({"drift_metric": None, "quality_metric": None}, "neither drift nor quality"),
    ({"ground_truth_prefix": None}, "quality_metric needs ground_truth_prefix"),
    ({"pipeline_name": None}, "retrain_on_alarm needs pipeline_name"),
    ({"drift_metric": "kl"}, r"drift_metric must be one of \('psi', 'jensen_shannon', 'linf'\); got 'kl'"),
    ({"drift_threshold": 0}, "drift threshold must be > 0 and <= 10.0; got 0"),
    ({"drift_threshold": 10.5}, "drift threshold must be > 0 and <= 10.0; got 10.5"),
    ({"drift_min_samples": 0}, "min_samples must be >= 1; got 0"),
    ({"quality_metric": "mape"}, "quality_metric must be one of"),
    ({"quality_floor": None}, "quality_metric needs quality_floor from 0 to 1; got None"),
    ({"quality_floor": 1.5}, "quality_metric needs quality_floor from 0 to 1; got 1.5"),
    ({"retrain_cooldown_hours": 721}, "cooldown_hours must be 0 to 720; got 721"),
])
def test_bad_props_fail_at_synth_with_the_reason(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)


@pytest.mark.parametrize("expression, seconds", [
    ("rate(1 hour)", 3600), ("rate(30 minutes)", 1800), ("rate(2 days)", 86400), ("cron(0 * * * ? *)", 3600)])
def test_alarm_period_follows_the_schedule(expression, seconds):
    assert schedule_period(expression).to_seconds() == seconds


def test_example_models_get_alarms_from_their_config(example_app, example_config):
    support = next(m for m in example_config.models if m.name == "support-assistant")
    template = example_app.template("mlops-support-assistant")
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "support-assistant-prod-drift", "Threshold": support.monitoring.drift.threshold,
        "MetricName": contracts.METRIC_DRIFT_SCORE})
    fraud = example_app.template("mlops-fraud-detection")
    fraud.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "fraud-detection-prod-quality", "MetricName": "Recall", "Threshold": 0.9})


def test_drift_detector_may_start_the_fanout_it_is_pointed_at(built):
    template, stack, monitoring = built
    machine = logical_id(stack, monitoring.drift_fanout.state_machine)
    detector = template.to_json()["Resources"][logical_id(stack, monitoring.drift_function.function)]
    assert detector["Properties"]["Environment"]["Variables"][contracts.ENV_STATE_MACHINE_ARN] == {"Ref": machine}
    role = logical_id(stack, monitoring.drift_function.role)
    starts = [s for r in template.to_json()["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
              and {"Ref": role} in r["Properties"]["Roles"] for s in r["Properties"]["PolicyDocument"]["Statement"]
              if s["Action"] == "states:StartExecution"]
    assert starts == [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine}}]


def test_drift_only_needs_no_ground_truth_and_builds_no_quality_monitor():
    _, monitoring = build(quality_metric=None, ground_truth_prefix=None)
    assert monitoring.quality_function is None and monitoring.quality_alarm is None
    assert monitoring.drift_alarm is not None


@pytest.mark.parametrize(("field", "value"), [("threshold", limits.MAX_DRIFT_THRESHOLD),
                                              ("threshold", limits.MAX_DRIFT_THRESHOLD + 0.01)])
def test_config_and_construct_share_the_drift_threshold_limit(field, value):
    """One limit: a threshold the config accepts, the construct accepts; one it refuses, the construct refuses."""
    try:
        DriftMonitor(**{field: value})
        accepted = True
    except ValueError:
        accepted = False
    if accepted:
        build(drift_threshold=value)
    else:
        with pytest.raises(ValueError, match="drift threshold"):
            build(drift_threshold=value)


def test_config_and_construct_share_the_cooldown_limit():
    RetrainingSettings(cooldown_hours=limits.MAX_COOLDOWN_HOURS)
    with pytest.raises(ValueError):
        RetrainingSettings(cooldown_hours=limits.MAX_COOLDOWN_HOURS + 1)
    with pytest.raises(ValueError, match="cooldown_hours must be 0 to 720"):
        build(retrain_cooldown_hours=limits.MAX_COOLDOWN_HOURS + 1)
