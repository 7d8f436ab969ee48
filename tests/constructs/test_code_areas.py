"""Code areas: every file a model's build runs starts that build, and CODEOWNERS names the same owner.

The source of truth is what runs: the build's code zip (``pipeline_code.code_bundle.code_files``) and the CI run
stage's tooling (the import closure of the modules ``buildspecs/ci-run.yml`` runs, and the buildspecs). Push
filters and CODEOWNERS are matched as CodePipeline and GitHub/GitLab match them (``tests/support/code_ownership``).
"""
from __future__ import annotations

import os
import re

import pytest

from mlops_constructs._private.source import PathFilter
from mlops_constructs.build.code_areas import BUILTIN_TRAINING, DOCS_EXCLUDES, model_code_areas
from pipeline_code.code_bundle import code_files, import_closure
from tests.conftest import REPO
from tests.support.code_ownership import (
    codeowners_pattern_matches,
    codeowners_rule,
    codeowners_rules,
    push_filter_starts,
    push_glob_matches,
)

SKIPPED_DIRS = {".git", ".venv", "node_modules", "cdk.out", "__pycache__", ".pytest_cache", ".ruff_cache",
                "mutants", "mutants-work", "mlops_platform.egg-info"}


def _relative(paths) -> set[str]:
    return {p.resolve().relative_to(REPO).as_posix() for p in paths}


def ci_run_files() -> set[str]:
    """The CI run stage's buildspecs and every repository module its commands run (``python -m <module>``)."""
    buildspecs = sorted((REPO / "buildspecs").glob("ci-*.yml"))
    modules = re.findall(r"python -m ([\w.]+)", (REPO / "buildspecs" / "ci-run.yml").read_text())
    entry = [REPO.joinpath(*m.split(".")).with_suffix(".py") for m in modules]
    assert entry and all(p.is_file() for p in entry), f"ci-run.yml runs {modules}: not repository modules"
    return _relative(buildspecs) | _relative(import_closure(REPO, entry))


def build_files() -> set[str]:
    return _relative(code_files(REPO / "pipeline_code"))


def repository_files(models) -> set[str]:
    """Every file of the checkout (caches and installs left out), plus a model-specific file per model."""
    found = set()
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        found |= {(os.path.relpath(folder, REPO) + "/" + f).removeprefix("./") for f in files}
    return found | {f"models/{m.name}/train.py" for m in models}


def starting_areas(areas, path: str) -> list:
    return [area for area in areas if push_filter_starts(area.push_filter, path)]


def test_the_matchers_read_globs_as_codepipeline_and_codeowners_do():
    assert push_glob_matches("pipeline_code/*.py", "pipeline_code/common.py")
    assert not push_glob_matches("pipeline_code/*.py", "pipeline_code/data/validate.py")
    assert push_glob_matches("pipeline_code/data/**", "pipeline_code/data/a/b.py")
    assert push_glob_matches("mlops_cli/{__init__,pipeline_commands}.py", "mlops_cli/pipeline_commands.py")
    assert not push_glob_matches("mlops_cli/{__init__,pipeline_commands}.py", "mlops_cli/main.py")
    assert codeowners_pattern_matches("/pipeline_code/data/", "pipeline_code/data/x/y.py")
    assert not codeowners_pattern_matches("/pipeline_code/*.py", "pipeline_code/data/x.py")
    assert codeowners_pattern_matches("*", "app.py")


def test_every_file_a_models_build_runs_starts_that_build(example_config):
    """A file moved or added inside the build's code or the CI run's tooling keeps starting the build; only the
    built-in training script is not a custom-algorithm model's code."""
    files = build_files() | ci_run_files()
    assert {"pipeline_code/endpoint/serving.py", "mlops_contracts/__init__.py",
            "tooling_code/pipeline_runner.py"} <= files
    for model in example_config.models:
        areas = model_code_areas(model.name, algorithm=model.training.algorithm)
        uncovered = sorted(f for f in files if not starting_areas(areas, f))
        expected = [BUILTIN_TRAINING] if model.training.algorithm == "custom" else []
        assert uncovered == expected, f"{model.name}: no code area starts its build on {uncovered}"


def test_codeowners_names_the_owner_of_the_area_that_starts_the_build(example_config):
    rules = codeowners_rules(REPO / "CODEOWNERS")
    default = codeowners_rule(rules, "no/such/file.txt")
    all_areas = [model_code_areas(m.name, algorithm=m.training.algorithm) for m in example_config.models]
    teams = {area.team for areas in all_areas for area in areas}
    for path in sorted(repository_files(example_config.models)):
        rule = codeowners_rule(rules, path)
        starting = {area.team for areas in all_areas for area in starting_areas(areas, path)}
        assert len(starting) <= 1, f"{path} starts builds for several owners: {starting}"
        if starting:
            assert rule and rule[1] == list(starting), f"{path}: push filters say {starting}, CODEOWNERS {rule}"
        elif rule is not default and not any(push_glob_matches(g, path) for g in DOCS_EXCLUDES):
            # A folder an area's CODEOWNERS rule names must start that area's builds (a built-in script that
            # only custom models skip still starts the XGBoost ones).
            assert not set(rule[1]) & teams or path == BUILTIN_TRAINING, (
                f"{path}: CODEOWNERS rule {rule} names an area, but no push filter starts a build on it")


def test_the_areas_fit_codepipelines_limits_and_the_custom_model_skips_only_the_builtin_trainer():
    for algorithm in ("xgboost", "custom"):
        areas = model_code_areas("support-assistant", algorithm=algorithm)
        assert all(isinstance(area.push_filter, PathFilter) for area in areas)  # 8 globs per list at most
        starts = any(push_filter_starts(a.push_filter, BUILTIN_TRAINING) for a in areas)
        assert starts == (algorithm == "xgboost")
        assert any(push_filter_starts(a.push_filter, "pipeline_code/training/evaluate.py") for a in areas)
        assert any(push_filter_starts(a.push_filter, "models/support-assistant/trainer.py") for a in areas)
        assert not any(push_filter_starts(a.push_filter, "models/fraud-detection/trainer.py") for a in areas)
        assert not any(push_filter_starts(a.push_filter, "pipeline_code/data/README.md") for a in areas)
        assert not any(push_filter_starts(a.push_filter, "functions/audit_writer/handler.py") for a in areas)
    with pytest.raises(ValueError, match="'sklearn' is not one of"):
        model_code_areas("m", algorithm="sklearn")



def test_the_paths_the_ci_buildspecs_pass_exist():
    """The CI stages run from the checkout: a path a move left behind (``lambda``) fails the stage in CodeBuild."""
    for buildspec in sorted((REPO / "buildspecs").glob("ci-*.yml")):
        text = buildspec.read_text()
        for path in [p for paths in re.findall(r"ruff check ([^\n]+)", text) for p in paths.split()]:
            assert (REPO / path).exists(), f"{buildspec.name} lints {path}, which does not exist"
        for package in re.findall(r"--upload-code (\S+)", text):
            assert (REPO / package / "__init__.py").is_file(), f"{buildspec.name} uploads {package}: not a package"
