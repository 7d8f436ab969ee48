"""Audit record schema: time normalization and ordering, identities, serving variants. Pure, no AWS."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import mlops_contracts as contracts
from governance_code import audit_schema as schema


@pytest.mark.parametrize("value, expected", [
    ("2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z"),
    ("2026-05-01T14:00:00+02:00", "2026-05-01T12:00:00Z"),
    ("2026-05-01T12:00:00.987654", "2026-05-01T12:00:00Z"),
    (datetime(2026, 5, 1, 7, tzinfo=timezone(timedelta(hours=-5))), "2026-05-01T12:00:00Z"),
])
def test_times_normalize_to_utc_seconds(value, expected):
    assert schema.normalize_time(value) == expected


def test_a_bad_time_names_the_value_and_the_accepted_form():
    with pytest.raises(ValueError, match=r"invalid timestamp '01/05/2026'.*ISO 8601, e.g. 2026-05-01T12:00:00Z"):
        schema.normalize_time("01/05/2026")


def test_the_upper_bound_includes_every_event_of_that_second_and_nothing_later():
    bound = schema.sort_key_upper_bound("2026-05-01T12:00:00Z")
    assert schema.sort_key("2026-05-01T12:00:00Z", "ffffffff-zzzz") <= bound
    assert schema.sort_key("2026-05-01T12:00:01Z", "00000000") > bound
    assert schema.sort_key("2026-05-01T11:59:59Z", "zzzz") < schema.sort_key("2026-05-01T12:00:00Z", "0000")


@pytest.mark.parametrize("user_info, expected", [
    ({"IamIdentity": {"Arn": "arn:aws:sts::1:assumed-role/R/alice"}, "UserProfileName": "p"},
     "arn:aws:sts::1:assumed-role/R/alice"),
    ({"UserProfileName": "bob", "DomainId": "d-1"}, "studio-user:d-1/bob"),
    (None, "unknown"),
])
def test_identity_prefers_the_iam_principal(user_info, expected):
    assert schema.identity(user_info) == expected


def test_serving_lists_production_and_shadow_variants_with_their_packages():
    endpoint = {"EndpointStatus": "InService"}
    config = {"ProductionVariants": [{"VariantName": "primary", "ModelName": "m1"}],
              "ShadowProductionVariants": [{"VariantName": "shadow", "ModelName": "m2"}]}
    models = {"m1": {"PrimaryContainer": {"ModelPackageName": "arn:pkg/1"}},
              "m2": {"Containers": [{"Image": "x"}, {"ModelPackageName": "arn:pkg/2"}]}}
    assert schema.serving_from(endpoint, config, models) == [
        {"variant": "primary", "role": "production", "model_name": "m1", "model_package_arn": "arn:pkg/1"},
        {"variant": "shadow", "role": "shadow", "model_name": "m2", "model_package_arn": "arn:pkg/2"},
    ]
    assert schema.serving_from(None, None, {}) == []


def test_a_stack_event_maps_to_its_endpoint_and_rejects_other_stacks():
    event = {"detail-type": contracts.DETAIL_STACK_STATUS, "detail": {
        "stack-id": "arn:aws:cloudformation:us-east-1:1:stack/mlops-churn-prod/abc", "status-details": {
            "status": "UPDATE_ROLLBACK_COMPLETE"}}}
    assert schema.endpoint_name_of(event, {"mlops-churn-prod": "churn-prod"}) == (
        "churn-prod", "stack:UPDATE_ROLLBACK_COMPLETE", "cloudformation:mlops-churn-prod")
    with pytest.raises(schema.BadEvent, match=r"audited stacks: \['mlops-churn-staging'\]"):
        schema.endpoint_name_of(event, {"mlops-churn-staging": "churn-staging"})


def test_records_without_id_or_time_are_bad_events():
    with pytest.raises(schema.BadEvent, match="event needs 'id' and an ISO 8601 'time'"):
        schema.package_record({"detail": {"ModelPackageArn": "arn:x"}, "time": "yesterday", "id": "1"}, {}, "now")
