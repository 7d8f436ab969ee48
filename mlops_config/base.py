"""Shared pydantic base and field types."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

AWS_ACCOUNT = Annotated[str, Field(pattern=r"^\d{12}$", description="12-digit AWS account ID")]
AWS_REGION = Annotated[
    str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$", description="AWS region, e.g. eu-west-1")
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, description="a number in [0, 1]")]

_S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")


def _s3_prefix(value: str) -> str:
    if value.startswith("/") or "//" in value or not _S3_PREFIX.match(value):
        raise ValueError(
            "must be a relative S3 key prefix ending in '/', made of letters, digits and !_.*'()/- "
            "(e.g. 'transactions/monthly/')"
        )
    return value


S3Prefix = Annotated[str, AfterValidator(_s3_prefix)]


class Strict(BaseModel):
    """Every config object: unknown fields are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def field_error(field: str, value, rule: str) -> PydanticCustomError:
    """A cross-field error pinned to one sub-field, so the report names that field and its value."""
    return PydanticCustomError("config_field", "{field} = {value}: {rule}",
                               {"field": field, "value": repr(value), "rule": rule})
