"""An object that is not a drop marker is skipped and counted: one ObjectsSkipped (Count) in MLOps/BuildTriggers and
a log line naming the bucket and key, through the Lambda's entry point."""
from __future__ import annotations

import json
import sys

import mlops_contracts as contracts
from tests.functions.test_new_data_trigger import BUCKET, ENVIRONMENT, PREFIX, _object_created, aws  # noqa: F401
from tests.support.lambda_handlers import load_handler


def test_a_skipped_object_is_logged_and_counted(aws, monkeypatch, capsys, lambda_context):  # noqa: F811
    key = f"{PREFIX}2027-01/part-0001.csv"
    with load_handler("new_data_trigger", ENVIRONMENT) as handler:
        # Powertools keeps one stream handler per service, created by the first import: point it at captured
        # stdout (assigned, not setStream: that flushes the old stream, which an earlier test's capture may have
        # closed).
        monkeypatch.setattr(handler.logger.registered_handler, "stream", sys.stdout)
        assert handler.handler(_object_created(key), lambda_context) == {"started": False, "key": key}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [log] = [line for line in lines if line.get("message") == "not a drop marker; skipped"]
    assert (log["bucket"], log["key"]) == (BUCKET, key)
    [emf] = [line for line in lines if "_aws" in line]
    assert emf[contracts.METRIC_OBJECTS_SKIPPED] == [1.0]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == contracts.BUILD_TRIGGERS_METRIC_NAMESPACE
    assert {"Name": contracts.METRIC_OBJECTS_SKIPPED, "Unit": "Count"} in directive["Metrics"]
