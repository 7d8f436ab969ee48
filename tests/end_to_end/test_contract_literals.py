"""No copy of a contract name: every Python module outside ``mlops_contracts`` imports the names it shares.

A name that crosses a boundary (a pipeline parameter, a metadata key, a metric namespace or name, an event source or
detail-type, an S3 prefix, a function's ``service`` name) is spelled once, in ``mlops_contracts``. This test reads
every module of the repository (ast, not text) and fails on a string constant equal to such a name, naming
``file:line`` and the constant to import instead.

Which contract values count as names: every constant of a naming family (``PARAM_``, ``META_``, ``METRIC_``,
``SERVICE_``, ``EVENT_SOURCE_``, ``DETAIL_``, ``ENV_``, ``*_NAMESPACE``, ``*_FILE``, ``*_PATH``, ``*_MARKER``), and any
other whose value is specific by shape (``a/b``, ``a:b``, ``a.b``, words with spaces, ``PascalCase`` of two words
or more). Environment variable names (``ENV_*``: what a construct sets in ``environment=``, ``add_environment``
or CodeBuild ``variables=`` and a handler reads from ``os.environ``) count everywhere, in tests too. An S3 prefix
(``*_PREFIX``, not an ``ENV_*`` one) also matches a string that starts with ``<prefix>/``. Single words (the
dimension names ``Model``, ``Endpoint``; ``code``, ``drift``) are not names by themselves: CloudFormation and AWS
APIs use them as field names too, so they are left alone, as are the values in ``NOT_ENFORCED``.

Dimension names (``DIM_*``) are single words, so they count only where they name a dimension: a key of a
``dimensions_map=`` / ``default_dimensions=`` / ``dimensions=`` dict, the ``"Name"`` of a ``{"Name": ..., "Value":
...}`` dimension, or the first argument of ``add_dimension()``.

Not copies: docstrings; construct IDs (the string after the scope in ``Construct(scope, "Id", ...)``: IDs are
their own public contract); and, for values that are also AWS API field names (``AWS_FIELD_NAMES``), their use
as a key of a dict, a subscript or ``.get()`` (reading an AWS response or event is not naming our contract).
"""
from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

import mlops_contracts as contracts
from tests.conftest import REPO

# Not scanned: generated or third-party trees, the contracts themselves, and the benchmarks, standalone scripts
# that put the repository on sys.path only when they run (some against another checkout).
SKIPPED_DIRS = frozenset({"node_modules", "cdk.out", "mutants-work", "mlops_contracts", "benchmarks"})
FAMILY_PREFIXES = ("PARAM_", "META_", "METRIC_", "SERVICE_", "EVENT_SOURCE_", "DETAIL_", "ENV_")
FAMILY_SUFFIXES = ("_NAMESPACE", "_FILE", "_PATH", "_MARKER")
PREFIX_SUFFIX = "_PREFIX"
NOT_ENFORCED = {
    # Powertools' own default dimension name.
    contracts.DIM_SERVICE: "service",
    # Also SageMaker's field name in every package response and event, and the endpoint stack's CfnParameter.
    contracts.DEPLOY_PACKAGE_VARIABLE: "ModelPackageArn",
}
# Contract values that SageMaker also uses as field names in its API responses and events
# (ListModelPackages' ModelApprovalStatus; DescribeEndpoint's EndpointConfigName, the endpoint stack's output too;
# SNS Publish's TopicArn, the endpoint stack's parameter too).
AWS_FIELD_NAMES = frozenset({contracts.PARAM_APPROVAL_STATUS, contracts.ENDPOINT_OUTPUT_CONFIG,
                             contracts.ENDPOINT_PARAM_TOPIC})
_SPECIFIC = re.compile(r".*[:/. ].*|(?:[A-Z][a-z0-9]+){2,}[A-Za-z0-9]*")


def contract_names(module=contracts) -> tuple[dict[str, str], dict[str, str]]:
    """(value -> constant, S3 prefix + '/' -> constant) of the names a module must import, not spell."""
    exact, prefixes = {}, {}
    for name, value in sorted(vars(module).items()):
        if not name.isupper() or not isinstance(value, str) or not value or value in NOT_ENFORCED:
            continue
        if name.endswith(PREFIX_SUFFIX) and not name.startswith("ENV_"):  # ENV_NEW_DATA_PREFIX names a variable
            prefixes[f"{value}/"] = name
        if (name.startswith(FAMILY_PREFIXES) or name.endswith(FAMILY_SUFFIXES) or _SPECIFIC.fullmatch(value)):
            exact.setdefault(value, name)
    return exact, prefixes


def _exempt(node: ast.Constant, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.Expr):  # a docstring or a bare string
        return True
    if isinstance(parent, ast.Call) and len(parent.args) >= 2 and parent.args[1] is node \
            and isinstance(parent.args[0], ast.Name):  # Construct(scope, "Id", ...)
        return True
    if node.value in AWS_FIELD_NAMES:
        if isinstance(parent, ast.Dict) and any(k is node for k in parent.keys):
            return True
        if isinstance(parent, ast.Subscript) and parent.slice is node:
            return True
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "get" \
                and parent.args and parent.args[0] is node:
            return True
    return False


DIMENSION_KEYWORDS = frozenset({"dimensions_map", "default_dimensions", "dimensions"})


def dimension_names(module=contracts) -> dict[str, str]:
    """value -> constant of the dimension names (``DIM_*``)."""
    return {v: n for n, v in sorted(vars(module).items()) if n.startswith("DIM_") and isinstance(v, str)}


def _names_a_dimension(node: ast.Constant, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.Dict):
        if any(k is node for k in parent.keys):
            holder = parents.get(parent)
            return isinstance(holder, ast.keyword) and holder.arg in DIMENSION_KEYWORDS
        keys = {k.value: v for k, v in zip(parent.keys, parent.values) if isinstance(k, ast.Constant)}
        return keys.get("Name") is node and "Value" in keys
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute)
            and parent.func.attr == "add_dimension" and bool(parent.args) and parent.args[0] is node)


def literal_copies(source: str, filename: str, names: tuple[dict[str, str], dict[str, str]]) -> list[str]:
    """``file:line: 'value' is contracts.NAME`` for every copy of a contract name in one module's source."""
    exact, prefixes = names
    dimensions = dimension_names()
    tree = ast.parse(source, filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or _exempt(node, parents):
            continue
        name = exact.get(node.value) or next((n for p, n in prefixes.items() if node.value.startswith(p)), None)
        if not name and node.value in dimensions and _names_a_dimension(node, parents):
            name = dimensions[node.value]
        if name:
            found.append(f"{filename}:{node.lineno}: {node.value!r} is mlops_contracts.{name}")
    return found


def python_modules(root: Path = REPO) -> list[Path]:
    # Hidden folders (.git, .venv, the step and container environments .venv-steps/.venv-container) are not ours.
    return sorted(p for p in root.rglob("*.py") if not any(
        part in SKIPPED_DIRS or part.startswith(".") for part in p.relative_to(root).parts))


def test_no_module_spells_a_contract_name():
    names = contract_names()
    copies = [copy for path in python_modules()
              for copy in literal_copies(path.read_text(), str(path.relative_to(REPO)), names)]
    assert not copies, "import these names from mlops_contracts instead of spelling them:\n" + "\n".join(copies)


def test_the_scan_covers_every_capability():
    scanned = {p.relative_to(REPO).parent.as_posix() for p in python_modules()}
    capabilities = {f"mlops_constructs/{c}" for c in ("core", "build", "deploy", "monitor", "govern", "_private")}
    assert capabilities | {"functions/drift_detector", "mlops_config", "stacks", "monitoring_code", "governance_code",
                           "pipeline_code/training", "tooling_code", "mlops_cli", "tests/functions"} <= scanned
    exact, prefixes = contract_names()
    # The families the issue names are enforced: parameters, metadata keys, namespaces, metric names, events.
    for name in ("PARAM_INPUT_DATA", "PARAM_TRIGGER", "META_GIT_COMMIT", "METRIC_NAMESPACE",
                 "GOVERNANCE_METRIC_NAMESPACE", "METRIC_DRIFT_SCORE", "METRIC_AUDIT_EVENTS_SKIPPED",
                 "SERVICE_DRIFT_DETECTOR", "EVENT_SOURCE_SAGEMAKER", "DETAIL_PACKAGE_STATE", "BASELINE_FILE",
                 "CHAMPION_PASSED_PATH", "DROP_MARKER", "ENV_PIPELINE_NAME", "ENV_MODEL_NAME", "ENV_AUDIT_TABLE",
                 "ENV_ENDPOINT_ROLE", "ENV_CATEGORICAL_INPUT", "ENV_NEW_DATA_PREFIX"):
        assert exact[getattr(contracts, name)] == name
    assert prefixes[f"{contracts.ARTIFACT_PREFIX}/"] == "ARTIFACT_PREFIX"
    assert f"{contracts.ENV_NEW_DATA_PREFIX}/" not in prefixes  # a variable's name, not an S3 prefix


@pytest.mark.parametrize(("source", "expected"), [
    # A metric name, a namespace, an event source and detail-type, a parameter, a service name and an S3 prefix.
    ('metrics.add_metric(name="AuditEventsSkipped", unit="Count", value=1)',
     "'AuditEventsSkipped' is mlops_contracts.METRIC_AUDIT_EVENTS_SKIPPED"),
    ('Metrics(namespace="MLOps/Governance")', "'MLOps/Governance' is mlops_contracts.GOVERNANCE_METRIC_NAMESPACE"),
    ('pattern = {"source": ["aws.sagemaker"]}', "'aws.sagemaker' is mlops_contracts.EVENT_SOURCE_SAGEMAKER"),
    ('DETAIL = "CloudWatch Alarm State Change"', "'CloudWatch Alarm State Change' is mlops_contracts.DETAIL_ALARM_STATE"),
    ('params = {"Name": "Trigger", "Value": "drift"}', "'Trigger' is mlops_contracts.PARAM_TRIGGER"),
    ('fn(function="drift_detector")', "'drift_detector' is mlops_contracts.SERVICE_DRIFT_DETECTOR"),
    ('objects = bucket.arn_for_objects(f"pipelines/{execution}/*")', "'pipelines/' is mlops_contracts.ARTIFACT_PREFIX"),
    ('{"Name": "ModelApprovalStatus", "Value": "Approved"}', "is mlops_contracts.PARAM_APPROVAL_STATUS"),
    ('cloudwatch.Metric(dimensions_map={"Model": model})', "'Model' is mlops_contracts.DIM_MODEL"),
    ('DIMENSIONS = [{"Name": "Endpoint", "Value": ENDPOINT}]', "'Endpoint' is mlops_contracts.DIM_ENDPOINT"),
    ('metrics.add_dimension("Model", model)', "'Model' is mlops_contracts.DIM_MODEL"),
    ('single_metric(default_dimensions={"Feature": name})', "'Feature' is mlops_contracts.DIM_FEATURE"),
    # Environment variable names: a handler's read, a construct's environment, a test's environment.
    ('pipeline = os.environ["PIPELINE_NAME"]', "'PIPELINE_NAME' is mlops_contracts.ENV_PIPELINE_NAME"),
    ('steps = int(os.environ.get("MIN_SAMPLES", "500"))', "'MIN_SAMPLES' is mlops_contracts.ENV_MIN_SAMPLES"),
    ('PlatformFunction(self, "Fn", environment={"PIPELINE_NAME": name})',
     "'PIPELINE_NAME' is mlops_contracts.ENV_PIPELINE_NAME"),
    ('fn.function.add_environment("AUDIT_TABLE", table.table_name)',
     "'AUDIT_TABLE' is mlops_contracts.ENV_AUDIT_TABLE"),
    ('pipeline_project(self, "Run", variables={"MODEL_NAME": model})',
     "'MODEL_NAME' is mlops_contracts.ENV_MODEL_NAME"),
    ('monkeypatch.setenv("DRIFT_STEP", contracts.DRIFT_STEP_COUNT)', "'DRIFT_STEP' is mlops_contracts.ENV_DRIFT_STEP"),
    ('role = environ.get("ENDPOINT_ROLE_ARN")', "'ENDPOINT_ROLE_ARN' is mlops_contracts.ENV_ENDPOINT_ROLE"),
    ('prefix = os.environ["NEW_DATA_PREFIX"]', "'NEW_DATA_PREFIX' is mlops_contracts.ENV_NEW_DATA_PREFIX"),
])
def test_a_reintroduced_literal_fails_naming_file_line_and_constant(source, expected):
    [copy] = literal_copies(textwrap.dedent(source), "functions/example/handler.py", contract_names())
    assert copy.startswith("functions/example/handler.py:1: ") and copy.endswith(expected), copy


@pytest.mark.parametrize("source", [
    '"""Publishes DriftScore to MLOps/ModelMonitoring."""',  # a docstring
    'Function(self, "Trigger", function=name)',  # a construct ID
    'status = detail.get("ModelApprovalStatus")',  # an AWS event field, not our parameter
    'status = package["ModelApprovalStatus"]',
    'subscription = {"Protocol": "email", "Endpoint": email}',  # single words: CloudFormation fields too
    'statements = [("Endpoint", ["sagemaker:CreateEndpoint"])]',
    'x = {"ModelApprovalStatus": "Approved"}',
    'prefix = "code"',  # a word, not a name
    'metrics.add_metric(name=contracts.METRIC_DRIFT_SCORE, unit="NoUnit", value=1)',
    # Not our variables: Lambda's runtime, Powertools' settings, SageMaker's training container.
    'region = os.environ.get("AWS_REGION", "us-east-1")',
    'environment={"POWERTOOLS_SERVICE_NAME": function, **(environment or {})}',
    'parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))',
    'pipeline = os.environ[contracts.ENV_PIPELINE_NAME]',  # the constant itself
])
def test_what_is_not_a_copy(source):
    assert literal_copies(source, "m.py", contract_names()) == []
