"""Synth-time checks of construct props: each message names the prop, the rule and the value received.

Tokens (values CloudFormation resolves at deploy time) are not checked: synth cannot see them.
"""
from __future__ import annotations

import re

from aws_cdk import Token


def validate_pattern(owner: str, prop: str, value: str | None, pattern: re.Pattern[str], rule: str) -> None:
    """``value`` (unless ``None`` or a token) must match ``pattern`` whole; ``rule`` says it in words.

    Raises ``ValueError("<owner>: <prop> must be <rule> (<pattern>); got <value>")``."""
    if value is None or Token.is_unresolved(value):
        return
    if not pattern.fullmatch(value):
        raise ValueError(f"{owner}: {prop} must be {rule} ({pattern.pattern}); got {value!r}")


def validate_range(owner: str, prop: str, value: float, low: float, high: float, unit: str) -> None:
    """``low <= value <= high``. Raises ``ValueError("<owner>: <prop> must be <low>-<high> <unit>; got <value>")``."""
    if Token.is_unresolved(value):
        return
    if not low <= value <= high:
        raise ValueError(f"{owner}: {prop} must be {low:g}-{high:g} {unit}; got {value:g}")
