"""Where a CodePipeline reads the repository: a CodeStar connection (GitHub/GitLab) or an S3 source object.

One helper, shared by the build CI and the deploy pipeline::

    source = code_source(connection_arn=arn, repository="acme/mlops", branch="main", bucket=core.artifact_bucket,
                         object_key=mlops_contracts.source_object_key("fraud-detection"))
    stage = {"stage_name": "Source", "actions": [source.action]}
    triggers = source.push_triggers(pipeline_filters)   # [] for an S3 source

With a connection, pushes to ``branch`` start the pipeline through V2 triggers (with file-path filters).
With the S3 source, uploading a new version of ``object_key`` starts it through an EventBridge "Object Created"
rule; the bucket must send events to EventBridge (versioned, as S3 sources require).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs._private.s3_events import object_created


@dataclass(frozen=True)
class PathFilter:
    """One push filter: file-path globs that start the pipeline (CodePipeline allows 8 of each)."""

    includes: tuple[str, ...]
    excludes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for label, paths in (("includes", self.includes), ("excludes", self.excludes)):
            if len(paths) > 8:
                raise ValueError(f"a push filter takes at most 8 file-path {label}; got {len(paths)}: {paths}")
        if not self.includes:
            raise ValueError("a push filter needs at least one file-path include")


@dataclass(frozen=True)
class CodeSource:
    """The source action, its output artifact and the revision variable (commit ID or S3 version ID)."""

    action: codepipeline.IAction
    output: codepipeline.Artifact
    revision: str
    branch: str | None
    is_git: bool

    def push_triggers(self, filters: Sequence[PathFilter]) -> list[codepipeline.TriggerProps]:
        """V2 push triggers on the branch with these file-path filters; none for an S3 source (at most 3)."""
        if not self.is_git or not filters:
            return []
        if len(filters) > 3:
            raise ValueError(f"CodePipeline takes at most 3 push filters per trigger; got {len(filters)}")
        return [codepipeline.TriggerProps(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=self.action,
                push_filter=[
                    codepipeline.GitPushFilter(
                        branches_includes=[self.branch],
                        file_paths_includes=list(f.includes),
                        file_paths_excludes=list(f.excludes) or None,
                    )
                    for f in filters
                ],
            ),
        )]

    def start_on_upload(self, scope: Construct, pipeline: codepipeline.IPipeline, *, bucket: s3.IBucket,
                        object_key: str) -> events.Rule | None:
        """For an S3 source: a rule that starts ``pipeline`` when ``object_key`` is written (its own role)."""
        if self.is_git:
            return None
        role = iam.Role(scope, "SourceUploadRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                        description="Lets EventBridge start the pipeline when a new source object is uploaded")
        return events.Rule(
            scope,
            "SourceUploaded",
            description=f"Start the pipeline when s3://.../{object_key} is uploaded",
            event_pattern=object_created(bucket, [object_key]),
            targets=[targets.CodePipeline(pipeline, event_role=role)],
        )


def code_source(
    *,
    bucket: s3.IBucket,
    object_key: str,
    connection_arn: str | None = None,
    repository: str | None = None,
    branch: str = "main",
    action_name: str = "Source",
) -> CodeSource:
    """The source: a connection when ``connection_arn`` is set, else the S3 object ``bucket/object_key``.

    Args:
        bucket: versioned bucket holding the S3 source object (used only without a connection) (required).
        object_key: zip of the repository in ``bucket`` (used only without a connection) (required).
        connection_arn: CodeStar/CodeConnections connection (GitHub or GitLab); default none (the S3 source).
        repository: ``owner/name`` of the repository; required with ``connection_arn``.
        branch: the branch a connection source reads; default ``"main"``.
        action_name: source action name; default ``"Source"``.
    """
    output = codepipeline.Artifact("SourceOutput")
    if connection_arn:
        if not repository or "/" not in repository:
            raise ValueError(f"a connection source needs repository as 'owner/name'; got {repository!r}")
        owner, repo = repository.split("/", 1)
        action = actions.CodeStarConnectionsSourceAction(
            action_name=action_name, connection_arn=connection_arn, owner=owner, repo=repo,
            branch=branch, output=output, trigger_on_push=False, code_build_clone_output=False,
        )
        return CodeSource(action, output, action.variables.commit_id, branch, True)
    action = actions.S3SourceAction(
        action_name=action_name, bucket=bucket, bucket_key=object_key, output=output,
        trigger=actions.S3Trigger.NONE,
    )
    return CodeSource(action, output, action.variables.version_id, None, False)
