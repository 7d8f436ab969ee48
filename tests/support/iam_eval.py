"""A small evaluator of synthesized IAM: which statements a role has, and whether they allow an action on a resource.

Templates are rendered to concrete strings first (pseudo parameters, parameters and resource attributes replaced
by stand-ins), so the ARNs that a deploy role grants in one template can be compared with the ARNs of the resources
another template creates. Conditions are not evaluated: a statement counts as allowing when its action and
resource patterns match; tests that care about a condition assert it explicitly.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path


@dataclass
class Context:
    """Concrete values for one template: partition, region, account, parameter values by name, and the stack
    name (CloudFormation-generated names start with it)."""

    account: str
    region: str
    partition: str = "aws"
    parameters: dict[str, str] = field(default_factory=dict)
    stack: str = "stack"


REF_IS_ARN = {"AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"}


def render(node, template: dict, ctx: Context) -> str:
    """A CloudFormation value as a string: Refs and GetAtts of resources become stand-in names or ARNs."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float, bool)):
        return json.dumps(node)
    if isinstance(node, list):
        return ",".join(render(n, template, ctx) for n in node)
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(render(p, template, ctx) for p in parts)
    if "Ref" in node:
        name = node["Ref"]
        pseudo = {"AWS::Partition": ctx.partition, "AWS::Region": ctx.region, "AWS::AccountId": ctx.account,
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "STACK"}
        if name in pseudo:
            return pseudo[name]
        if name in template.get("Parameters", {}):
            return ctx.parameters.get(name, f"PARAM-{name}")
        if template["Resources"][name]["Type"] in REF_IS_ARN:
            return resource_arn(name, template, ctx)
        return physical_name(name, template, ctx)
    if "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        return resource_arn(logical_id, template, ctx) if attribute == "Arn" else f"{logical_id}.{attribute}"
    if "Fn::FindInMap" in node:
        mapping, key, attribute = (render(part, template, ctx) for part in node["Fn::FindInMap"])
        return render(template["Mappings"][mapping][key][attribute], template, ctx)
    if "Fn::Select" in node:
        index, values = node["Fn::Select"]
        values = values if isinstance(values, list) else render(values, template, ctx).split(",")
        return render(values[int(index)], template, ctx)
    if "Fn::Split" in node:
        separator, value = node["Fn::Split"]
        return render(value, template, ctx).replace(separator, ",")
    if "Fn::Sub" in node:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        return re.sub(r"\$\{([^}]+)\}", lambda m: render({"Ref": m.group(1)}, template, ctx), text)
    return json.dumps(node, sort_keys=True)


def physical_name(logical_id: str, template: dict, ctx: Context) -> str:
    resource = template["Resources"][logical_id]
    props = resource.get("Properties", {})
    for name_property in ("RoleName", "EndpointName", "AlarmName", "DashboardName", "BucketName"):
        if name_property in props:
            return render(props[name_property], template, ctx)
    return f"{ctx.stack}-{logical_id}".lower()


def resource_arn(logical_id: str, template: dict, ctx: Context) -> str:
    """The ARN of a template resource, with CloudFormation-generated names as ``<logical id>`` stand-ins."""
    resource = template["Resources"][logical_id]
    name = physical_name(logical_id, template, ctx)
    p, r, a = ctx.partition, ctx.region, ctx.account
    kind = resource["Type"]
    if kind == "AWS::IAM::Role":
        return f"arn:{p}:iam::{a}:role/{name}"
    if kind == "AWS::KMS::Key":
        return f"arn:{p}:kms:{r}:{a}:key/{name}"
    if kind == "AWS::S3::Bucket":
        return f"arn:{p}:s3:::{name}"
    if kind == "AWS::StepFunctions::StateMachine":
        return f"arn:{p}:states:{r}:{a}:stateMachine:{name}"
    if kind == "AWS::SNS::Topic":
        return f"arn:{p}:sns:{r}:{a}:{name}"
    return f"arn:{p}:{kind.split('::')[1].lower()}:{r}:{a}:{name}"


def role_statements(template: dict, role_id: str, ctx: Context) -> list[dict]:
    """Every statement granted to a role, inline or through AWS::IAM::Policy, rendered."""
    role = template["Resources"][role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    statements = []
    for document in documents:
        for statement in document["Statement"]:
            rendered = dict(statement)
            for key in ("Action", "NotAction", "Resource"):
                if key in statement:
                    values = statement[key] if isinstance(statement[key], list) else [statement[key]]
                    rendered[key] = [render(v, template, ctx) for v in values]
            statements.append(rendered)
    return statements


def _matches(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    pattern = pattern.replace("[", "[[]")
    return fnmatchcase(value, pattern) if case_sensitive else fnmatchcase(value.lower(), pattern.lower())


def allows(statements: list[dict], action: str, resource: str | None = None) -> bool:
    """Some Allow statement grants ``action`` (on ``resource`` when given), and no Deny statement denies it."""
    def covers(statement: dict) -> bool:
        if not any(_matches(a, action, case_sensitive=False) for a in statement.get("Action", [])):
            return False
        return resource is None or any(_matches(r, resource) for r in statement.get("Resource", []))

    if any(s["Effect"] == "Deny" and covers(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and covers(s) for s in statements)


@cache
def registry_handlers(resource_type: str, region: str = "us-east-1") -> dict[str, list[str]]:
    """create/update/delete handler permissions of a resource type, from the CloudFormation registry schemas that
    cfn-lint ships (``cfnlint/data/schemas/providers/<region>.json`` -> ``resources/<file>.json``)."""
    import cfnlint

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    provider = json.loads((schemas / "providers" / f"{region}.json").read_text())
    schema = json.loads((schemas / "resources" / f"{provider[resource_type]}.json").read_text())
    return {handler: schema["handlers"][handler]["permissions"] for handler in ("create", "update", "delete")
            if handler in schema.get("handlers", {})}
