"""EventBridge rule targets whose resource-policy grants name the rule (confused-deputy safe)."""
from __future__ import annotations

import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns


@jsii.implements(events.IRuleTarget)
class TopicTarget:
    """Publishes a rule's events to an SNS topic.

    ``aws_events_targets.SnsTopic`` grants ``events.amazonaws.com`` ``sns:Publish`` (and the topic's key) with no
    condition, so any rule in any account could publish through the grant. Here the topic policy allows publishing
    only for the bound rule (``aws:SourceArn``); the key must already let EventBridge use it for this account
    (``ModelCore`` does, with ``aws:SourceAccount``).

    Props:
        topic: the topic (required).
        message: what to publish; default the whole event.
    """

    def __init__(self, topic: sns.ITopic, *, message: events.RuleTargetInput | None = None) -> None:
        self._topic, self._message = topic, message

    def bind(self, rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        self._topic.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("events.amazonaws.com")], actions=["sns:Publish"],
            resources=[self._topic.topic_arn], conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}}))
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)
