"""Which repository folders belong to which owner, and which of them start which model's build.

Three owners (the spec's): data engineering owns the data steps (``pipeline_code/data/``), data science owns
training, evaluation and the gates (``pipeline_code/training/``) and model-specific code (``models/<model>/``),
MLOps owns config, the CI buildspecs, the contracts, the shared job code and the served model's code
(``pipeline_code/*.py``, ``pipeline_code/endpoint/``), and the tooling the CI run stage runs
(``tooling_code/``, ``mlops_cli/pipeline_commands.py``).

Areas are folders, not file lists: a file added to or moved inside a folder keeps starting the same builds.
Each model's build CI gets one push filter per owner (CodePipeline globs: ``*`` stays inside a folder, ``**``
crosses folders), so a change in one area starts only the builds that run that code. CODEOWNERS (repo root)
assigns the same folders for review; ``tests/constructs/test_code_areas.py`` checks that the two agree and that
every file of the build's code zip and of the CI run's tooling starts the build. Infrastructure code
(``mlops_constructs/``, ``stacks/``, ``functions/``) reaches AWS through ``cdk deploy``, not a model build, so it
starts no model build.
"""
from __future__ import annotations

from dataclasses import dataclass

from mlops_constructs._private.source import PathFilter

DOCS_EXCLUDES = ("**/*.md",)


@dataclass(frozen=True)
class CodeArea:
    """One owner's paths for one model: the CODEOWNERS team and the push filter (``paths`` start the build,
    ``excludes`` never do)."""

    owner: str
    team: str
    paths: tuple[str, ...]
    excludes: tuple[str, ...] = DOCS_EXCLUDES

    @property
    def push_filter(self) -> PathFilter:
        return PathFilter(includes=self.paths, excludes=self.excludes)


DATA_ENGINEERING = ("pipeline_code/data/**",)
DATA_SCIENCE = ("pipeline_code/training/**",)
BUILTIN_TRAINING = "pipeline_code/training/train.py"  # the built-in XGBoost script; custom models bring their own
MLOPS_SHARED = ("config/platform.yaml", "buildspecs/ci-*.yml", "mlops_contracts/**", "pipeline_code/*.py",
                "pipeline_code/endpoint/**", "tooling_code/**", "mlops_cli/{__init__,pipeline_commands}.py")
TEAMS = {"data-engineering": "@mlops-platform/data-engineering", "data-science": "@mlops-platform/data-science",
         "mlops": "@mlops-platform/mlops"}


def model_code_areas(model: str, *, algorithm: str) -> list[CodeArea]:
    """The three areas for ``model``; the built-in training script starts only ``algorithm == 'xgboost'`` builds.

    Model-specific code (a custom trainer, notebooks turned scripts) lives under ``models/<model>/``.
    """
    if algorithm not in ("xgboost", "custom"):
        raise ValueError(f"algorithm {algorithm!r} is not one of ['xgboost', 'custom']")
    builtin = () if algorithm == "xgboost" else (BUILTIN_TRAINING,)
    return [
        CodeArea("data-engineering", TEAMS["data-engineering"], DATA_ENGINEERING),
        CodeArea("data-science", TEAMS["data-science"], (*DATA_SCIENCE, f"models/{model}/**"),
                 excludes=(*DOCS_EXCLUDES, *builtin)),
        CodeArea("mlops", TEAMS["mlops"], (f"config/models/{model}.yaml", *MLOPS_SHARED)),
    ]
