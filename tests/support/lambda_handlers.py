"""Run a Lambda handler as Lambda does: imported fresh (a cold start) under exactly the environment it is given.

Every test that runs a handler goes through ``load_handler``; every test that calls one passes the shared
``lambda_context`` fixture (``tests/conftest.py``), an instance of ``LambdaContext``.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# The process environment (region, moto credentials, PATH, ...) as the test session started it, without
# Powertools settings: the part of a handler's environment that is not the function's own configuration.
SESSION_ENVIRONMENT = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}


@dataclass(frozen=True)
class LambdaContext:
    """What handlers and Powertools read from the Lambda context object."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "req-1"
    remaining_millis: int = 600_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@contextmanager
def load_handler(function: str, environment: Mapping[str, str] | None = None) -> Iterator[ModuleType]:
    """``functions.<function>.handler``, imported fresh with ``environment`` as the function's configuration.

    Inside the block ``os.environ`` is exactly ``SESSION_ENVIRONMENT`` plus ``environment`` (default: none): no
    variable a test or an earlier handler set leaks in, which is what the template gives the function and nothing
    else. Module-level code (clients, Powertools ``Metrics``, settings read at import) runs under it, as on a cold
    start. On exit ``os.environ`` and ``sys.modules`` are as they were before.
    """
    name = f"functions.{function}.handler"
    saved_environment, saved_module = dict(os.environ), sys.modules.pop(name, None)
    package = importlib.import_module(f"functions.{function}")
    saved_attribute = package.__dict__.get("handler")
    os.environ.clear()
    os.environ.update(SESSION_ENVIRONMENT)
    os.environ.update(environment or {})
    try:
        yield importlib.import_module(name)
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        sys.modules.pop(name, None)
        if saved_module is not None:
            sys.modules[name] = saved_module
        if saved_attribute is None:
            package.__dict__.pop("handler", None)
        else:
            package.handler = saved_attribute


@dataclass(frozen=True)
class DeployedFunction:
    """A Lambda function of a synthesized app: where it is, what it runs, what its template gives it."""

    stack: str
    logical_id: str
    folder: str  # functions/<folder>, the image's FUNCTION build argument
    variables: dict  # the template's environment variables (values may be CloudFormation references)
    context: Path  # the Docker build context CDK staged in the cloud assembly


def deployed_functions(app) -> list[DeployedFunction]:
    """Every AWS::Lambda::Function of a synthesized app (``tests.conftest.SynthesizedApp``), read from the cloud
    assembly: each must be built from ``functions/Dockerfile`` (a PlatformFunction)."""
    found = []
    for artifact in app.assembly.stacks:
        template = app.templates[artifact.stack_name]
        assets_file = Path(app.assembly.directory) / f"{artifact.id}.assets.json"
        images = json.loads(assets_file.read_text()).get("dockerImages", {}) if assets_file.exists() else {}
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            image = json.dumps(props.get("Code", {}).get("ImageUri", ""))
            sources = [a["source"] for h, a in images.items() if h in image]
            folder = sources[0].get("dockerBuildArgs", {}).get("FUNCTION") if sources else None
            assert folder, (f"{artifact.stack_name}/{logical_id} is not built from functions/Dockerfile; "
                            "every Lambda of ours is a PlatformFunction")
            found.append(DeployedFunction(artifact.stack_name, logical_id, folder,
                                          props.get("Environment", {}).get("Variables", {}),
                                          Path(app.assembly.directory) / sources[0]["directory"]))
    return found
