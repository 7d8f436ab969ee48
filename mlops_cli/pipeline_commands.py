"""``mlops pipeline start``: start a model's build pipeline and, with --wait, fail when the execution fails.

The CI run stage calls this with ``--upload-code``: it zips ``pipeline_code/`` of the checked-out commit
reproducibly, uploads it under ``code/<model>/<commit>/`` and starts the execution with that zip as ``CodeUrl``
(and its hash as ``CodeSha256``), so the commit recorded is the code that runs. SageMaker's failure reasons go
to stderr, so they land in the CodeBuild log.
"""
from __future__ import annotations

import sys

from mlops_contracts import TRIGGERS, build_pipeline_name
from tooling_code.pipeline_runner import (
    PipelineExecutionFailed,
    UploadedCode,
    display_name,
    execution_parameters,
    start_execution,
    upload_code,
    wait_for_execution,
)


def register(subparsers) -> None:
    pipeline = subparsers.add_parser("pipeline", help="Run a model's SageMaker build pipeline.")
    verbs = pipeline.add_subparsers(dest="pipeline_command", required=True, metavar="VERB")
    start = verbs.add_parser("start", help="Start an execution (exit 1 if --wait and it fails).")
    start.add_argument("--model", help="Model name; the pipeline is <model>-build. Required with --upload-code.")
    start.add_argument("--pipeline-name", help="Explicit SageMaker pipeline name; default <model>-build.")
    start.add_argument("--trigger", default="manual", choices=TRIGGERS, help="Why this run starts.")
    start.add_argument("--git-commit", help="Commit of the code being built.")
    start.add_argument("--input-data-url", help="s3:// URI of the training data; default: the pipeline's.")
    start.add_argument("--upload-code", metavar="PACKAGE_DIR",
                       help="Zip this pipeline_code folder reproducibly, upload it to --code-bucket under "
                            "code/<model>/<git commit>/ and run the execution with it (needs --git-commit).")
    start.add_argument("--code-bucket", help="Bucket for --upload-code (the model's artifact bucket).")
    start.add_argument("--code-kms-key", help="KMS key for the upload; default: the bucket's default key.")
    start.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="Extra pipeline parameter; repeatable.")
    start.add_argument("--wait", action="store_true", help="Wait for the execution to end.")
    start.add_argument("--poll-seconds", type=float, default=30.0)
    start.add_argument("--timeout-minutes", type=float, default=480.0)
    start.add_argument("--region", help="AWS region; default: the SDK's.")
    start.set_defaults(func=run_start)


def parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {item!r} must look like NAME=VALUE")
        params[name] = value
    return params


def check_start_args(args) -> None:
    """Raise ValueError naming a missing or conflicting option."""
    if not (args.model or args.pipeline_name):
        raise ValueError("name the pipeline: pass --model or --pipeline-name")
    if args.upload_code:
        missing = [flag for flag, value in (("--model", args.model), ("--git-commit", args.git_commit),
                                            ("--code-bucket", args.code_bucket)) if not value]
        if missing:
            raise ValueError(f"--upload-code also needs {', '.join(missing)}")
    elif args.code_bucket or args.code_kms_key:
        raise ValueError("--code-bucket and --code-kms-key only apply with --upload-code")


def run_start(args, client=None, s3_client=None) -> int:
    import boto3

    try:
        check_start_args(args)
        extra = parse_params(args.param)
        pending = UploadedCode("s3://pending/upload.zip", "0" * 64) if args.upload_code else None
        execution_parameters(trigger=args.trigger, git_commit=args.git_commit, input_data_url=args.input_data_url,
                             code=pending, extra=extra)  # fail on bad input before uploading anything
        code = None
        if args.upload_code:
            s3_client = s3_client or boto3.client("s3", region_name=args.region)
            code = upload_code(s3_client, args.upload_code, bucket=args.code_bucket, model=args.model,
                               git_commit=args.git_commit, kms_key_id=args.code_kms_key)
            print(f"Uploaded code {code.url} (sha256 {code.sha256})")
        parameters = execution_parameters(
            trigger=args.trigger, git_commit=args.git_commit, input_data_url=args.input_data_url, code=code,
            extra=extra,
        )
    except ValueError as error:
        print(f"mlops pipeline start: {error}", file=sys.stderr)
        return 2
    client = client or boto3.client("sagemaker", region_name=args.region)
    pipeline = args.pipeline_name or build_pipeline_name(args.model)
    arn = start_execution(client, pipeline, parameters, name=display_name(args.trigger, args.git_commit),
                          description=f"Started by mlops pipeline start (trigger {args.trigger})")
    print(f"Started {arn}")
    if not args.wait:
        return 0
    try:
        wait_for_execution(client, arn, poll_seconds=args.poll_seconds, timeout_seconds=args.timeout_minutes * 60)
    except PipelineExecutionFailed as failure:
        print(str(failure), file=sys.stderr)
        return 1
    except TimeoutError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"{arn} succeeded")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mlops_cli.pipeline_commands start ...``: the same command with only boto3 installed."""
    import argparse

    parser = argparse.ArgumentParser(prog="mlops")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pipeline", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
