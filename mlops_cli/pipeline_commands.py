"""``mlops pipeline start``: start a model's build pipeline and, with --wait, fail when the execution fails.

The CI run stage calls this; SageMaker's failure reasons go to stderr, so they land in the CodeBuild log.
"""
from __future__ import annotations

import sys

from pipeline_code.contracts import TRIGGERS, build_pipeline_name
from pipeline_code.pipeline_runner import (
    PipelineExecutionFailed,
    display_name,
    execution_parameters,
    start_execution,
    wait_for_execution,
)


def register(subparsers) -> None:
    pipeline = subparsers.add_parser("pipeline", help="Run a model's SageMaker build pipeline.")
    verbs = pipeline.add_subparsers(dest="pipeline_command", required=True, metavar="VERB")
    start = verbs.add_parser("start", help="Start an execution (exit 1 if --wait and it fails).")
    target = start.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="Model name; the pipeline is <model>-build.")
    target.add_argument("--pipeline-name", help="Explicit SageMaker pipeline name.")
    start.add_argument("--trigger", default="manual", choices=TRIGGERS, help="Why this run starts.")
    start.add_argument("--git-commit", help="Commit of the code being built.")
    start.add_argument("--input-data-url", help="s3:// URI of the training data; default: the pipeline's.")
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


def run_start(args, client=None) -> int:
    import boto3

    try:
        parameters = execution_parameters(
            trigger=args.trigger, git_commit=args.git_commit, input_data_url=args.input_data_url,
            extra=parse_params(args.param),
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
