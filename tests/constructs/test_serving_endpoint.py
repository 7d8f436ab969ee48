"""Endpoint wiring of the serving contract: the rejection log line the serving code prints becomes a metric, and
4XX responses raise an alarm. The filter pattern is checked against the real log line, not a hand-written one."""
from __future__ import annotations

import io
import json

import mlops_contracts as contracts
from pipeline_code.endpoint import serving
from tests.constructs.test_guarded_endpoint import FRAUD_PROD, SUPPORT_STAGING, _resources


def _logged_rejection() -> dict:
    stream = io.StringIO()
    serving.log_rejection("fraud-detection", serving.BadRequest("x", reason="unseen_category", column="channel",
                                                                 value="pigeon"), stream)
    return json.loads(stream.getvalue())


def test_fraud_endpoint_owns_its_log_group_and_counts_each_logged_rejection_by_reason(example_app):
    template = example_app.template(FRAUD_PROD)
    (group_id, group), = _resources(template, "AWS::Logs::LogGroup").items()
    assert group["Properties"]["LogGroupName"] == "/aws/sagemaker/Endpoints/fraud-detection-prod"
    assert group["Properties"]["KmsKeyId"] == {"Ref": contracts.ENDPOINT_PARAM_KEY} and group["DeletionPolicy"] == "Retain"
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    assert group_id in endpoint["DependsOn"], "SageMaker must find the group (retention, KMS) before it logs"
    (metric_filter,) = _resources(template, "AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": group_id}
    (transform,) = props["MetricTransformations"]
    assert (transform["MetricNamespace"], transform["MetricName"]) == (contracts.METRIC_NAMESPACE,
                                                                      contracts.METRIC_REJECTED_REQUESTS)
    event = _logged_rejection()
    # The pattern selects the serving code's own line, and every dimension is a field that line carries.
    field, _, value = props["FilterPattern"].strip("{} ").partition(" = ")
    assert event[field.removeprefix("$.")] == value.strip('"')
    for dimension in transform["Dimensions"]:
        assert dimension["Value"].removeprefix("$.") == dimension["Key"] and dimension["Key"] in event
    assert {d["Key"] for d in transform["Dimensions"]} == {contracts.DIM_MODEL, contracts.DIM_REASON}


def test_every_variant_has_a_4xx_alarm_that_notifies_but_does_not_roll_back(example_app):
    template = example_app.template(FRAUD_PROD)
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    rejections = {k: a["Properties"] for k, a in alarms.items() if a["Properties"]["MetricName"] == "Invocation4XXErrors"}
    assert len(rejections) == 1
    (props,) = rejections.values()
    assert {d["Name"]: d["Value"] for d in props["Dimensions"]} == {"EndpointName": "fraud-detection-prod",
                                                                   "VariantName": "primary"}
    assert props["AlarmActions"] == [{"Ref": contracts.ENDPOINT_PARAM_TOPIC}]
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    rollback = [a["AlarmName"]["Ref"] for a in endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]
                ["Alarms"]]
    assert not set(rejections) & set(rollback)


def test_custom_image_endpoints_keep_their_own_logging(example_app):
    template = example_app.template(SUPPORT_STAGING)
    assert not _resources(template, "AWS::Logs::MetricFilter")
    assert not _resources(template, "AWS::Logs::LogGroup")


def test_the_drift_detector_is_told_capture_holds_category_names(example_app):
    template = example_app.template("mlops-fraud-detection")
    functions = [f["Properties"] for f in _resources(template, "AWS::Lambda::Function").values()
                 if contracts.ENV_DRIFT_METRIC in f["Properties"].get("Environment", {}).get("Variables", {})]
    assert len(functions) == 1
    variables = functions[0]["Environment"]["Variables"]
    assert variables[contracts.ENV_CATEGORICAL_INPUT] == contracts.CATEGORICAL_NAMES


def test_capture_of_a_score_label_reply_joins_its_score_by_inference_id():
    """The quality monitor joins labels to captured scores: the served model's CSV reply is ``score,label``."""
    from monitoring_code.capture_decode import CaptureDecoder, CaptureSchema
    from monitoring_code.capture_records import capture_line

    schema = CaptureSchema(("amount", "channel"), frozenset({"channel"}), categorical_codes=False)
    lines = [capture_line("12.5,online", "0.8125,1\n", inference_id="a"),
             capture_line("3.0,atm", "0.0625,0\n", inference_id="b"),
             capture_line("7.0,chip\n8.0,chip", "0.25,0\n0.75,1\n", inference_id="c")]
    decoded = CaptureDecoder(schema).decode("\n".join(lines) + "\n", keep_ids=True)
    assert decoded.scored == [("a", 0.8125), ("b", 0.0625)]  # single-row records only, as before
    assert decoded.predictions.tolist() == [0.8125, 0.0625, 0.25, 0.75]
    assert list(decoded.columns["channel"]) == ["online", "atm", "chip", "chip"] and not decoded.malformed


# Registry handler permissions the endpoint's log resources do not need: features GuardedEndpoint never sets
# (data protection, index, resource and bearer-token policies, log delivery to S3/Firehose, deletion protection),
# removal of the KMS key or retention it always sets, and deletion of a retained group.
NOT_NEEDED = {"logs:PutDataProtectionPolicy", "logs:CreateLogDelivery", "s3:REST.PUT.OBJECT",
              "firehose:TagDeliveryStream", "logs:PutResourcePolicy", "logs:PutIndexPolicy", "logs:DeleteIndexPolicy",
              "logs:DeleteResourcePolicy", "logs:PutBearerTokenAuthentication", "logs:PutLogGroupDeletionProtection",
              "logs:DisassociateKmsKey", "logs:DeleteRetentionPolicy", "logs:DeleteLogGroup",
              "logs:DeleteDataProtectionPolicy"}


def _handler_permissions(type_name: str) -> set:
    """create/read/update/delete handler permissions from the CloudFormation registry schema cfn-lint bundles."""
    import glob
    import os

    import cfnlint

    schemas = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
    with open(os.path.join(schemas, "providers", "us-east-1.json")) as handle:
        digest = json.load(handle)[type_name]
    (path,) = glob.glob(os.path.join(schemas, "resources", f"{digest}*"))
    with open(path) as handle:
        handlers = json.load(handle)["handlers"]
    return {p for kind in ("create", "read", "update", "delete") for p in handlers[kind]["permissions"]}


def test_the_stage_deploy_role_may_create_and_update_the_endpoint_log_resources(example_app):
    template = example_app.template("mlops-fraud-detection")
    granted = {}
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Sid") in ("EndpointLogs", "DescribeLogs"):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                granted.setdefault(statement["Sid"], set()).update(actions)
    assert set(granted) == {"EndpointLogs", "DescribeLogs"}
    needed = (_handler_permissions("AWS::Logs::LogGroup") | _handler_permissions("AWS::Logs::MetricFilter"))
    missing = needed - NOT_NEEDED - granted["EndpointLogs"] - granted["DescribeLogs"]
    assert not missing, f"the deploy role lacks {sorted(missing)}"


def test_an_endpoint_in_a_stage_account_may_encrypt_its_log_group_and_its_rejection_alarms_are_forwarded(pinned_app):
    """Prod in account 222222222222: its log group uses the tooling account's model key, so the key policy lets
    CloudWatch Logs use it for exactly that log group; the 4XX alarms have no SNS action there (the stage forwards
    the state changes of alarms named under its stack, as for the rollback alarms)."""
    prod = pinned_app.templates["mlops-fraud-detection-prod"]
    (group,) = [r for r in prod["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    name = group["Properties"]["LogGroupName"]
    assert name == "/aws/sagemaker/Endpoints/fraud-detection-prod"
    tooling = pinned_app.templates["mlops-fraud-detection"]
    (key,) = [r for r in tooling["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    logs_statements = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                       if "logs." in json.dumps(s.get("Principal", {})) and "222222222222" in json.dumps(s)]
    assert len(logs_statements) == 1
    assert logs_statements[0]["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:222222222222:log-group:{name}"}}
    rejections = [r["Properties"] for r in prod["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
                  and r["Properties"]["MetricName"] == "Invocation4XXErrors"]
    assert rejections and all("AlarmActions" not in a and "AlarmName" not in a for a in rejections)
