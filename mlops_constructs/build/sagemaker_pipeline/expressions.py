"""Pipeline-definition expressions (``Get``, ``Std:Join``, ``Std:JsonGet``) and parameters, as plain data.

Values may hold CDK tokens; the whole definition is rendered with ``Stack.to_json_string`` so they resolve.
"""
from __future__ import annotations

from typing import Any, Literal

Expression = dict[str, Any]
ParameterType = Literal["String", "Float", "Integer", "Boolean"]

EXECUTION_ID: Expression = {"Get": "Execution.PipelineExecutionId"}
EXECUTION_ARN: Expression = {"Get": "Execution.PipelineExecutionArn"}


def parameter(name: str, type_: ParameterType, default: Any) -> dict:
    """A pipeline parameter declaration."""
    return {"Name": name, "Type": type_, "DefaultValue": default}


def param(name: str) -> Expression:
    """The value of pipeline parameter ``name``."""
    return {"Get": f"Parameters.{name}"}


def step_property(step: str, path: str) -> Expression:
    """A property of an earlier step, e.g. ``step_property("Train", "ModelArtifacts.S3ModelArtifacts")``."""
    return {"Get": f"Steps.{step}.{path}"}


def processing_output_uri(step: str, output: str) -> Expression:
    """The S3 URI of a processing step's named output."""
    return step_property(step, f"ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


def join(values: list[Any], on: str = "") -> Expression:
    """``Std:Join`` of literals and expressions."""
    return {"Std:Join": {"On": on, "Values": list(values)}}


def json_get(step: str, property_file: str, path: str) -> Expression:
    """``Std:JsonGet``: a value read at run time from a property file a processing step declared."""
    return {"Std:JsonGet": {"PropertyFile": {"Get": f"Steps.{step}.PropertyFiles.{property_file}"}, "Path": path}}
