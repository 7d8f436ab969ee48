"""``mlops lineage``, ``mlops which-model`` and ``mlops reproduce``: answer an auditor from the audit trail.

The audit table comes from ``--table`` or ``MLOPS_AUDIT_TABLE`` (the ``AuditTableName`` output of the
``<prefix>-governance`` stack); the region from ``--region`` or the usual AWS environment.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3

from mlops_cli import governance_queries as queries
from pipeline_code import audit_schema as schema
from pipeline_code import contracts

TABLE_ENV = "MLOPS_AUDIT_TABLE"
EXIT_LINEAGE_PROBLEMS = 3


def register(subparsers) -> None:
    lineage = subparsers.add_parser("lineage", help="Print a model package's full lineage and audit history.")
    lineage.add_argument("model_package_arn")
    _common(lineage, table_required=False)
    lineage.set_defaults(func=run_lineage)

    which = subparsers.add_parser("which-model", help="Which model served an endpoint at a time, and its lineage.")
    which.add_argument("--endpoint", required=True, help="endpoint name, e.g. fraud-detection-prod")
    which.add_argument("--at", required=True, help="ISO 8601 time, e.g. 2026-05-01T12:00:00Z")
    _common(which, table_required=True)
    which.set_defaults(func=run_which_model)

    reproduce = subparsers.add_parser("reproduce", help="Rebuild a model package from its recorded inputs.")
    reproduce.add_argument("model_package_arn")
    reproduce.add_argument("--dry-run", action="store_true", help="print the request, start nothing")
    reproduce.add_argument("--input-data-url", default=None,
                           help="train from here instead (e.g. the recorded object versions restored to a new prefix);"
                                " the new package must still show the recorded data version")
    reproduce.add_argument("--local", metavar="DATA_CSV", type=Path,
                           help="instead, re-run the build here on this CSV with the recorded image's versions and "
                                "compare the model's and metrics' hashes (mlops_cli/reproduce.py); the argument may "
                                "also be a local run's OUT/run.json")
    reproduce.add_argument("--out", help="with --local: output directory; default a temporary one")
    reproduce.add_argument("--config-dir", default="config", help="with --local: the config directory")
    _common(reproduce, table_required=False)
    reproduce.set_defaults(func=run_reproduce)


def _common(parser, *, table_required: bool) -> None:
    need = "required" if table_required else "optional: adds the audit history"
    parser.add_argument("--table", default=None, help=f"audit table name; default ${TABLE_ENV} ({need})")
    parser.add_argument("--region", default=None, help="AWS region; default from the AWS environment")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _clients(args, *, table_required: bool):
    table_name = args.table or os.environ.get(TABLE_ENV)
    if table_required and not table_name:
        raise queries.GovernanceError(f"no audit table: pass --table or set {TABLE_ENV} "
                                      "(the AuditTableName output of the <prefix>-governance stack)")
    session = boto3.session.Session(region_name=args.region)
    table = session.resource("dynamodb").Table(table_name) if table_name else None
    return session.client("sagemaker"), table


def _run(args, body, exit_code=lambda result: 0) -> int:
    try:
        result, text = body()
    except queries.GovernanceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str) if args.json else text)
    return exit_code(result)


def run_lineage(args) -> int:
    """Exit 0 when the lineage is complete and consistent, 3 when it has problems (printed), 1 on errors."""
    def body():
        sagemaker, table = _clients(args, table_required=False)
        result = queries.lineage(sagemaker, args.model_package_arn, table)
        return result, format_lineage(result)
    return _run(args, body, lambda result: EXIT_LINEAGE_PROBLEMS if result["problems"] else 0)


def run_which_model(args) -> int:
    def body():
        try:
            schema.normalize_time(args.at)
        except ValueError as error:
            raise queries.GovernanceError(f"--at: {error}") from None
        sagemaker, table = _clients(args, table_required=True)
        result = queries.which_model(table, args.endpoint, args.at, sagemaker)
        return result, format_which_model(result)
    return _run(args, body)


def run_reproduce(args) -> int:
    if args.local:
        from mlops_cli import reproduce as local

        return local.run(args)

    def body():
        sagemaker, table = _clients(args, table_required=False)
        request = queries.reproduce_request(sagemaker, args.model_package_arn, table,
                                            input_data_url=args.input_data_url)
        if args.dry_run:
            return request, "would start:\n" + json.dumps(request, indent=2)
        arn = sagemaker.start_pipeline_execution(**request)["PipelineExecutionArn"]
        params = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
        return {**request, "PipelineExecutionArn": arn}, (
            f"started {arn}\n  pipeline: {request['PipelineName']}\n"
            f"  {contracts.PARAM_INPUT_DATA}: {params[contracts.PARAM_INPUT_DATA]}\n"
            f"  {contracts.PARAM_GIT_COMMIT}: {params[contracts.PARAM_GIT_COMMIT]}\n"
            f"  {contracts.PARAM_CODE_URL}: {params[contracts.PARAM_CODE_URL]} "
            f"(sha256 {params[contracts.PARAM_CODE_SHA256]})\n"
            f"  check: the new package's lineage must show {request['PipelineExecutionDescription'].split('expect ')[1]}")
    return _run(args, body)


def format_lineage(result: dict) -> str:
    lines = [f"model package  {result['model_package_arn']}",
             f"  group/version  {result['model_package_group']} v{result['version']}  ({result['approval_status']})",
             f"  registered by  {result['registered_by']}",
             f"  serving image  {', '.join(result['serving_images']) or '-'}"]
    labels = {key: key.split(":", 1)[1] for key in schema.LINEAGE_KEYS}
    for key in schema.LINEAGE_KEYS:
        lines.append(f"  {labels[key]:<22} {result['recorded'].get(key, 'MISSING')}")
    job = result["training_job"]
    if job:
        lines.append(f"training job   {job['name']}" + (f"  (unavailable: {job['error']})" if "error" in job else ""))
        if "error" not in job:
            lines += [f"  image          {job['image']}", f"  inputs         {job['inputs']}",
                      f"  hyperparameters {json.dumps(job['hyperparameters'], sort_keys=True)}"]
    execution = result["pipeline_execution"]
    if execution:
        lines.append(f"pipeline run   {execution['arn']}")
        if "error" not in execution:
            lines += [f"  status {execution['status']}, started by {execution['started_by']}",
                      f"  parameters     {json.dumps(execution['parameters'], sort_keys=True)}"]
    audit = result["audit"]
    if audit is None:
        lines.append(f"audit history  (not queried: pass --table or set {TABLE_ENV})")
    else:
        lines.append("approvals")
        lines += [f"  {r['event_time']}  {r['approval_status']:<22} by {r['actor']}  {r.get('approval_description', '')}"
                  for r in audit["approvals"]] or ["  (none recorded)"]
        lines.append("deployments")
        lines += [f"  {r['event_time']}  {r['endpoint']:<28} {r['event_status']}"
                  + ("  (rolled back)" if r.get("rolled_back") else "") for r in audit["deployments"]] \
            or ["  (none recorded)"]
    if result["problems"]:
        lines.append("LINEAGE PROBLEMS")
        lines += [f"  - {problem}" for problem in result["problems"]]
    return "\n".join(lines)


def format_which_model(result: dict) -> str:
    lines = [(f"endpoint {result['endpoint']} at {result['at']}: last event at {result['record_time']} "
             f"({result['event']}{', rolled back' if result['rolled_back'] else ''}), config "
             f"{result['endpoint_config'] or '-'}; serving state captured at {result['state_captured_at']}")]
    if not result["models"]:
        lines.append("  no model was serving (endpoint absent)")
    for model in result["models"]:
        lineage = model["lineage"]
        lines += [
            f"  variant {model['variant']} ({model['role']}): {model['model_package_arn'] or '(not from a package)'}",
            f"    approved by {model['approved_by'] or '-'} at {model['approved_at'] or '-'} "
            f"(status then: {model['status_then']}) {model['approval_description']}".rstrip(),
            f"    trained by  {model['trained_by'] or '-'} (trigger {model['trigger'] or '-'})",
            (f"    code        git {lineage.get(contracts.META_GIT_COMMIT, 'MISSING')}, "
            f"config {lineage.get(contracts.META_CONFIG_HASH, 'MISSING')}"),
            (f"    code zip    {lineage.get(contracts.META_CODE_URL, 'MISSING')} "
            f"(sha256 {lineage.get(contracts.META_CODE_SHA256, 'MISSING')})"),
            f"    data        {lineage.get(contracts.META_DATA_VERSION, 'MISSING')}",
            (f"    training    {lineage.get(contracts.META_TRAINING_JOB, 'MISSING')} "
            f"in {lineage.get(contracts.META_PIPELINE_EXECUTION, 'MISSING')}"),
        ]
    return "\n".join(lines)
