"""The approval trigger skips, with its exact reason, anything that is not an approval event object: EventBridge
test events, hand-made invocations and lists must never crash the function or start a deployment."""
from __future__ import annotations

import pytest

from tests.functions.test_deploy_trigger import _event, trigger  # noqa: F401  (trigger is a fixture)


@pytest.mark.parametrize(("event", "reason"), [
    ({"id": "x"}, "event has no detail object"),
    ({"id": "x", "detail": "Approved"}, "event has no detail object"),
    ([_event()], "event has no detail object"),
    (None, "event has no detail object"),
    (_event(status=None), "approval status None is not 'Approved'"),
])
def test_non_events_are_skipped_with_their_exact_reason(trigger, event, reason, lambda_context):  # noqa: F811
    module, stub = trigger
    assert module.handler(event, lambda_context) == {"skipped": reason}
    stub.assert_no_pending_responses()
