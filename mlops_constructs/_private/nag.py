"""Acknowledge cdk-nag findings on the narrowest construct, always with a specific reason."""
from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

WILDCARD_RULE = "AwsSolutions-IAM5"
MIN_REASON_LENGTH = 20  # characters: a reason names the resource and why, not just "ok"


def acknowledge(construct: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge each rule ID (e.g. ``NIST.800.53.R5-IAMNoInlinePolicy``) on ``construct`` for ``reason``.

    IAM wildcard findings (AwsSolutions-IAM5) are refused: they are acknowledged only from the reviewed list in
    ``mlops_constructs/_private/wildcard_allowlist.py`` (``wildcard_review``), so a grant cannot acknowledge itself.
    """
    wildcards = [rule for rule in rule_ids if rule.startswith(WILDCARD_RULE)]
    if wildcards:
        raise ValueError(f"{wildcards}: IAM wildcards are acknowledged only from the reviewed list in "
                         "mlops_constructs/_private/wildcard_allowlist.py; add an entry there with its reason")
    acknowledge_reviewed_wildcards(construct, reason, *rule_ids)


def acknowledge_reviewed_wildcards(construct: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge rule IDs, IAM5 included: for ``wildcard_review``, which takes them from the reviewed list."""
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"nag acknowledgment for {rule_ids} needs a specific reason ({MIN_REASON_LENGTH} characters "
                         f"or more), got {reason!r}")
    if rule_ids:
        _validations(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule in rule_ids))


# Every jsii call is a round trip to Node; synth time grows with their number, so repeated look-ups are kept on
# the Python proxy of the construct they belong to.
def _validations(construct: IConstruct) -> Validations:
    cached = construct.__dict__.get("_mlops_validations")
    if cached is None:
        cached = construct.__dict__["_mlops_validations"] = Validations.of(construct)
    return cached


def flatten_reference(node) -> str:
    """cdk-nag's ``flattenCfnReference``: joins flattened, ``Ref`` as <Name>, ``GetAtt`` as <Id.Attr>,
    ``Fn::Sub`` placeholders ``${X}`` as <X>; anything else as compact JSON, as cdk-nag does."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if node.get("Fn::Join"):
            separator, parts = node["Fn::Join"]
            return separator.join(flatten_reference(p) for p in parts)
        if node.get("Fn::Sub"):
            return flatten_reference(node["Fn::Sub"])
        if node.get("Fn::GetAtt"):
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if node.get("Fn::ImportValue"):
            return flatten_reference(node["Fn::ImportValue"])
        if node.get("Ref"):
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
