"""The policies CDK writes for grants: where to find them, and their acknowledgments.

CDK keeps a role's grants (``add_to_principal_policy``, ``bucket.grant_read(role)``, the grants of a CodeBuild
project, a Step Functions state machine, ...) in one ``iam.Policy`` it creates on the first grant as the role's
child ``DefaultPolicy`` (aws-cdk-lib ``aws-iam/lib/role.ts``, ``Role.addToPrincipalPolicy``). No public property
exposes it, so ``default_policy`` is the one place that looks it up by that ID; ``tests/constructs/test_grants.py``
fails if a CDK upgrade renames or stops creating it.
"""
from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam

from mlops_constructs._private.nag import acknowledge

DEFAULT_POLICY_ID = "DefaultPolicy"  # the child of an iam.Role that holds its grants (CDK's construct ID)
ACTION_ROLE_ID = "CodePipelineActionRole"  # the role CDK creates for each action of a codepipeline.Pipeline
INLINE_POLICY_REASON = ("The role's policy is inline so that it belongs to this role alone; a managed policy could be "
                        "attached to other principals and widen access.")


def find_default_policy(role: iam.IRole) -> iam.Policy | None:
    """The policy that holds ``role``'s grants, or ``None`` when it has none: a role given no grant yet, or a
    role imported by ARN (CDK writes no policy for it)."""
    return role.node.try_find_child(DEFAULT_POLICY_ID)


def default_policy(role: iam.IRole) -> iam.Policy:
    """The policy that holds ``role``'s grants; a role without grants is an error."""
    policy = find_default_policy(role)
    if policy is None:
        raise LookupError(f"role {role.node.path} has no {DEFAULT_POLICY_ID!r} child holding its grants (CDK "
                          f"creates it on the first grant); its children: {[c.node.id for c in role.node.children]}")
    return policy


def acknowledge_cdk_artifact_grants(role: iam.IRole) -> None:
    """Acknowledge the inline policy CDK writes for CodePipeline/CodeBuild artifact access. Its wildcards (GetObject*
    on ``<bucket>/*``, GenerateDataKey* on the key, CodeBuild's log and report groups) are acknowledged from the
    reviewed list in ``wildcard_allowlist``, not here."""
    acknowledge(role, INLINE_POLICY_REASON, "NIST.800.53.R5-IAMNoInlinePolicy")


def acknowledge_pipeline_grants(pipeline: codepipeline.Pipeline, projects: Iterable[codebuild.IProject]) -> None:
    """``acknowledge_cdk_artifact_grants`` on the roles of ``projects``, the pipeline's service role and the role
    CDK creates for each of its actions (``CodePipelineActionRole``), in that order."""
    for project in projects:
        acknowledge_cdk_artifact_grants(project.role)
    acknowledge_cdk_artifact_grants(pipeline.role)
    for child in pipeline.node.find_all():
        if isinstance(child, iam.Role) and child.node.id == ACTION_ROLE_ID:
            acknowledge_cdk_artifact_grants(child)
