"""The shared handler loader: a cold start under exactly the given environment, leaving no trace behind."""
from __future__ import annotations

import os
import sys

from tests.support.lambda_handlers import load_handler

NAME = "functions.lifecycle_recorder.handler"


def test_the_handler_sees_exactly_its_environment_and_the_test_state_is_restored(monkeypatch):
    monkeypatch.setenv("PIPELINE_NAME", "set-by-an-earlier-test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "set-by-an-earlier-test")
    environment, module_before = dict(os.environ), sys.modules.get(NAME)
    with load_handler("lifecycle_recorder", {"MODEL_PACKAGE_GROUP": "fraud-detection"}) as first:
        assert first.__name__ == NAME and sys.modules[NAME] is first
        assert os.environ["MODEL_PACKAGE_GROUP"] == "fraud-detection"
        assert "PIPELINE_NAME" not in os.environ and "POWERTOOLS_SERVICE_NAME" not in os.environ
        assert os.environ["AWS_DEFAULT_REGION"]  # the session's process environment stays
    with load_handler("lifecycle_recorder") as second:
        assert second is not first  # imported afresh: module-level code runs again, as on a cold start
        assert "MODEL_PACKAGE_GROUP" not in os.environ
    assert dict(os.environ) == environment
    assert sys.modules.get(NAME) is module_before
