"""Each pyproject extra is enough for its commands, proven in fresh virtual environments.

Each environment is a new ``python -m venv`` holding exactly the distributions that ``pip install '.[extras]'`` would
install: the transitive closure of the declared requirements (markers and extras evaluated, from each installed
distribution's own metadata), laid out file by file from their RECORDs, plus the repository as an editable path.
Nothing else from the test environment is visible, so a missing declaration fails here. Commands that need more
than the environment holds must exit 1 with one line naming what to install, never a traceback.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
ATTRITION = ROOT / "data" / "attrition" / "attrition.csv"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def closure(extras: set[str]) -> dict[str, metadata.Distribution]:
    """The distributions ``pip install '.[extras]'`` installs, as installed here; pins must satisfy the ranges."""
    wanted = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset]] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        distribution = metadata.distribution(name)
        assert requirement.specifier.contains(distribution.version, prereleases=True), (
            f"{requirement} is declared, but {distribution.version} is installed (pinned)")
        found[name] = distribution
        for text in distribution.requires or []:
            child = Requirement(text)
            if _applies(child, set(requirement.extras)):
                wanted.append(child)
    return found


@functools.cache
def _owners() -> dict[str, set[str]]:
    """{directory relative to site-packages: distributions with files under it}, over this whole environment."""
    owners: dict[str, set[str]] = {}
    for distribution in metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        for file in distribution.files or []:
            for parent in list(Path(file).parents)[:-1]:
                owners.setdefault(str(parent), set()).add(name)
    return owners


def make_venv(path: Path, extras: set[str]) -> Path:
    """A fresh venv with the closure's files linked in; returns its python. A directory whose every file belongs
    to the closure is linked whole, the rest file by file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    distributions = closure(extras)
    owners = _owners()
    for distribution in distributions.values():
        for file in distribution.files or []:
            source = Path(distribution.locate_file(file))
            if file.parts[0] == ".." or not source.is_file() or here not in source.parents:
                continue  # console scripts and data outside site-packages
            relative = Path(file)
            for parent in reversed(list(relative.parents)[:-1]):  # the outermost directory the closure owns
                if owners[str(parent)] <= distributions.keys():
                    relative = parent
                    break
            target = site / relative
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(here / relative)
    (site / "mlops_platform.pth").write_text(f"{ROOT}\n")  # what `pip install -e .` adds
    return python


@pytest.fixture(scope="module")
def venvs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("extras")
    return {name: make_venv(root / name, extras) for name, extras in (("base", set()), ("cli", {"cli"}),
                                                                       ("ml", {"ml"}),
                                                                       ("cli-parquet", {"cli", "parquet"}))}


def mlops(python: Path, *args, cwd=ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHONPATH"))}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent",
               AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="eu-west-1")
    return subprocess.run([str(python), "-m", "mlops_cli.main", *map(str, args)], cwd=cwd, env=env, check=False,
                          capture_output=True, text=True, timeout=300)


def assert_refused(result: subprocess.CompletedProcess, extra: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pip install -e '.[{extra}]'" in lines[0], result.stderr


def test_base_install_runs_the_config_commands_and_names_the_extra_for_the_rest(venvs, tmp_path):
    python = venvs["base"]
    listed = mlops(python, "--help")
    assert listed.returncode == 0 and "lineage" in listed.stdout and "'.[cli]'" in listed.stdout, listed.stderr
    for args in (["validate", "config"], ["schema"], ["config-docs"]):
        result = mlops(python, *args)
        assert result.returncode == 0, result.stderr
    (tmp_path / "models").mkdir()
    made = mlops(python, "init", "hr-attrition", "--data", ATTRITION, "--label", "Attrition",
                 "--config-dir", tmp_path)
    assert made.returncode == 0, made.stderr
    checked = mlops(python, "validate", tmp_path, "--data", ATTRITION)
    assert checked.returncode == 0 and "pip install -e '.[ml]'" in checked.stdout, checked.stderr
    assert_refused(mlops(python, "run-local", "hr-attrition", "--config-dir", tmp_path, "--data", ATTRITION,
                         "--out", tmp_path / "out"), "ml")
    assert_refused(mlops(python, "drift", "--baseline", tmp_path, "--capture", ATTRITION), "ml")
    assert_refused(mlops(python, "predict", "--model", tmp_path, "--input", ATTRITION), "ml")
    assert_refused(mlops(python, "lineage", "arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1"), "cli")
    assert_refused(mlops(python, "pipeline", "start", "--model", "hr-attrition"), "cli")
    assert_refused(mlops(python, "endpoint-promote", "--endpoint", "e", "--weights", "a=1"), "cli")
    assert_refused(mlops(python, "which-decision", "--endpoint", "e", "--inference-id", "i", "--table", "t",
                         "--bucket", "b"), "cli")
    assert_refused(mlops(python, "audit", "export", "--from", "2026-05-01", "--to", "2026-05-31",
                         "--out", tmp_path / "may.csv", "--table", "t"), "cli")


def test_base_install_imports_every_construct_and_stack(venvs):
    modules = sorted(f"{p.parent.name}.{p.stem}" for folder in ("mlops_constructs", "stacks")
                     for p in (ROOT / folder).glob("*.py") if p.stem != "__init__")
    result = subprocess.run([str(venvs["base"]), "-c", f"import {', '.join(modules)}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli_extra_reaches_aws_in_every_aws_command(venvs):
    """With boto3 and no credentials, the AWS commands get as far as calling AWS and say so in one line."""
    python = venvs["cli"]
    for args in (["lineage", "arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1"],
                 ["which-model", "--endpoint", "m-prod", "--at", "2026-11-30T12:00:00Z", "--table", "audit"],
                 ["pipeline", "start", "--model", "employee-attrition"],
                 ["reproduce", "arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1", "--dry-run"],
                 ["endpoint-check", "--model", "fraud-detection", "--stage", "prod", "--expected-config", "c"],
                 ["endpoint-promote", "--endpoint", "m-prod", "--weights", "a=1"],
                 ["which-decision", "--endpoint", "m-prod", "--inference-id", "i-1", "--table", "audit",
                  "--bucket", "data"],
                 ["audit", "export", "--from", "2026-05-01", "--to", "2026-05-31", "--out", "/nonexistent/may.csv",
                  "--table", "audit"]):
        result = mlops(python, *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "credentials" in result.stderr.lower() and "pip install" not in result.stderr, (args, result.stderr)


def test_parquet_export_needs_the_parquet_extra_and_says_so_before_reading_the_table(venvs, tmp_path):
    args = ["audit", "export", "--from", "2026-05-01", "--to", "2026-05-31", "--out", tmp_path / "may.parquet",
            "--table", "audit"]
    assert_refused(mlops(venvs["cli"], *args), "parquet")
    result = mlops(venvs["cli-parquet"], *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "credentials" in result.stderr.lower() and "pip install" not in result.stderr, result.stderr


def test_ml_extra_runs_the_build_steps_locally(venvs, tmp_path):
    python = venvs["ml"]
    (tmp_path / "models").mkdir()
    assert mlops(python, "init", "hr-attrition", "--data", ATTRITION, "--label", "Attrition",
                 "--config-dir", tmp_path).returncode == 0
    checked = mlops(python, "validate", tmp_path, "--data", ATTRITION)
    assert checked.returncode == 0 and "values pass the pipeline's validate step" in checked.stdout, checked.stderr
    ran = mlops(python, "run-local", "hr-attrition", "--config-dir", tmp_path, "--data", ATTRITION,
                "--out", tmp_path / "out", "--local-versions")  # the extra's versions, not the image's (make parity)
    assert ran.returncode == 0 and "gate passed" in ran.stdout, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert mlops(python, "drift", "--help").returncode == 0
    records = _raw_records(tmp_path / "out", rows=5)
    scored = mlops(python, "predict", "--model", tmp_path / "out", "--input", records)
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.splitlines()[0] == "score,label" and len(scored.stdout.splitlines()) == 6, scored.stdout
    assert_refused(mlops(python, "lineage", "arn:aws:sagemaker:eu-west-1:111111111111:model-package/m/1"), "cli")


def _raw_records(out: Path, rows: int) -> Path:
    """The first rows of the attrition data as clients send them: the served model's features, in its order,
    category names as they are, under a header row."""
    import csv
    import json
    import tarfile

    with tarfile.open(out / "served" / "model.tar.gz") as archive:
        features = json.load(archive.extractfile("encoder.json"))["features"]
    with ATTRITION.open(newline="") as source:
        reader = csv.DictReader(source)
        lines = [",".join(features)] + [",".join(row[f] for f in features) for _, row in zip(range(rows), reader)]
    path = out / "records.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_requirement_files_pin_what_the_extras_declare():
    """requirements.txt pins the base and synth extra; requirements-dev.txt adds cli, ml and parquet (make
    setup-dev)."""
    def pinned(path: Path) -> set[str]:
        names = set()
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                names.add(canonicalize_name(Requirement(line).name))
        return names

    synth, dev = pinned(ROOT / "requirements.txt"), pinned(ROOT / "requirements-dev.txt")
    declared = {extra: {canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"][extra]}
                for extra in ("synth", "cli", "ml", "parquet")}
    base = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependencies"]}
    assert base | declared["synth"] <= synth
    assert declared["cli"] | declared["ml"] | declared["parquet"] <= dev
