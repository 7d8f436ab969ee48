"""The steward's approval notification links to the package's model card."""
from __future__ import annotations

import mlops_contracts as contracts
from tests.functions.test_build_notifier import notifier

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-detection/7"


def test_the_approval_request_links_to_the_model_card_with_its_status():
    detail = {"ModelPackageArn": ARN, "ModelPackageGroupName": "fraud-detection", "ModelPackageVersion": 7,
              "ModelCard": {"ModelCardStatus": contracts.MODEL_CARD_STATUS}}
    _, body = notifier.approval_message(detail, {"auc": 0.95}, "eu-west-1")
    [line] = [line for line in body.splitlines() if line.startswith("Model card")]
    assert line.startswith(f"Model card (PendingReview): {notifier.console_link('eu-west-1', ARN)}")


def test_without_the_card_in_the_event_the_link_is_still_given():
    _, body = notifier.approval_message({"ModelPackageArn": ARN}, None, "eu-west-1")
    assert f"Model card: {notifier.console_link('eu-west-1', ARN)}" in body
