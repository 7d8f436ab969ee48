"""Read ``platform.yaml`` and ``models/*.yaml`` into validated objects, or raise one ConfigError."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from mlops_config.errors import ConfigError, describe_validation_error
from mlops_config.model import ModelConfig
from mlops_config.platform import PlatformSettings


@dataclass(frozen=True)
class PlatformConfig:
    """The whole validated configuration: platform settings plus models sorted by name."""

    directory: Path
    platform: PlatformSettings
    models: tuple[ModelConfig, ...]
    model_files: dict[str, Path]

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise ConfigError([f"{self.directory}: no model named {name!r}; models are {self.names}"])

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def config_hash(self, name: str) -> str:
        """SHA-256 of the platform file and the model's file: recorded on every model package."""
        digest = hashlib.sha256()
        for path in (self.directory / "platform.yaml", self.model_files[name]):
            if path.exists():
                digest.update(path.read_bytes())
        return digest.hexdigest()


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: (top level) = {data!r}: must be a mapping of field names to values"])
    return data


def load_platform(path: Path) -> PlatformSettings:
    """Validate ``platform.yaml``; a missing file means all defaults."""
    data = _read_yaml(path) if path.exists() else {}
    try:
        return PlatformSettings.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc, data) from None


def load_model(path: Path) -> ModelConfig:
    """Validate one model file, and check that files it names exist."""
    data = _read_yaml(path)
    try:
        model = ModelConfig.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc, data) from None
    if model.name != path.stem:
        raise ConfigError([f"{path}: name = {model.name!r}: must match the file name {path.stem!r}"])
    cases = model.deployment.known_cases
    if cases and not (path.parent.parent / cases.file).is_file():
        raise ConfigError([
            f"{path}: deployment.known_cases.file = {cases.file!r}: no such file under {path.parent.parent}"
        ])
    return model


def shared_prefixes(models: dict[str, ModelConfig], paths: dict[str, Path]) -> list[str]:
    """Two models whose input or new-data prefixes overlap (one equals or contains the other): a copied config
    would train on, or be retrained by, another model's data."""
    owners = [(name, field, getattr(model.data, field)) for name, model in sorted(models.items())
              for field in ("input_prefix", "new_data_prefix")]
    problems = []
    for index, (name, field, prefix) in enumerate(owners):
        for other, other_field, other_prefix in owners[index + 1:]:
            if other != name and (prefix.startswith(other_prefix) or other_prefix.startswith(prefix)):
                problems.append(f"{paths[other]}: data.{other_field} = {other_prefix!r}: overlaps data.{field} "
                                f"{prefix!r} of {name} ({paths[name]}); each model needs prefixes of its own")
    return problems


def load_config(directory: str | Path, only: list[str] | None = None) -> PlatformConfig:
    """Load and validate a config directory. All problems across all files are reported together."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError([f"{directory}: config directory not found"])
    problems: list[str] = []
    platform = None
    try:
        platform = load_platform(directory / "platform.yaml")
    except ConfigError as exc:
        problems += exc.problems
    files = sorted((directory / "models").glob("*.y*ml"))
    if not files:
        problems.append(f"{directory / 'models'}: no model files (*.yaml) found")
    models: dict[str, ModelConfig] = {}
    paths: dict[str, Path] = {}
    for path in files:
        try:
            model = load_model(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if model.name in models:
            problems.append(f"{path}: name = {model.name!r}: already used by {paths[model.name]}; names must be unique")
            continue
        models[model.name] = model
        paths[model.name] = path
    problems += shared_prefixes(models, paths)
    if only:
        unknown = [n for n in only if n not in models]
        if unknown and not problems:
            problems.append(f"context models = {','.join(only)!r}: unknown {unknown}; models are {sorted(models)}")
        models = {n: m for n, m in models.items() if n in only}
    if problems:
        raise ConfigError(problems)
    return PlatformConfig(directory, platform, tuple(models[n] for n in sorted(models)), paths)
