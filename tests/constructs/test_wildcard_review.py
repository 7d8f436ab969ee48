"""IAM wildcards: every role grants only the wildcards its reviewed allow-list names, and a widened grant cannot
acknowledge itself (cdk-nag fails, and so does this test)."""
from __future__ import annotations

import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from mlops_constructs._private.nag import acknowledge
from mlops_constructs._private.wildcard_allowlist import ALLOWED
from mlops_constructs._private.wildcard_review import (
    Wildcard,
    acknowledge_listed,
    compile_pattern,
    stacks_of,
    unlisted_grants,
    wildcard_grants,
)
from tests.conftest import new_app


def _describe(grants) -> str:
    return "\n".join(f"  {g.stack} {g.role}: {g.action} on {g.resource}" for g in grants)


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["example_app", "pinned_app"])
def test_every_role_grants_only_the_wildcards_on_its_reviewed_list(fixture, request):
    app = request.getfixturevalue(fixture)
    grants = [g for stack in stacks_of(app.app) for g in wildcard_grants(stack)]
    assert len({g.role for g in grants}) >= 20, "the review must see the platform's roles"
    unlisted = unlisted_grants(grants, ALLOWED)
    assert not unlisted, ("wildcards granted but not on the role's list in mlops_constructs/_private/wildcard_allowlist.py:\n"
                          + _describe(unlisted))


READER = {"Reader": (
    Wildcard(("s3:GetObject",), "arn:{partition}:s3:::{name}/reports/*",
             "Reports are written under reports/ at run time."),
    Wildcard(("sagemaker:ListModelPackages",), "*", "ListModelPackages has no resource-level permissions."),
)}


def _reader(*extra: iam.PolicyStatement) -> tuple[Stack, list]:
    """A role whose reviewed list allows reading reports/* and listing packages, plus ``extra`` statements;
    synthesized with cdk-nag after acknowledging from the list. Returns the stack and the unlisted grants."""
    app = new_app()
    stack = Stack(app, "Review")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"],
                                                     resources=["arn:aws:s3:::reports-bucket/reports/*"]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]))
    for statement in extra:
        role.add_to_principal_policy(statement)
    unlisted = acknowledge_listed(stack, READER)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return stack, unlisted


def test_reviewed_wildcards_synthesize_without_findings():
    _, unlisted = _reader()
    assert unlisted == []


@pytest.mark.parametrize("widened", [
    # The statement that reads reports/* widened to every resource (the role already has a legitimate "*").
    iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]),
    # A new action on an allowed wildcard resource.
    iam.PolicyStatement(actions=["s3:PutObject"], resources=["arn:aws:s3:::any-bucket/reports/*"]),
    # A new wildcard action.
    iam.PolicyStatement(actions=["s3:Get*"], resources=["arn:aws:s3:::any-bucket/reports/a.json"]),
], ids=["resource-star", "new-action", "wildcard-action"])
def test_a_widened_grant_is_not_acknowledged_and_fails_synth(widened):
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5"):
        _reader(widened)


def test_the_review_names_the_widened_grant():
    app = new_app()
    stack = Stack(app, "Review")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject", "sagemaker:ListModelPackages"],
                                                     resources=["*"]))
    [grant] = unlisted_grants(wildcard_grants(stack), READER)
    assert (grant.role_key, grant.action, grant.resource) == ("Reader", "s3:GetObject", "*")


def test_a_role_without_a_list_may_grant_no_wildcard():
    app = new_app()
    stack = Stack(app, "Review")
    role = iam.Role(stack, "Unreviewed", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]))
    assert [g.role_key for g in unlisted_grants(wildcard_grants(stack), READER)] == ["Unreviewed"]


def test_call_sites_cannot_acknowledge_wildcards_themselves():
    stack = Stack(new_app(), "Review")
    with pytest.raises(ValueError, match="wildcard_allowlist"):
        acknowledge(stack, "This reason is long enough to pass the length check.", "AwsSolutions-IAM5[Resource::*]")


@pytest.mark.parametrize(("pattern", "value"), [
    ("arn:{partition}:s3:::{name}/reports/*", "arn:aws:s3:::*/reports/*"),
    ("<Data{id}.Arn>/{prefix}*", "<Data0123ABCD.Arn>/*"),
    ("<Data{id}.Arn>/{prefix}*", "<Data0123ABCD.Arn>/a/*/*"),
    ("arn:{partition}:s3:::{ref}/x", "arn:aws:s3:::<*>/x"),
    (ALLOWED["BuildRole"][0].resource, "arn:aws:sagemaker:eu-west-1:*:processing-job/fraud*"),
])
def test_placeholders_never_stand_for_a_wildcard(pattern, value):
    assert compile_pattern(pattern).fullmatch(value) is None


def test_every_entry_has_a_wildcard_and_a_reason():
    for role, entries in ALLOWED.items():
        for entry in entries:
            assert "*" in entry.resource or any("*" in a for a in entry.actions), (role, entry)
            assert len(entry.reason) >= 20, (role, entry)
    with pytest.raises(ValueError, match="specific reason"):
        Wildcard(("s3:GetObject",), "*", "because")
