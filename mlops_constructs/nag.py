"""Acknowledge cdk-nag findings on the narrowest construct, always with a specific reason."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge each rule ID (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``construct`` for ``reason``."""
    if len(reason) < 20:
        raise ValueError(f"nag acknowledgment for {rule_ids} needs a specific reason, got {reason!r}")
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule in rule_ids))
