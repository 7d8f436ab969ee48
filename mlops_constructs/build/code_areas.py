"""Which repository paths belong to which owner, and which of them start which model's build.

Three owners (the spec's): data engineering owns data validation and preprocessing, data science owns
training, evaluation and the gates, MLOps owns config, buildspecs and the shared runtime contracts.
Each model's build CI gets one push filter per owner, holding only the paths that model uses, so a change in
one area starts only the builds that run that code. CODEOWNERS (repo root) assigns the same paths for review;
``tests/constructs/test_model_build_ci.py`` keeps the two in step. Infrastructure code (``mlops_constructs/``, ``stacks/``,
``functions/``) reaches AWS through ``cdk deploy``, not a model build, so it starts no model build.
"""
from __future__ import annotations

from dataclasses import dataclass

from mlops_constructs._private.source import PathFilter

DOCS_EXCLUDES = ("**/*.md",)


@dataclass(frozen=True)
class CodeArea:
    """One owner's paths for one model: the CODEOWNERS team and the push filter."""

    owner: str
    team: str
    paths: tuple[str, ...]

    @property
    def push_filter(self) -> PathFilter:
        return PathFilter(includes=self.paths, excludes=DOCS_EXCLUDES)


DATA_ENGINEERING = ("pipeline_code/data/validate.py", "pipeline_code/data/preprocess.py", "pipeline_code/data/encoding.py")
DATA_SCIENCE_SHARED = ("pipeline_code/training/evaluate.py", "pipeline_code/training/gate.py", "pipeline_code/training/drift_stats.py")
BUILTIN_TRAINING = ("pipeline_code/training/train.py",)
MLOPS_SHARED = ("config/platform.yaml", "buildspecs/ci-*.yml", "mlops_contracts/__init__.py",
                "pipeline_code/common.py", "tooling_code/pipeline_runner.py")
TEAMS = {"data-engineering": "@mlops-platform/data-engineering", "data-science": "@mlops-platform/data-science",
         "mlops": "@mlops-platform/mlops"}


def model_code_areas(model: str, *, algorithm: str) -> list[CodeArea]:
    """The three areas for ``model``; the built-in training script counts only for ``algorithm == 'xgboost'``.

    Model-specific code (a custom trainer, notebooks turned scripts) lives under ``models/<model>/``.
    """
    if algorithm not in ("xgboost", "custom"):
        raise ValueError(f"algorithm {algorithm!r} is not one of ['xgboost', 'custom']")
    training = BUILTIN_TRAINING if algorithm == "xgboost" else ()
    return [
        CodeArea("data-engineering", TEAMS["data-engineering"], DATA_ENGINEERING),
        CodeArea("data-science", TEAMS["data-science"], (*training, *DATA_SCIENCE_SHARED, f"models/{model}/**")),
        CodeArea("mlops", TEAMS["mlops"], (f"config/models/{model}.yaml", *MLOPS_SHARED)),
    ]
