"""EventBridge patterns of S3 events (the bucket must send its events to EventBridge)."""
from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3

import mlops_contracts as contracts


def object_created(bucket: s3.IBucket, key: list[str]) -> events.EventPattern:
    """An object written to ``bucket`` whose key matches ``key`` (exact keys, or a matcher such as
    ``events.Match.wildcard``)."""
    return events.EventPattern(
        source=[contracts.EVENT_SOURCE_S3],
        detail_type=[contracts.DETAIL_OBJECT_CREATED],
        detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": key}},
    )
