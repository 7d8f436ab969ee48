"""Hourly drift check of one endpoint: capture files of the previous hour against the serving model's baseline.

Environment: MODEL_NAME, ENDPOINT_NAME, DATA_BUCKET, DRIFT_METRIC, DRIFT_THRESHOLD, MIN_SAMPLES; DRIFT_STEP
(``plan``, the default: the scheduled check; ``count`` and ``reduce``: the fan-out's child and final step);
STATE_MACHINE_ARN and FANOUT_BYTES (an hour holding more capture bytes than this is fanned out to that state
machine's Distributed Map; without STATE_MACHINE_ARN every hour is checked here). CATEGORICAL_INPUT (``names``, the
default: capture holds raw category names; ``codes``: a custom image's encoder.json codes; the plan passes it on to
the fan-out's children).
Publishes EMF metrics (namespace ``contracts.METRIC_NAMESPACE``) and writes a JSON report to
``monitoring/<endpoint>/yyyy/mm/dd/hh/drift.json`` in the data bucket. Capture objects are streamed in bounded
pieces, whatever their size; the single pass and the fan-out share the counting and scoring code
(``monitoring_code.drift_fanout``), so both give the same report.
"""
from __future__ import annotations

import json
import os
from datetime import datetime

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

import mlops_contracts as contracts
from monitoring_code import drift_fanout, limits, monitoring_window
from monitoring_code.drift_detect import VERDICT_DRIFT, VERDICT_INSUFFICIENT, VERDICT_NO_DRIFT
from monitoring_code.endpoint_session import endpoint_sagemaker_client
from pipeline_code.training.drift_stats import Baseline, BaselineError

logger = Logger()
metrics = Metrics(namespace=contracts.METRIC_NAMESPACE)


def analyze_variant(s3, bucket: str, baseline, objects: list[dict], *, metric: str, threshold: float,
                    min_samples: int, categorical_codes: bool = False) -> dict:
    """Drift report of one variant's window (``objects``: its listed capture objects): the fan-out's code path
    (``count_batch``, ``merged_windows``) with one batch of every object, each streamed in bounded pieces.

    Capture holds what clients send: raw records with category names (the served model encodes them), or the
    encoder.json codes for a custom image declared ``input: encoded`` (``categorical_codes``).
    """
    state = drift_fanout.count_batch(baseline, _bodies(s3, bucket, [o["Key"] for o in objects]),
                                     categorical_codes=categorical_codes)
    window = drift_fanout.merged_windows({"v": baseline}, [{"variant": "v", "state": state}])["v"]
    return window.report(metric=metric, threshold=threshold, min_samples=min_samples)


def _bodies(s3, bucket: str, keys: list[str]):
    for key in keys:
        yield s3.get_object(Bucket=bucket, Key=key)["Body"]  # botocore StreamingBody: read in pieces


def merge(variants: dict[str, dict], errors: dict[str, str], min_samples: int) -> dict:
    """The endpoint's verdict: the worst variant's score, summed counts; drift if any variant drifted."""
    scored = [r for r in variants.values() if r["verdict"] != VERDICT_INSUFFICIENT]
    verdict = VERDICT_INSUFFICIENT
    if scored:
        verdict = VERDICT_DRIFT if any(r["verdict"] == VERDICT_DRIFT for r in scored) else VERDICT_NO_DRIFT
    scores = [r["drift_score"] for r in scored if r["drift_score"] is not None]
    predictions = [r["prediction"]["score"] for r in scored if r.get("prediction") and
                   r["prediction"]["score"] is not None]
    return {
        "verdict": verdict,
        "records": sum(r["records"] for r in variants.values()),
        "rows": sum(r["rows"] for r in variants.values()),
        "malformed_records": sum(r["malformed_records"] for r in variants.values()),
        "min_samples": min_samples,
        "drift_score": max(scores) if scores else None,
        "prediction_drift_score": max(predictions) if predictions else None,
        "drifted_features": sorted({f for r in scored for f in r["drifted_features"]}),
        "baseline_errors": errors,
        "variants": variants,
    }


def publish(report: dict, model: str, endpoint: str) -> None:
    """EMF metrics: counts and guards always; scores only with a verdict, so no alarm fires without one."""
    metrics.add_dimension(contracts.DIM_MODEL, model)
    metrics.add_dimension(contracts.DIM_ENDPOINT, endpoint)
    metrics.add_metric(contracts.METRIC_RECORDS, MetricUnit.Count, report["records"])
    metrics.add_metric(contracts.METRIC_MALFORMED, MetricUnit.Count, report["malformed_records"])
    metrics.add_metric(contracts.METRIC_BASELINE_ERROR, MetricUnit.Count, 1 if report["baseline_errors"] else 0)
    insufficient = report["verdict"] == VERDICT_INSUFFICIENT
    metrics.add_metric(contracts.METRIC_INSUFFICIENT, MetricUnit.Count, 1 if insufficient else 0)
    if insufficient:
        return
    if report["drift_score"] is not None:
        metrics.add_metric(contracts.METRIC_DRIFT_SCORE, MetricUnit.NoUnit, report["drift_score"])
    metrics.add_metric(contracts.METRIC_DRIFTED_FEATURES, MetricUnit.Count, len(report["drifted_features"]))
    if report["prediction_drift_score"] is not None:
        metrics.add_metric(contracts.METRIC_PREDICTION_DRIFT, MetricUnit.NoUnit, report["prediction_drift_score"])
    for feature, score in _feature_scores(report).items():
        with single_metric(name=contracts.METRIC_DRIFT_SCORE, unit=MetricUnit.NoUnit, value=score,
                           namespace=contracts.METRIC_NAMESPACE,
                           default_dimensions={contracts.DIM_MODEL: model, contracts.DIM_ENDPOINT: endpoint,
                                               contracts.DIM_FEATURE: feature}):
            pass


def _feature_scores(report: dict) -> dict[str, float]:
    """Each feature's worst score over the variants that reached a verdict."""
    scores: dict[str, float] = {}
    for variant in report["variants"].values():
        for name, feature in variant["features"].items():
            if feature["score"] is not None:
                scores[name] = max(scores.get(name, feature["score"]), feature["score"])
    return scores


def serving_baselines(s3, sagemaker, endpoint: str) -> tuple[dict[str, str], dict[str, Baseline], dict[str, str]]:
    """The baseline URI and baseline of each served variant, and the errors that left a variant (or the endpoint)
    without one; each URI is loaded once, so a corrupt baseline is an error before any capture is read."""
    uris, errors, loaded = {}, {}, {}
    try:
        packages = monitoring_window.serving_packages(sagemaker, endpoint)
    except BaselineError as exc:
        packages, errors["endpoint"] = {}, str(exc)
    except sagemaker.exceptions.ClientError as exc:
        packages = {}
        if "Could not find endpoint" not in str(exc):  # not deployed yet: nothing to monitor, not an error
            errors["endpoint"] = f"cannot describe endpoint {endpoint}: {exc}"
    for variant, package in sorted(packages.items()):
        try:
            uri = monitoring_window.baseline_uri(sagemaker, package)
            if uri not in loaded:
                loaded[uri] = monitoring_window.load_baseline(s3, uri)
            uris[variant] = uri
        except BaselineError as exc:
            errors[variant] = str(exc)
    return uris, {variant: loaded[uri] for variant, uri in uris.items()}, errors


def run(s3, sagemaker, *, model: str, endpoint: str, bucket: str, event_time: str | None, metric: str,
        threshold: float, min_samples: int, state_machine: str | None = None,
        fanout_bytes: int = drift_fanout.FANOUT_BYTES, batch_bytes: int = drift_fanout.BATCH_BYTES,
        categorical_codes: bool = False) -> dict:
    """Check every variant of the endpoint for the window: here, or (an hour of more than ``fanout_bytes`` of
    capture, with a ``state_machine``) by starting the Distributed Map fan-out, whose reduce step reports.
    ``categorical_codes``: see ``analyze_variant``; the plan carries it to the fan-out's children."""
    hour = monitoring_window.window_hour(event_time)
    uris, baselines, errors = serving_baselines(s3, sagemaker, endpoint)
    objects = {v: monitoring_window.window_objects(s3, bucket, monitoring_window.capture_prefix(endpoint, v, hour))
               for v in uris}
    total = sum(o["Size"] for listed in objects.values() for o in listed)
    settings = {"model": model, "endpoint": endpoint, "bucket": bucket, "hour": hour.isoformat(), "metric": metric,
                "threshold": threshold, "min_samples": min_samples, "baselines": uris, "errors": errors,
                "categorical_codes": categorical_codes}
    if state_machine and total > fanout_bytes:
        return fan_out(s3, boto3.client("stepfunctions"), state_machine, settings, objects, batch_bytes)
    variants = {variant: analyze_variant(s3, bucket, baselines[variant], objects[variant], metric=metric,
                                         threshold=threshold, min_samples=min_samples,
                                         categorical_codes=categorical_codes) for variant in uris}
    return finish(s3, settings, variants)


def fan_out(s3, stepfunctions, state_machine: str, settings: dict, objects: dict, batch_bytes: int) -> dict:
    """Write the plan and the batches, start the state machine; its reduce step publishes and reports."""
    hour = datetime.fromisoformat(settings["hour"])
    prefix = drift_fanout.fanout_prefix(settings["endpoint"], hour)
    batches = drift_fanout.plan_batches(objects, batch_bytes)
    plan_key, batches_key = f"{prefix}/plan.json", f"{prefix}/batches.json"
    for key, body in ((plan_key, settings), (batches_key, batches)):
        s3.put_object(Bucket=settings["bucket"], Key=key, Body=json.dumps(body).encode(),
                      ContentType="application/json")
    execution = stepfunctions.start_execution(
        stateMachineArn=state_machine, name=f"{settings['endpoint']}-{hour:%Y%m%d%H}"[:80],
        input=json.dumps({"bucket": settings["bucket"], "plan_key": plan_key, "batches_key": batches_key,
                          "results_prefix": f"{prefix}/results"}),
    )
    logger.info("drift check fanned out", extra={"batches": len(batches), "execution": execution["executionArn"]})
    return {"verdict": "fanned_out", "batches": len(batches), "execution": execution["executionArn"]}


def count(s3, event: dict) -> dict:
    """The Distributed Map's child: one batch of capture objects of one variant counted into mergeable counts."""
    plan = _read_json(s3, event["bucket"], event["plan_key"])
    batch = event["batch"]
    baseline = monitoring_window.load_baseline(s3, plan["baselines"][batch["variant"]])
    return {"variant": batch["variant"],
            "state": drift_fanout.count_batch(baseline, _bodies(s3, plan["bucket"], batch["keys"]),
                                              categorical_codes=plan.get("categorical_codes", False))}


def reduce(s3, event: dict) -> dict:
    """After the Distributed Map: the children's counts (from its ResultWriter) merged per variant, scored,
    published and reported, exactly as a single pass would."""
    plan = _read_json(s3, event["bucket"], event["plan_key"])
    writer = event["result_writer"]
    manifest = _read_json(s3, writer["Bucket"], writer["Key"])
    baselines = {v: monitoring_window.load_baseline(s3, uri) for v, uri in plan["baselines"].items()}
    outputs = drift_fanout.result_writer_outputs(lambda bucket, key: _read_json(s3, bucket, key), manifest)
    windows = drift_fanout.merged_windows(baselines, outputs)
    variants = {v: w.report(metric=plan["metric"], threshold=plan["threshold"], min_samples=plan["min_samples"])
                for v, w in sorted(windows.items())}
    return finish(s3, plan, variants)


def finish(s3, settings: dict, variants: dict[str, dict]) -> dict:
    """The endpoint's report from its variants' reports: metrics published, report stored; returns it."""
    report = merge(variants, settings["errors"], settings["min_samples"])
    report.update(model=settings["model"], endpoint=settings["endpoint"], window=settings["hour"],
                  metric=settings["metric"], threshold=settings["threshold"])
    publish(report, settings["model"], settings["endpoint"])
    s3.put_object(Bucket=settings["bucket"],
                  Key=monitoring_window.report_key(settings["endpoint"], datetime.fromisoformat(settings["hour"]),
                                                   "drift.json"),
                  Body=json.dumps(report, indent=1).encode(), ContentType="application/json")
    if settings["errors"]:
        logger.error("baseline errors", extra={"errors": settings["errors"]})
    logger.info("drift check", extra={k: report[k] for k in ("verdict", "records", "malformed_records",
                                                            "drift_score", "drifted_features")})
    return report


def _read_json(s3, bucket: str, key: str):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    step = os.environ.get(contracts.ENV_DRIFT_STEP, contracts.DRIFT_STEP_PLAN)
    s3 = boto3.client("s3")
    if step == contracts.DRIFT_STEP_COUNT:
        return count(s3, event)
    if step == contracts.DRIFT_STEP_REDUCE:
        report = reduce(s3, event)
    else:
        report = run(
            s3, endpoint_sagemaker_client(),
            model=os.environ[contracts.ENV_MODEL_NAME], endpoint=os.environ[contracts.ENV_ENDPOINT_NAME],
            bucket=os.environ[contracts.ENV_DATA_BUCKET], event_time=(event or {}).get("time"),
            metric=os.environ.get(contracts.ENV_DRIFT_METRIC, limits.DEFAULT_DRIFT_METRIC),
            threshold=float(os.environ.get(contracts.ENV_DRIFT_THRESHOLD, limits.DEFAULT_DRIFT_THRESHOLD)),
            min_samples=int(os.environ.get(contracts.ENV_MIN_SAMPLES, limits.DEFAULT_DRIFT_MIN_SAMPLES)),
            state_machine=os.environ.get(contracts.ENV_STATE_MACHINE_ARN) or None,
            fanout_bytes=int(os.environ.get(contracts.ENV_FANOUT_BYTES, drift_fanout.FANOUT_BYTES)),
            categorical_codes=os.environ.get(contracts.ENV_CATEGORICAL_INPUT) == contracts.CATEGORICAL_CODES,
        )
        if report["verdict"] == "fanned_out":
            return report
    return {k: report[k] for k in ("verdict", "records", "malformed_records", "drift_score", "drifted_features")}
