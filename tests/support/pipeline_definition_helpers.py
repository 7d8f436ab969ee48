"""Read a synthesized AWS::SageMaker::Pipeline back into a definition, and check it against botocore's models."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator

import botocore.session
from botocore.validate import ParamValidator

ACCOUNT, REGION = "111122223333", "eu-west-1"
STEP_API = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob",
            "Tuning": "CreateHyperParameterTuningJob", "RegisterModel": "CreateModelPackage"}
EXPRESSION_KEYS = {"Get", "Std:Join", "Std:JsonGet"}
_PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com",
           "AWS::Partition": "aws"}


def pipeline_resource(template: dict) -> tuple[str, dict]:
    """(logical ID, properties) of the template's single AWS::SageMaker::Pipeline."""
    found = [(k, r["Properties"]) for k, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert len(found) == 1, f"expected one pipeline, found {[k for k, _ in found]}"
    return found[0]


def resolve_cfn(value, template: dict) -> str:
    """A CloudFormation value as a deploy-time string: refs and attributes become typed example values."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve_cfn(p, template) for p in parts)
    if "Ref" in value:
        name = value["Ref"]
        if name in _PSEUDO:
            return _PSEUDO[name]
        return f"{name.lower()[:40]}-bucket" if template["Resources"][name]["Type"] == "AWS::S3::Bucket" else name
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        kind = template["Resources"][name]["Type"]
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{resolve_cfn({'Ref': name}, template)}"
        raise AssertionError(f"unexpected attribute {name}.{attribute} ({kind})")
    if "Fn::FindInMap" in value:
        mapping, top, second = value["Fn::FindInMap"]
        return template["Mappings"][mapping][resolve_cfn(top, template)][second]
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: _PSEUDO[m.group(1)], value["Fn::Sub"])
    raise AssertionError(f"unexpected intrinsic {value}")


def definition_of(template: dict) -> dict:
    """The pipeline definition as SageMaker receives it, for a stack deployed to ACCOUNT/REGION."""
    _, properties = pipeline_resource(template)
    return json.loads(resolve_cfn(properties["PipelineDefinition"]["PipelineDefinitionBody"], template))


def walk_steps(steps: list[dict]) -> Iterator[dict]:
    """Every step, including those nested in condition branches."""
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from walk_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])


def step_named(definition: dict, name: str) -> dict:
    matches = [s for s in walk_steps(definition["Steps"]) if s["Name"] == name]
    assert len(matches) == 1, f"step {name!r}: found {len(matches)}"
    return matches[0]


def expressions(value) -> Iterator[dict]:
    """Every Get / Std:Join / Std:JsonGet expression inside a value, outermost first."""
    if isinstance(value, dict):
        if set(value) & EXPRESSION_KEYS:
            yield value
        for item in value.values():
            yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


def _placeholder(shape):
    """A typed stand-in for a run-time expression where the API expects ``shape``."""
    kind = shape.type_name
    if kind == "string":
        return "s3://placeholder-bucket/placeholder" if "Uri" in shape.name or "Url" in shape.name else "placeholder"
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    raise AssertionError(f"an expression stands where the API expects a {kind} ({shape.name})")


def substitute(value, shape):
    """``value`` with every pipeline expression replaced by a placeholder of the type the API expects there."""
    if isinstance(value, dict) and set(value) & EXPRESSION_KEYS:
        return _placeholder(shape)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: substitute(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [substitute(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: substitute(v, shape.value) for k, v in value.items()}
    return value


def validation_errors(step: dict) -> str:
    """botocore's report on a step's Arguments against its API's request shape ('' when valid)."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(STEP_API[step["Type"]]).input_shape
    report = ParamValidator().validate(substitute(step["Arguments"], shape), shape)
    return report.generate_report() if report.has_errors() else ""
