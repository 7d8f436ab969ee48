"""The shared handler loader: a cold start under exactly the given environment, leaving no trace behind."""
from __future__ import annotations

import os
import sys

import mlops_contracts as contracts
from tests.functions.test_new_data_trigger import ENVIRONMENT as NEW_DATA_ENVIRONMENT
from tests.support import governance_helpers, monitoring_aws
from tests.support.lambda_handlers import deployed_functions, load_handler

NAME = "functions.lifecycle_recorder.handler"


def test_the_handler_sees_exactly_its_environment_and_the_test_state_is_restored(monkeypatch):
    monkeypatch.setenv(contracts.ENV_PIPELINE_NAME, "set-by-an-earlier-test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "set-by-an-earlier-test")
    environment, module_before = dict(os.environ), sys.modules.get(NAME)
    with load_handler("lifecycle_recorder", {contracts.ENV_MODEL_PACKAGE_GROUP: "fraud-detection"}) as first:
        assert first.__name__ == NAME and sys.modules[NAME] is first
        assert os.environ[contracts.ENV_MODEL_PACKAGE_GROUP] == "fraud-detection"
        assert contracts.ENV_PIPELINE_NAME not in os.environ and "POWERTOOLS_SERVICE_NAME" not in os.environ
        assert os.environ["AWS_DEFAULT_REGION"]  # the session's process environment stays
    with load_handler("lifecycle_recorder") as second:
        assert second is not first  # imported afresh: module-level code runs again, as on a cold start
        assert contracts.ENV_MODEL_PACKAGE_GROUP not in os.environ
    assert dict(os.environ) == environment
    assert sys.modules.get(NAME) is module_before


def test_the_shared_handler_environments_name_only_variables_their_templates_give(example_app):
    """A variable renamed in a construct cannot leave the handler tests configuring the old name."""
    given: dict[str, set[str]] = {}
    for function in deployed_functions(example_app):
        given.setdefault(function.folder, set()).update(function.variables)
    shared = {contracts.SERVICE_DRIFT_DETECTOR: monitoring_aws.DRIFT_ENVIRONMENT,
              "retrain_trigger": monitoring_aws.retrain_environment({"alarm": "drift"}),
              contracts.SERVICE_AUDIT_WRITER: governance_helpers.WRITER_ENVIRONMENT, "new_data_trigger": NEW_DATA_ENVIRONMENT}
    for folder, environment in shared.items():
        assert set(environment) <= given[folder], (folder, sorted(set(environment) - given[folder]))
