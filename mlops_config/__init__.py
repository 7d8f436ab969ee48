"""Typed platform and model configuration, loaded once by app.py and passed down as values."""
from mlops_config.errors import ConfigError
from mlops_config.loader import PlatformConfig, load_config, load_model, load_platform
from mlops_config.model import ModelConfig
from mlops_config.platform import PlatformSettings

__all__ = [
    "ConfigError",
    "ModelConfig",
    "PlatformConfig",
    "PlatformSettings",
    "load_config",
    "load_model",
    "load_platform",
]
