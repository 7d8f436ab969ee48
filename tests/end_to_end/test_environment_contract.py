"""Every Lambda's environment, across the boundary: what its template sets is exactly what its code reads.

For each AWS::Lambda::Function of the synthesized example app, the code is the import closure of its
``functions/<folder>/handler.py`` (what its image holds, ``pipeline_code.code_bundle.import_closure``). An ast scan
of that closure finds the ``mlops_contracts.ENV_*`` names it reads: ``os.environ[NAME]`` (required) or
``os.environ.get(NAME, ...)`` / ``environ.get(NAME)`` (optional: the code has a default). Then:
- every required name is set in the function's template ``Environment``;
- every variable the template sets is read by the closure, or is not ours (``POWERTOOLS_*``): no dead config;
- every module that reads a variable names it in its docstring (its ``Environment:``, with the defaults).

The same for every CodeBuild project: the ``$NAME`` its buildspec (``Source.BuildSpec``, a file of ``buildspecs/``)
reads are ``ENV_*`` names; each is set by the project (``Environment.EnvironmentVariables``), by a pipeline action
that runs it (``Configuration.EnvironmentVariables``) or by the buildspec's own ``env.variables``, unless read as
``${NAME:-}`` (optional); and each variable the project or an action sets is read by the buildspec.
"""
from __future__ import annotations

import ast
import json
import re
import textwrap
from functools import cache
from pathlib import Path

import pytest
import yaml

import mlops_contracts as contracts
from pipeline_code.code_bundle import import_closure
from tests.conftest import REPO
from tests.support.lambda_handlers import deployed_functions

ENV_NAMES = {name: value for name, value in vars(contracts).items() if name.startswith("ENV_")}
NOT_OURS = ("POWERTOOLS_",)  # Powertools' own settings (service name, metrics namespace); PlatformFunction sets them


def environment_reads(source: str) -> dict[str, bool]:
    """variable name -> required, for every ``contracts.ENV_*`` a module reads from the environment."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "contracts" and node.attr in ENV_NAMES):
            continue
        parent, name = parents.get(node), ENV_NAMES[node.attr]
        if isinstance(parent, ast.Subscript) and parent.slice is node and isinstance(parent.ctx, ast.Load):
            reads[name] = True
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "get" \
                and parent.args and parent.args[0] is node:
            reads.setdefault(name, False)
    return reads


@cache
def closure_reads(folder: str) -> dict[str, bool]:
    """variable name -> required, over the import closure of ``functions/<folder>/handler.py``."""
    reads: dict[str, bool] = {}
    for path in import_closure(REPO, [REPO / "functions" / folder / "handler.py"]):
        for name, required in environment_reads(Path(path).read_text()).items():
            reads[name] = reads.get(name, False) or required
    return reads


def mismatches(folder: str, variables, reads: dict[str, bool]) -> list[str]:
    """What is wrong between a function's template variables and what its code reads, one line each."""
    given = set(variables)
    missing = [f"functions/{folder} requires {name} but its template does not set it"
               for name, required in sorted(reads.items()) if required and name not in given]
    dead = [f"functions/{folder}: its template sets {name} but no module of its image reads it"
            for name in sorted(given) if name not in reads and not name.startswith(NOT_OURS)]
    return missing + dead


def test_every_function_reads_exactly_the_environment_its_template_sets(example_app):
    functions = deployed_functions(example_app)
    assert {f.folder for f in functions} >= {contracts.SERVICE_DRIFT_DETECTOR, contracts.SERVICE_AUDIT_WRITER,
                                             "new_data_trigger", "retrain_trigger", "deploy_trigger"}
    problems = sorted({line for f in functions for line in mismatches(f.folder, f.variables, closure_reads(f.folder))})
    assert not problems, "\n".join(problems)


def test_every_module_that_reads_a_variable_documents_it():
    undocumented = []
    for handler in sorted((REPO / "functions").glob("*/handler.py")):
        for path in import_closure(REPO, [handler]):
            source = Path(path).read_text()
            docstring = ast.get_docstring(ast.parse(source)) or ""
            undocumented += [f"{Path(path).relative_to(REPO)} reads {name}: its docstring does not name it"
                             for name in environment_reads(source) if name not in docstring]
    assert not undocumented, "\n".join(sorted(set(undocumented)))


def test_the_scan_sees_the_reads_of_a_handler_and_of_the_modules_it_imports():
    drift = closure_reads(contracts.SERVICE_DRIFT_DETECTOR)
    assert drift[contracts.ENV_MODEL_NAME] is True and drift[contracts.ENV_DRIFT_STEP] is False
    assert drift[contracts.ENV_ENDPOINT_ROLE] is False  # read in monitoring_code.endpoint_session, not the handler


@pytest.mark.parametrize(("source", "variables", "expected"), [
    ('x = os.environ[contracts.ENV_PIPELINE_NAME]', {}, "requires PIPELINE_NAME but its template does not set it"),
    ('x = os.environ.get(contracts.ENV_PIPELINE_NAME, "p")', {contracts.ENV_PIPELINE_NAME: "p",
                                                              contracts.ENV_MODEL_NAME: "m"},
     "sets MODEL_NAME but no module of its image reads it"),
])
def test_a_missing_or_dead_variable_fails(source, variables, expected):
    [problem] = mismatches("example", variables, environment_reads(textwrap.dedent(source)))
    assert problem.startswith("functions/example") and problem.endswith(expected), problem


def test_defaults_and_powertools_settings_are_not_mismatches():
    reads = environment_reads('a = os.environ.get(contracts.ENV_MIN_SAMPLES, "500")\n'
                              'b = os.environ[contracts.ENV_MODEL_NAME]')
    assert reads == {contracts.ENV_MIN_SAMPLES: False, contracts.ENV_MODEL_NAME: True}
    assert mismatches("example", {contracts.ENV_MODEL_NAME: "m", "POWERTOOLS_SERVICE_NAME": "example"}, reads) == []


BUILDSPEC_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)(:-)?")
CODEBUILD_OWN = ("CODEBUILD_", "PATH", "PWD", "HOME")  # CodeBuild's and the shell's
# Set but not read, knowingly. ci-test's MODEL_NAME only labels the project's environment (console, build log):
# dropping it would change the deployed project, which this refactor does not do. Delete the entry to drop it.
UNREAD_ON_PURPOSE = {("buildspecs/ci-test.yml", contracts.ENV_MODEL_NAME)}


def buildspec_reads(text: str) -> dict[str, bool]:
    """variable name -> required, for every ``$NAME`` / ``${NAME}`` / ``${NAME:-...}`` a buildspec's phases read."""
    spec = yaml.safe_load(text)
    commands = [c for phase in (spec.get("phases") or {}).values() for c in (phase or {}).get("commands", [])]
    reads: dict[str, bool] = {}
    for name, optional in BUILDSPEC_READ.findall("\n".join(commands)):
        if not name.startswith(CODEBUILD_OWN):
            reads[name] = reads.get(name, False) or not optional
    for name in (spec.get("env") or {}).get("variables", {}):  # set by the buildspec itself
        reads.pop(name, None)
    return reads


def codebuild_environments(templates: dict[str, dict]) -> list[tuple[str, str, set[str]]]:
    """(stack/project, buildspec path, variables set by the project or by an action that runs it)."""
    found = []
    for stack, template in sorted(templates.items()):
        resources = template.get("Resources", {})
        action_sets: dict[str, set[str]] = {}
        for resource in resources.values():
            if resource["Type"] != "AWS::CodePipeline::Pipeline":
                continue
            for action in (a for stage in resource["Properties"]["Stages"] for a in stage["Actions"]):
                config = action.get("Configuration", {})
                if isinstance(config.get("ProjectName"), dict) and "EnvironmentVariables" in config:
                    names = {v["name"] for v in json.loads(config["EnvironmentVariables"])}
                    action_sets.setdefault(config["ProjectName"].get("Ref"), set()).update(names)
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::CodeBuild::Project":
                props = resource["Properties"]
                given = {v["Name"] for v in props["Environment"].get("EnvironmentVariables", [])}
                found.append((f"{stack}/{logical_id}", props["Source"]["BuildSpec"],
                              given | action_sets.get(logical_id, set())))
    return found


def buildspec_mismatches(project: str, buildspec: str, given: set[str], reads: dict[str, bool]) -> list[str]:
    contract = set(ENV_NAMES.values())
    return ([f"{buildspec} reads ${name}: not an mlops_contracts ENV_* name" for name in sorted(set(reads) - contract)]
            + [f"{buildspec} requires ${name} but {project} does not set it"
               for name, required in sorted(reads.items()) if required and name not in given]
            + [f"{project} sets {name} but {buildspec} does not read it" for name in sorted(given - set(reads))
               if (buildspec, name) not in UNREAD_ON_PURPOSE])


def test_every_build_project_sets_exactly_what_its_buildspec_reads(example_app):
    projects = codebuild_environments(example_app.templates)
    assert {b for _, b, _ in projects} == {p.relative_to(REPO).as_posix() for p in (REPO / "buildspecs").glob("*.yml")}
    problems = sorted({line for project, buildspec, given in projects for line in buildspec_mismatches(
        project, buildspec, given, buildspec_reads((REPO / buildspec).read_text()))})
    assert not problems, "\n".join(problems)


def test_a_buildspec_read_that_nobody_sets_or_a_variable_nobody_reads_fails():
    reads = buildspec_reads('version: 0.2\nenv:\n  variables:\n    LOCAL: "1"\nphases:\n  build:\n    commands:\n'
                            '      - run --model "$MODEL_NAME" --role "${CHECK_ROLE_ARN:-}" $LOCAL $UNKNOWN\n'
                            '      - export PATH="$CODEBUILD_SRC_DIR/bin:$PATH"\n')
    assert reads == {contracts.ENV_MODEL_NAME: True, contracts.ENV_CHECK_ROLE_ARN: False, "UNKNOWN": True}
    assert buildspec_mismatches("S/P", "b.yml", {contracts.ENV_STAGE}, reads) == [
        "b.yml reads $UNKNOWN: not an mlops_contracts ENV_* name",
        "b.yml requires $MODEL_NAME but S/P does not set it", "b.yml requires $UNKNOWN but S/P does not set it",
        "S/P sets STAGE but b.yml does not read it"]


SETTERS = ("mlops_constructs", "stacks")  # where a variable is set
READERS = ("functions", "monitoring_code", "governance_code", "tooling_code", "pipeline_code", "mlops_cli")
# Names with one side only, knowingly (each read with a default; setting one changes a deployed resource, which this
# refactor does not do): serving.py logs ENV_ENDPOINT (default "local") but no construct sets it on the endpoint's
# model; the drift detector's ENV_FANOUT_BYTES (default monitoring_code.drift_fanout.FANOUT_BYTES) has no prop.
ONE_SIDED = {"ENV_ENDPOINT", "ENV_FANOUT_BYTES"}


def _uses(folders, constant: str) -> bool:
    pattern = re.compile(rf"\b{constant}\b")
    return any(pattern.search(p.read_text()) for folder in folders for p in (REPO / folder).rglob("*.py"))


def test_every_environment_name_has_a_setter_and_a_reader():
    """Each ENV_* constant is used by a construct that sets it and by code or a buildspec that reads it."""
    assert len(set(ENV_NAMES.values())) == len(ENV_NAMES), "two ENV_* constants name the same variable"
    buildspecs = "\n".join(p.read_text() for p in (REPO / "buildspecs").glob("*.yml"))
    one_sided = sorted(name for name, value in ENV_NAMES.items()
                       if not (_uses(SETTERS, name) and (_uses(READERS, name) or re.search(
                           rf"\$\{{?{value}\b", buildspecs))))
    assert one_sided == sorted(ONE_SIDED), one_sided
