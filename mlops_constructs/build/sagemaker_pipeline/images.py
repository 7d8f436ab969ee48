"""SageMaker built-in image URIs per region, from the vendored SDK table (``images.json``), as a CfnMapping.

The stack looks its own region up at deploy time (``Fn::FindInMap`` on ``AWS::Region``), so templates stay
environment-agnostic and no account ID is typed by hand anywhere.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from aws_cdk import Aws, CfnMapping, Fn, Stack
from constructs import Construct

TABLE = Path(__file__).with_name("images.json")
MAPPING_ID = "SageMakerImageRegistries"


@cache
def image_table() -> dict:
    """The vendored table: ``{"<framework>-<version>": {repository, tag, registries: {region: account}}}``."""
    return json.loads(TABLE.read_text())["images"]


def image_key(framework: str, version: str) -> str:
    """Table key of an image; a clear error names the images that exist."""
    key = f"{framework}-{version}"
    if key not in image_table():
        raise ValueError(f"no SageMaker image {key!r} in {TABLE.name}; available: {sorted(image_table())} "
                         "(add it to WANTED in generate_images.py and regenerate)")
    return key


def _mapping_column(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", key)  # CloudFormation mapping keys are alphanumeric


def _mapping(stack: Stack) -> CfnMapping:
    """One mapping per stack: region -> {image column: registry account}, covering every vendored image."""
    existing = stack.node.try_find_child(MAPPING_ID)
    if existing is not None:
        return existing
    regions: dict[str, dict[str, str]] = {}
    for key, image in sorted(image_table().items()):
        for region, account in image["registries"].items():
            regions.setdefault(region, {})[_mapping_column(key)] = account
    return CfnMapping(stack, MAPPING_ID, mapping=regions)


def builtin_image_uri(scope: Construct, framework: str, version: str) -> str:
    """``<account>.dkr.ecr.<region>.<url suffix>/<repository>:<tag>`` for the stack's region (a token)."""
    key = image_key(framework, version)
    image = image_table()[key]
    account = _mapping(Stack.of(scope)).find_in_map(Aws.REGION, _mapping_column(key))
    return Fn.join("", [account, f".dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{image['repository']}:{image['tag']}"])


def account_image_uri(scope: Construct, repository: str, tag: str) -> str:
    """A custom image in the stack's own account and region."""
    stack = Stack.of(scope)
    return f"{stack.account}.dkr.ecr.{stack.region}.{stack.url_suffix}/{repository}:{tag}"
