"""``mlops lineage|which-model|which-decision|reproduce|audit export``: answer an auditor from the audit trail.

The audit table comes from ``--table`` or ``MLOPS_AUDIT_TABLE`` (the ``AuditTableName`` output of the
``<prefix>-governance`` stack); the region from ``--region`` or the usual AWS environment.

Exit codes: 0 answered; 1 error (bad input, unknown endpoint or package, AWS error: one line on stderr);
3 (lineage) the lineage has problems; 4 (which-decision) the inference ID is not in the data capture searched;
5 (which-decision) the request reached an endpoint while an update was baking: two packages could have served it.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

import mlops_contracts as contracts
from governance_code import audit_schema as schema
from mlops_cli import audit_export
from mlops_cli import decision_queries as decisions
from mlops_cli import governance_queries as queries

TABLE_ENV = "MLOPS_AUDIT_TABLE"
BUCKET_ENV = "MLOPS_DATA_BUCKET"
EXIT_LINEAGE_PROBLEMS = 3
EXIT_DECISION_NOT_FOUND = 4
EXIT_DECISION_AMBIGUOUS = 5


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

    decision = subparsers.add_parser(
        "which-decision", help="One inference: its captured request and response, the variant and package that "
                               "answered it, and that package's lineage.")
    decision.add_argument("--endpoint", required=True, help="endpoint name, e.g. fraud-detection-prod")
    decision.add_argument("--inference-id", required=True,
                          help="the InferenceId the client passed to InvokeEndpoint (or the capture's eventId)")
    decision.add_argument("--around", default=None,
                          help="ISO 8601 time near the request: search only the capture hours within "
                               "--window-hours of it (default: every hour, slower)")
    decision.add_argument("--window-hours", type=int, default=decisions.DEFAULT_WINDOW_HOURS,
                          help=f"hours searched either side of --around; default {decisions.DEFAULT_WINDOW_HOURS}")
    decision.add_argument("--bucket", default=None,
                          help=f"the model's data bucket (DataBucketName output); default ${BUCKET_ENV}")
    _common(decision, table_required=True)
    decision.set_defaults(func=run_which_decision)

    audit = subparsers.add_parser("audit", help="Audit-trail exports for the compliance team.")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = audit_commands.add_parser("export", help="Write the audit records of a period as CSV or Parquet.")
    export.add_argument("--from", dest="start", required=True, help="first day (2026-05-01) or ISO 8601 time")
    export.add_argument("--to", dest="end", required=True, help="last day, inclusive, or ISO 8601 time")
    export.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    export.add_argument("--format", choices=audit_export.FORMATS, default=None,
                        help="default: from the --out suffix")
    export.add_argument("--page-size", type=int, default=None, help="items per Scan page; default DynamoDB's 1 MB")
    _common(export, table_required=True)
    export.set_defaults(func=run_audit_export)

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


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _run(args, body, exit_code=lambda result: 0) -> int:
    try:
        result, text = body()
    except decisions.DecisionNotFound as error:
        print(f"not found: {_one_line(error)}", file=sys.stderr)
        return EXIT_DECISION_NOT_FOUND
    except queries.GovernanceError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    except ClientError as error:  # e.g. an unknown table, or no permission: one line, never a traceback
        print(f"error: {error.operation_name}: {_one_line(error.response['Error'].get('Message', error))}",
              file=sys.stderr)
        return 1
    except BotoCoreError as error:  # e.g. no credentials, no region, a parameter botocore rejects
        print(f"error: {_one_line(error)}", file=sys.stderr)
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


def run_which_decision(args) -> int:
    """Exit 0 when one package answered, 5 when two could have (an update was baking), 4 when the ID is not in
    the capture searched, 1 on errors."""
    def body():
        if args.around is not None:
            try:
                schema.normalize_time(args.around)
            except ValueError as error:
                raise queries.GovernanceError(f"--around: {error}") from None
        if args.window_hours < 0:
            raise queries.GovernanceError(f"--window-hours must be 0 or more; got {args.window_hours}")
        bucket = args.bucket or os.environ.get(BUCKET_ENV)
        if not bucket:
            raise queries.GovernanceError(f"no data bucket: pass --bucket or set {BUCKET_ENV} (the DataBucketName "
                                          "output of the model stack)")
        sagemaker, table = _clients(args, table_required=True)
        s3 = boto3.session.Session(region_name=args.region).client("s3")
        result = decisions.which_decision(table, sagemaker, s3, bucket=bucket, endpoint=args.endpoint,
                                          inference_id=args.inference_id, around=args.around,
                                          window_hours=args.window_hours)
        return result, format_which_decision(result)
    return _run(args, body, lambda result: EXIT_DECISION_AMBIGUOUS if result["ambiguous"] else 0)


def run_audit_export(args) -> int:
    def body():
        if args.page_size is not None and args.page_size < 1:
            raise queries.GovernanceError(f"--page-size must be 1 or more; got {args.page_size}")
        _, table = _clients(args, table_required=True)
        result = audit_export.export(table, args.start, args.end, args.out, args.format, args.page_size)
        kinds = ", ".join(f"{count} {kind}" for kind, count in result["kinds"].items()) or "none"
        return result, (f"wrote {result['records']} audit records ({kinds}) from {result['from']} to "
                        f"{result['to']} to {result['out']} ({result['format']}, {result['pages']} Scan pages)")
    return _run(args, body)


def run_reproduce(args) -> int:
    if args.local:
        from mlops_cli import reproduce as local

        return local.run(args)

    def body():
        sagemaker, table = _clients(args, table_required=False)
        request = queries.reproduce_request(sagemaker, args.model_package_arn, table,
                                            input_data_url=args.input_data_url)
        queries.check_code_layout(boto3.session.Session(region_name=args.region).client("s3"), request)
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
    cycle = result.get("lifecycle") or {}
    lines.append(f"  lifecycle      {cycle.get('stage') or '-'}/{cycle.get('status') or '-'}"
                 + (f"  ({cycle['description']})" if cycle.get("description") else ""))
    lines.append(f"  model card     {result.get('model_card_status') or 'none'}")
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
        lines.append("lifecycle")
        lines += [f"  {r['event_time']}  {r['stage']}/{r['status']:<12} by {r['actor']}  {r['description']}".rstrip()
                  for r in audit.get("lifecycle", [])] or ["  (none recorded)"]
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


def format_which_decision(result: dict) -> str:
    decision = result["decision"]
    capture = decision["capture"]
    record = decision["endpoint_record"]
    lines = [
        f"inference {result['inference_id']} on {result['endpoint']} at {capture['inference_time']}",
        f"  answered by variant {capture['variant']} ({decision['role']})",
        f"  request  ({capture['input_content_type']}) {capture['input']}",
        (f"  response ({capture['output_content_type']}) {capture['output'].strip()}  -> score "
        f"{', '.join(str(s) for s in decision['scores'])}"),
        *([f"  input record {json.dumps(decision['input_record'])}"] if decision.get("input_record") else []),
        f"  captured in {capture['s3_uri']}",
        (f"  endpoint then: {record['endpoint_status']} on config {record['endpoint_config'] or '-'} "
        f"(audit record {record['event_time']}, {record['event']})"),
    ]
    if result["ambiguous"]:
        lines.append("  AMBIGUOUS: an update was baking; blue/green traffic shifting may have sent the request to "
                     "either package below")
    for candidate in decision["candidates"]:
        recorded = candidate["recorded"]
        outcome = candidate.get("update_outcome") or {}
        lines += [
            f"  package ({candidate['fleet']} fleet) {candidate['model_package_arn']}",
            f"    deployed     {candidate['deployed_at'] or '-'}"
            + (f"; the update ended {outcome['event_time']} ({outcome['event']}"
               f"{', rolled back' if outcome['rolled_back'] else ''})" if outcome else ""),
            f"    approved by  {candidate['approved_by'] or '-'} at {candidate['approved_at'] or '-'} "
            f"(status then: {candidate['status_then']}) {candidate['approval_description']}".rstrip(),
            f"    trained by   {candidate['trained_by'] or '-'} (trigger {candidate['trigger'] or '-'})",
            f"    data         {recorded.get(contracts.META_DATA_VERSION, 'MISSING')}",
            (f"    code         git {recorded.get(contracts.META_GIT_COMMIT, 'MISSING')}, zip "
            f"{recorded.get(contracts.META_CODE_URL, 'MISSING')} (sha256 {recorded.get(contracts.META_CODE_SHA256, 'MISSING')})"
            f", config {recorded.get(contracts.META_CONFIG_HASH, 'MISSING')}"),
            (f"    training     {recorded.get(contracts.META_TRAINING_JOB, 'MISSING')} in "
            f"{recorded.get(contracts.META_PIPELINE_EXECUTION, 'MISSING')}"),
            "    hyperparameters " + (json.dumps(candidate["hyperparameters"], sort_keys=True)
                                      if candidate["hyperparameters"] else
                                      f"(unavailable: {candidate['training_job_error'] or 'no training job'}; "
                                      f"sha256 {recorded.get(contracts.META_HYPERPARAMETERS_HASH, 'MISSING')})"),
            (f"    libraries    training image {candidate['training_image'] or '-'}; serving image "
            f"{', '.join(candidate['serving_images']) or '-'}"),
        ]
    for shadow in result["shadow"]:
        arns = ", ".join(c["model_package_arn"] for c in shadow["candidates"])
        lines.append(f"  also seen by variant {shadow['capture']['variant']} ({shadow['role']}, did not decide): "
                     f"score {', '.join(str(s) for s in shadow['scores'])}, package {arns}")
    return "\n".join(lines)
