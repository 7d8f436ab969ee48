"""IAM wildcard review: a role may hold a wildcard only if its reviewed allow-list names it.

The allow-list (``wildcard_allowlist.ALLOWED``) gives, per role, each permitted (actions, resource pattern) pair with
the reason it is needed. ``add_nag_checks`` acknowledges cdk-nag's AwsSolutions-IAM5 findings from that list alone:

- ``Resource::R`` is acknowledged on a policy only when every action the policy grants on ``R`` is on the role's
  list for a pattern matching ``R``;
- ``Action::A`` only when every resource the policy grants ``A`` on is listed with ``A``.

A widened grant (a new wildcard resource, a new action on an allowed wildcard, ``Resource: "*"`` for a statement
that had a bucket prefix) is therefore never acknowledged: cdk-nag fails the synth, and ``unlisted_grants`` names it
for the test that checks every role of the example apps.

Patterns are written as cdk-nag prints resources, with placeholders that never match a ``*``:
``{partition}``, ``{region}``, ``{account}`` (pseudo parameters or literals), ``{name}`` (a config-derived name),
``{prefix}`` (an S3 key prefix ending in ``/``), ``{id}`` (the 8-character hash of a CDK logical ID) and ``{ref}``
(a ``<Ref>`` or ``<Resource.Attribute>``), ``{store}`` (the artifact bucket or pipeline store) and ``{sfn}`` (a
state machine's name derived from its ARN). Role keys are logical IDs without their hash; ``{Stage}`` stands for a
capitalized stage name.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from aws_cdk import Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from mlops_constructs._private.nag import MIN_REASON_LENGTH, acknowledge_reviewed_wildcards, flatten_reference

PLACEHOLDERS = {
    "partition": r"(?:<AWS::Partition>|aws|aws-cn|aws-us-gov)",
    "region": r"(?:<AWS::Region>|[a-z]{2}(?:-[a-z]+)+-\d)",
    "account": r"(?:<AWS::AccountId>|\d{12})",
    "name": r"[A-Za-z0-9][A-Za-z0-9._-]*",
    "prefix": r"(?:[A-Za-z0-9._-]+/)+",
    "id": r"[0-9A-F]{8}",
    "ref": r"<[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z]+)?>",
    "Stage": r"[A-Z][A-Za-z0-9]*",
    "scope": r"(?:[A-Z][A-Za-z0-9]*)?",  # the IDs of the constructs a reusable construct sits in, if any
    "store": r"(?:CoreArtifactBucket|DeployArtifactStore)[0-9A-F]{8}",  # a model's artifact bucket or pipeline store
    # a state machine's name as CDK derives it from its ARN: Fn::Select 6 of Fn::Split ":" of its Ref
    "sfn": r'\{"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"[A-Za-z0-9]+"\}\]\}\]\}',
}
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class Wildcard:
    """``actions`` granted on resources matching ``resource``: allowed because of ``reason``."""

    actions: tuple[str, ...]
    resource: str
    reason: str

    def __post_init__(self) -> None:
        if len(self.reason) < MIN_REASON_LENGTH:
            raise ValueError(f"wildcard {self.resource!r} needs a specific reason ({MIN_REASON_LENGTH} characters or "
                             f"more), got {self.reason!r}")
        if not self.actions or not ("*" in self.resource or any("*" in a for a in self.actions)):
            raise ValueError(f"wildcard entry {self.actions} on {self.resource!r} holds no wildcard")

    def allows(self, action: str, resource: str) -> bool:
        return action in self.actions and compile_pattern(self.resource).fullmatch(resource) is not None


@cache
def compile_pattern(pattern: str) -> re.Pattern:
    """A pattern with ``{placeholder}``s as a regex; everything else, ``*`` included, matches literally."""
    parts = re.split(r"\{([A-Za-z]+)\}", pattern)
    return re.compile("".join(PLACEHOLDERS[p] if i % 2 else re.escape(p) for i, p in enumerate(parts)))


@dataclass(frozen=True)
class Grant:
    """One (action, resource) pair of an Allow statement, with at least one of them holding a wildcard."""

    stack: str
    role: str  # the role's logical ID
    policy: IConstruct  # the construct that carries the policy (an AWS::IAM::Policy, or a role's inline policy)
    action: str
    resource: str  # as cdk-nag prints it

    @property
    def role_key(self) -> str:
        return _HASH_SUFFIX.sub("", self.role)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _statement_grants(document: Mapping) -> Iterator[tuple[str, str]]:
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        resources = [flatten_reference(r) for r in _as_list(statement.get("Resource", []))]
        for action in _as_list(statement.get("Action", [])):
            for resource in resources:
                if "*" in action or "*" in resource:
                    yield action, resource


def _role_id(reference) -> str:
    return reference["Ref"] if isinstance(reference, dict) and "Ref" in reference else flatten_reference(reference)


def wildcard_grants(stack: Stack) -> list[Grant]:
    """Every wildcard (action, resource) pair that ``stack``'s IAM policies grant, by role."""
    grants, stack_name = [], stack.stack_name  # one jsii round trip, not one per grant
    for construct in stack.node.find_all():
        if isinstance(construct, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            resolved = stack.resolve({"roles": construct.roles, "document": construct.policy_document})
            roles, documents = resolved.get("roles") or [], [resolved["document"]]
            owner = construct
        elif isinstance(construct, iam.CfnRole) and construct.policies:
            roles = [{"Ref": stack.get_logical_id(construct)}]
            documents = [p["PolicyDocument"] for p in stack.resolve(construct.policies)]
            owner = construct
        else:
            continue
        for document in documents:
            for action, resource in _statement_grants(document):
                grants.extend(Grant(stack_name, _role_id(r), owner, action, resource) for r in roles)
    return grants


def allowlist_for(role_key: str, allowed: Mapping[str, tuple[Wildcard, ...]]) -> tuple[Wildcard, ...]:
    """The reviewed entries of a role (its key may hold ``{Stage}``); none for a role that is not listed."""
    return tuple(entry for key, entries in allowed.items() if compile_pattern(key).fullmatch(role_key)
                 for entry in entries)


def unlisted_grants(grants: Iterable[Grant], allowed: Mapping[str, tuple[Wildcard, ...]]) -> list[Grant]:
    """The grants no entry of their role's allow-list permits."""
    return [g for g in grants if not any(w.allows(g.action, g.resource) for w in allowlist_for(g.role_key, allowed))]


def acknowledge_listed(stack: Stack, allowed: Mapping[str, tuple[Wildcard, ...]]) -> list[Grant]:
    """Acknowledge the IAM5 findings of ``stack`` that its roles' allow-lists fully cover; returns the rest."""
    grants = wildcard_grants(stack)
    unlisted = unlisted_grants(grants, allowed)
    bad = {id(g) for g in unlisted}
    by_policy: dict[int, list[Grant]] = defaultdict(list)
    for grant in grants:
        by_policy[id(grant.policy)].append(grant)
    for policy_grants in by_policy.values():
        findings: dict[str, list[Grant]] = defaultdict(list)
        for grant in policy_grants:
            if "*" in grant.resource:
                findings[f"AwsSolutions-IAM5[Resource::{grant.resource}]"].append(grant)
            if "*" in grant.action:
                findings[f"AwsSolutions-IAM5[Action::{grant.action}]"].append(grant)
        covered = sorted(rule for rule, found in findings.items() if not any(id(g) in bad for g in found))
        if covered:
            roles = {g.role_key for g in policy_grants}
            reasons = sorted({w.reason for key in roles for w in allowlist_for(key, allowed)
                              if any(w.allows(g.action, g.resource) for g in policy_grants)})
            reason = "Reviewed wildcards (mlops_constructs/_private/wildcard_allowlist.py): " + " ".join(reasons)
            acknowledge_reviewed_wildcards(policy_grants[0].policy, reason, *covered)
    return unlisted


def add_nag_checks(app: IConstruct) -> None:
    """Acknowledge every stack's reviewed wildcards, then attach cdk-nag (AwsSolutions and NIST 800-53 R5)."""
    from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

    from mlops_constructs._private.wildcard_allowlist import ALLOWED

    for stack in stacks_of(app):
        acknowledge_listed(stack, ALLOWED)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))


def stacks_of(app: IConstruct) -> list[Stack]:
    return [c for c in app.node.find_all() if isinstance(c, Stack)]
