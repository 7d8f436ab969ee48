#!/usr/bin/env python3
"""Composition root: load and validate config/, build every model's stacks, apply cdk-nag."""
import sys

from aws_cdk import App

from mlops_config import ConfigError, load_config
from stacks.app_factory import build_app

app = App()
config_dir = app.node.try_get_context("config_dir") or "config"
selected = app.node.try_get_context("models")
try:
    config = load_config(config_dir, only=[m.strip() for m in selected.split(",") if m.strip()] if selected else None)
except ConfigError as error:
    print(f"Invalid configuration:\n{error}", file=sys.stderr)
    sys.exit(1)
build_app(config, app)
app.synth()
