"""One error type for every bad configuration, with a message that names file, field, value and rule."""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration file is invalid. ``str(error)`` is the full, human-readable report."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _value_at(data, loc: tuple):
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return data


def describe_validation_error(path: Path, error: ValidationError, data) -> ConfigError:
    """Turn pydantic's error into one line per problem: ``file: field = value: what is allowed``."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "config_field":
            ctx = item["ctx"]
            problems.append(f"{path}: {_field_path(loc + tuple(ctx['field'].split('.')))} = {ctx['value']}: "
                            f"{ctx['rule']}")
            continue
        if item["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against `mlops schema`"
        value = item.get("input") if item["type"] != "missing" else "<missing>"
        if item["type"] == "missing":
            value = "<missing>"
        elif isinstance(value, dict) and loc:
            value = _value_at(data, loc)
        problems.append(f"{path}: {_field_path(loc)} = {value!r}: {message}")
    return ConfigError(problems)
