"""What a change does, per model, in the platform's own terms: read from two sets of synthesized templates.

``summarize(base, head)`` takes {stack name: template dict} for both sides and returns Markdown lines:
- per model (stacks ``<prefix>-<model>`` and ``<prefix>-<model>-<stage>``): added or removed stacks; quality-gate
  floors and other pipeline parameters; pipeline steps added, removed or changed (image, instance, arguments);
  the endpoint's strategy, bake, instance types and counts, autoscaling; alarms; schedules;
- IAM: every policy document (identity, resource and trust policies). A change that only rotates an asset hash
  is counted and folded; a change of actions, resources, principals or conditions is listed first and marked
  security-relevant.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import mlops_contracts as contracts

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
MASK = "<asset-hash>"
SECURITY = "**security-relevant**"
PIPELINE = "AWS::SageMaker::Pipeline"
POLICY_KEYS = ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy")
GATE_PARAMETER = re.compile(r"^Min([A-Z][A-Za-z0-9]*)$")
CODE_PARAMETERS = (contracts.PARAM_CODE_URL, contracts.PARAM_CODE_SHA256)


@dataclass
class ModelChanges:
    """Summary lines of one model (or of the platform's shared stacks)."""

    security: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _render(value) -> str:
    """CloudFormation values as text: intrinsics shown as ${...}, so a Fn::Join string reads as one string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (name, argument), = value.items()
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(p) for p in parts)
        if name == "Ref":
            return "${" + argument + "}"
        if name == "Fn::GetAtt":
            return "${" + ".".join(argument if isinstance(argument, list) else [argument]) + "}"
        if name == "Fn::Sub":
            return argument if isinstance(argument, str) else _render(argument[0])
        if name == "Fn::FindInMap":
            return "${" + ".".join(_render(a) for a in argument) + "}"
    return json.dumps(value, sort_keys=True)


def pipeline_definition(resource: dict) -> dict | None:
    """The parsed pipeline definition of an AWS::SageMaker::Pipeline resource (tokens rendered as ${...})."""
    body = resource.get("Properties", {}).get("PipelineDefinition", {}).get("PipelineDefinitionBody")
    if body is None:
        return None
    try:
        return json.loads(_render(body))
    except ValueError:
        return None


def _flatten(value, path: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else key))
        return out
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{path}[{index}]"))
        return out
    return {path: value}


def _show(value) -> str:
    return "(none)" if value is None else (value if isinstance(value, str) else json.dumps(value))


def _pipeline_lines(base: dict | None, head: dict | None) -> list[str]:
    """Parameters and steps compared one by one."""
    if base is None or head is None:
        return [] if base == head else ["build pipeline " + ("added" if base is None else "removed")]
    lines = []
    base_params = {p["Name"]: p.get("DefaultValue") for p in base.get("Parameters", [])}
    head_params = {p["Name"]: p.get("DefaultValue") for p in head.get("Parameters", [])}
    code_changed = False
    for name in sorted(set(base_params) | set(head_params)):
        old, new = base_params.get(name), head_params.get(name)
        if old == new:
            continue
        if name in CODE_PARAMETERS:
            code_changed = True
            continue
        gate = GATE_PARAMETER.match(name)
        label = f"quality gate {gate.group(1).lower()}" if gate else f"pipeline parameter {name}"
        lines.append(f"{label} {_show(old)} → {_show(new)}")
    if code_changed:
        lines.append("pipeline code bundle changed (new sha256)")
    base_steps = {s["Name"]: s for s in base.get("Steps", [])}
    head_steps = {s["Name"]: s for s in head.get("Steps", [])}
    for name in [s for s in base_steps if s not in head_steps]:
        lines.append(f"pipeline step {name} removed")
    for name in [s for s in head_steps if s not in base_steps]:
        lines.append(f"pipeline step {name} added ({head_steps[name].get('Type')})")
    for name in [s for s in head_steps if s in base_steps]:
        old, new = _flatten(base_steps[name]), _flatten(head_steps[name])
        for path in sorted(set(old) | set(new)):
            if old.get(path) != new.get(path) and not _code_only(old.get(path), new.get(path)):
                lines.append(f"pipeline step {name}: {path} {_show(old.get(path))} → {_show(new.get(path))}")
    return lines


def _code_only(old, new) -> bool:
    return isinstance(old, str) and isinstance(new, str) and ASSET_HASH.sub(MASK, old) == ASSET_HASH.sub(MASK, new)


def _strategy(endpoint: dict) -> str:
    policy = endpoint.get("Properties", {}).get("DeploymentConfig", {}).get("BlueGreenUpdatePolicy", {})
    routing = policy.get("TrafficRoutingConfiguration", {})
    kind = routing.get("Type", "none")
    step = routing.get("LinearStepSize") or routing.get("CanarySize")
    size = f" {step['Value']}{'%' if step['Type'] == 'CAPACITY_PERCENT' else ' instances'}" if step else ""
    return f"{kind}{size}, bake {routing.get('WaitIntervalInSeconds', 0)} s"


def _friendly(logical_id: str) -> str:
    """A logical ID without CDK's 8-hex uniqueness suffix: ``Endpoint8024A810`` → ``Endpoint``."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id) or logical_id


def _by_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def _compare(base: dict, head: dict, kind: str, describe, label: str) -> list[str]:
    old, new = _by_type(base, kind), _by_type(head, kind)
    lines = []
    for key in sorted(set(old) | set(new)):
        before = describe(old[key]) if key in old else None
        after = describe(new[key]) if key in new else None
        if before != after:
            name = _friendly(key)
            if before is None:
                lines.append(f"{label} {name} added: {after}")
            elif after is None:
                lines.append(f"{label} {name} removed (was {before})")
            else:
                lines.append(f"{label} {name}: {before} → {after}")
    return lines


def _variants(config: dict) -> str:
    variants = config.get("Properties", {}).get("ProductionVariants", [])
    return ", ".join(f"{v.get('VariantName')} {v.get('InitialInstanceCount', '')}× {v.get('InstanceType', '')}"
                     .replace(" × ", " ").strip() for v in variants)


def _alarm(alarm: dict) -> str:
    p = alarm.get("Properties", {})
    metric = p.get("MetricName") or "expression"
    return f"{metric} {p.get('ComparisonOperator', '')} {p.get('Threshold')}"


def _schedule(resource: dict) -> str:
    return _render(resource.get("Properties", {}).get("ScheduleExpression", "(none)"))


def _scaling(target: dict) -> str:
    p = target.get("Properties", {})
    return f"{p.get('MinCapacity')}-{p.get('MaxCapacity')} instances"


def stack_lines(base: dict, head: dict) -> list[str]:
    """Platform-level changes between two templates of one stack."""
    lines = []
    old_pipes, new_pipes = _by_type(base, PIPELINE), _by_type(head, PIPELINE)
    for key in sorted(set(old_pipes) | set(new_pipes)):
        lines += _pipeline_lines(pipeline_definition(old_pipes[key]) if key in old_pipes else None,
                                 pipeline_definition(new_pipes[key]) if key in new_pipes else None)
    lines += _compare(base, head, "AWS::SageMaker::Endpoint", _strategy, "strategy of endpoint")
    lines += _compare(base, head, "AWS::SageMaker::EndpointConfig", _variants, "instances of endpoint config")
    lines += _compare(base, head, "AWS::ApplicationAutoScaling::ScalableTarget", _scaling, "autoscaling")
    lines += _compare(base, head, "AWS::CloudWatch::Alarm", _alarm, "alarm")
    lines += _compare(base, head, "AWS::Scheduler::Schedule", _schedule, "schedule")
    lines += _compare(base, head, "AWS::Events::Rule", _schedule, "rule schedule")
    return [line for line in lines if not line.endswith("(none) → (none)")]


def _statements(document) -> list:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _policy_documents(template: dict) -> dict[str, list]:
    """{'<logical id>[.<key>]': statements} of every identity, resource and trust policy in a template."""
    documents = {}
    for key, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for name in POLICY_KEYS:
            if name in properties:
                documents[f"{key}.{name}"] = _statements(properties[name])
        for index, inline in enumerate(properties.get("Policies", []) or []):
            documents[f"{key}.Policies[{index}]"] = _statements(inline.get("PolicyDocument"))
    return documents


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _canonical(statement: dict, mask: bool) -> str:
    """A statement as comparable text: action and resource lists rendered and sorted, Sid ignored; with ``mask``,
    asset hashes are masked first (so a rotation sorts the same)."""
    def text(value) -> str:
        rendered = _render(value)
        return ASSET_HASH.sub(MASK, rendered) if mask else rendered

    body = {k: sorted(map(text, _as_list(v))) if k in ("Action", "Resource", "NotAction", "NotResource")
            else text(v) for k, v in statement.items() if k != "Sid"}
    return json.dumps(body, sort_keys=True)


def _describe(statement: dict) -> str:
    actions = ", ".join(sorted(map(_render, _as_list(statement.get("Action", statement.get("NotAction", []))))))
    resources = ", ".join(sorted(map(_render, _as_list(statement.get("Resource", "*")))))
    principal = statement.get("Principal")
    who = f" to {_render(principal)}" if principal else ""
    condition = " with conditions" if statement.get("Condition") else ""
    return f"{statement.get('Effect', 'Allow')} {actions} on {resources}{who}{condition}"


def _without_resources(statement: dict) -> dict:
    return {k: v for k, v in statement.items() if k not in ("Resource", "NotResource")}


def iam_changes(base: dict, head: dict) -> tuple[list[str], int]:
    """(security-relevant lines, number of policies that differ only by an asset hash). A statement whose effect,
    actions, principals and conditions stay the same is shown as resources added and removed."""
    old, new = _policy_documents(base), _policy_documents(head)
    lines, rotations = [], 0
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, []), new.get(key, [])
        if [_canonical(s, False) for s in before] == [_canonical(s, False) for s in after]:
            continue
        masked_before = sorted(_canonical(s, True) for s in before)
        masked_after = sorted(_canonical(s, True) for s in after)
        if masked_before == masked_after:
            rotations += 1
            continue
        removed = [s for s in before if _canonical(s, True) not in masked_after]
        added = [s for s in after if _canonical(s, True) not in masked_before]
        name = _friendly(key.split(".")[0])
        for statement in added:
            shape = _canonical(_without_resources(statement), True)
            twin = next((r for r in removed if _canonical(_without_resources(r), True) == shape), None)
            if twin is None:
                lines.append(f"IAM {name}: + {_describe(statement)} {SECURITY}")
                continue
            removed.remove(twin)
            was = {ASSET_HASH.sub(MASK, _render(r)) for r in _as_list(twin.get("Resource", "*"))}
            now = {ASSET_HASH.sub(MASK, _render(r)) for r in _as_list(statement.get("Resource", "*"))}
            actions = ", ".join(sorted(map(_render, _as_list(statement.get("Action", statement.get("NotAction"))))))
            change = "; ".join(part for part in (
                "+ " + ", ".join(sorted(now - was)) if now - was else "",
                "- " + ", ".join(sorted(was - now)) if was - now else "") if part)
            lines.append(f"IAM {name}: {statement.get('Effect', 'Allow')} {actions} resources {change} {SECURITY}")
        lines += [f"IAM {name}: - {_describe(s)} {SECURITY}" for s in removed]
    return [_compact(line) for line in lines], rotations


def _compact(text: str) -> str:
    """Shorter ARNs: pseudo parameters by their short names."""
    return (text.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "${Region}")
            .replace("${AWS::AccountId}", "${Account}"))


def _model_of(stack: str, stacks: set[str], prefix: str) -> tuple[str, str]:
    """(model, stage) of a stack: ``<prefix>-<model>`` has stage "", ``<prefix>-<model>-<stage>`` its stage."""
    parent, _, stage = stack.rpartition("-")
    if parent in stacks:
        return _model_of(parent, stacks, prefix)[0], stage
    return stack.removeprefix(f"{prefix}-"), ""


def summarize(base: dict[str, dict], head: dict[str, dict], prefix: str = "mlops") -> list[str]:
    """Markdown lines: one section per changed model, security-relevant IAM first; asset-only IAM churn folded."""
    stacks = set(base) | set(head)
    models: dict[str, ModelChanges] = {}
    rotations = 0
    for stack in sorted(stacks):
        model, stage = _model_of(stack, stacks, prefix)
        changes = models.setdefault(model, ModelChanges())
        where = f"{stage}: " if stage else ""
        if stack not in base:
            policies = len(_policy_documents(head[stack]))
            changes.lines.append(f"stack {stack} added ({len(head[stack].get('Resources', {}))} resources"
                                 + (f", {policies} IAM policies) {SECURITY}" if policies else ")"))
        elif stack not in head:
            changes.lines.append(f"stack {stack} removed {SECURITY if _policy_documents(base[stack]) else ''}"
                                 .rstrip())
            continue
        if stack not in base:
            continue
        before = base[stack]
        security, rotated = iam_changes(before, head[stack])
        rotations += rotated
        changes.security += [where + line for line in security]
        changes.lines += [where + line for line in stack_lines(before, head[stack])]
    out = []
    for model, changes in sorted(models.items()):
        if changes.security or changes.lines:
            out += [f"**{model}**", *[f"- {line}" for line in changes.security + changes.lines], ""]
    if not out:
        out = ["No change to any model, pipeline, endpoint, alarm, schedule or IAM policy.", ""]
    if rotations:
        out += [(f"<details><summary>{rotations} IAM polic{'y' if rotations == 1 else 'ies'} changed only by an "
                "asset hash (new code or image bundles; not security-relevant)</summary>"), "",
                "The statements are identical once 64-hex asset hashes are masked.", "</details>", ""]
    return out
