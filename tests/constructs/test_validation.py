"""_private/validation: messages name the owner, the prop, the rule and the value received; tokens pass."""
from __future__ import annotations

import re

import pytest
from aws_cdk import Stack, Token

from mlops_constructs._private.validation import validate_pattern, validate_range
from tests.conftest import new_app

NAME = re.compile(r"[a-z][a-z0-9-]{1,62}")


def test_pattern_accepts_a_whole_match_and_none():
    validate_pattern("X Y", "name", "fraud-detection", NAME, "lowercase")
    validate_pattern("X Y", "name", None, NAME, "lowercase")


def test_pattern_message_shows_rule_pattern_and_value():
    with pytest.raises(ValueError) as raised:
        validate_pattern("ModelThing M", "name", "Fraud", NAME, "2-63 lowercase letters, digits or '-'")
    assert str(raised.value) == ("ModelThing M: name must be 2-63 lowercase letters, digits or '-' "
                                 "([a-z][a-z0-9-]{1,62}); got 'Fraud'")


def test_pattern_needs_the_whole_value_to_match():
    with pytest.raises(ValueError, match="got 'fraud detection'"):
        validate_pattern("X", "name", "fraud detection", NAME, "lowercase")


def test_tokens_are_left_to_deploy_time():
    stack = Stack(new_app(), "S")
    validate_pattern("X", "name", stack.account, NAME, "lowercase")  # a token: "${Token[...]}" would not match
    validate_range("X", "minutes", Token.as_number({"Ref": "Minutes"}), 5, 10, "minutes")


@pytest.mark.parametrize("value", [5, 7.5, 10])
def test_range_is_inclusive(value):
    validate_range("X", "minutes", value, 5, 10, "minutes")


@pytest.mark.parametrize("value", [4.9, 2161])
def test_range_message_shows_bounds_unit_and_value(value):
    with pytest.raises(ValueError) as raised:
        validate_range("CodeBuild project P", "timeout", value, 5, 2160, "minutes (CodeBuild's limits)")
    assert str(raised.value) == f"CodeBuild project P: timeout must be 5-2160 minutes (CodeBuild's limits); got {value:g}"
