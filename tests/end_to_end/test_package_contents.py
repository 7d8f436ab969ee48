"""What each deploy unit holds, read from the cloud assembly CDK staged, checked against the real import graph.

- Every PlatformFunction's Docker context (``asset.<hash>/``) holds exactly ``image_files(<function>)`` and the
  Dockerfile, and its handler imports in a fresh interpreter whose ``sys.path`` is that directory plus
  site-packages (no repository, no editable install): the image has everything the handler imports.
- The build's code zip holds exactly ``code_files(pipeline_code)`` (pipeline_code and mlops_contracts, nothing
  else), and every step module (``mlops_contracts.STEP_MODULES``) imports from the zip alone.
The last test breaks copies (a module dropped, a module added) and shows the checks fail.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from aws_cdk import aws_s3_assets as s3_assets

import mlops_contracts as contracts
from mlops_constructs._private.platform_function import PlatformFunction, image_files
from pipeline_code.code_bundle import code_files
from tests.conftest import REPO
from tests.support.lambda_handlers import deployed_functions

SITE_PACKAGES = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
# Run with -I -S: no current directory, no PYTHON* variables, no .pth files (the editable install of this
# repository is one), so only the stdlib, site-packages and the given entry can satisfy an import.
IMPORT_ALONE = """
import importlib, json, sys
entry, site_packages, modules = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path[:0] = [entry]
sys.path.extend(site_packages)
for name in modules:
    importlib.import_module(name)
print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values())
                        if getattr(m, "__file__", None) and m.__file__.startswith(entry))))
"""


def import_alone(entry: Path, modules: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Import ``modules`` in a fresh interpreter with only ``entry`` (a folder or zip) and site-packages."""
    return subprocess.run([sys.executable, "-I", "-S", "-c", IMPORT_ALONE, str(entry), json.dumps(SITE_PACKAGES),
                           json.dumps(modules)], capture_output=True, text=True, timeout=300, check=False,
                          env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1",
                               "AWS_EC2_METADATA_DISABLED": "true", **environment})


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def images(example_app) -> dict[str, tuple[Path, dict[str, str]]]:
    """functions/<folder> -> (its staged Docker context, its template environment with stand-ins for references)."""
    found = {}
    for function in deployed_functions(example_app):
        environment = {k: v if isinstance(v, str) else "stand-in" for k, v in function.variables.items()}
        found[function.folder] = (function.context, environment)
    return found


@pytest.fixture(scope="module")
def code_zip(example_app) -> Path:
    [asset] = {c.asset_path for c in example_app.app.node.find_all()
               if isinstance(c, s3_assets.Asset) and c.node.id == "Code"}  # every model's build: one zip
    return Path(example_app.assembly.directory) / asset


def test_every_function_of_the_repository_is_built_as_a_platform_function(example_app, images):
    folders = {p.name for p in (REPO / "functions").iterdir() if (p / "handler.py").is_file()}
    assert set(images) == folders
    platform_functions = [c for c in example_app.app.node.find_all() if isinstance(c, PlatformFunction)]
    assert len(platform_functions) == len(deployed_functions(example_app))


def test_each_image_context_holds_exactly_the_handlers_import_closure(images):
    for function, (context, _) in sorted(images.items()):
        assert _files(context) == {*image_files(function), "functions/Dockerfile"}, function
        assert not any(f.startswith(("pipeline_code/training/train", "pipeline_code/data/", "tests/", "stacks/",
                                     "mlops_constructs/")) for f in _files(context)), function


def image_problem(function: str, context: Path, environment: dict[str, str]) -> str:
    """Why the handler does not import from ``context`` alone, or which packaged module it never imports; ''."""
    result = import_alone(context, [f"functions.{function}.handler"], environment)
    if result.returncode:
        return f"{function}'s image lacks what its handler imports:\n{result.stderr}"
    loaded = {Path(f).relative_to(context).as_posix() for f in json.loads(result.stdout)}
    unused = sorted({f for f in _files(context) if f.endswith(".py")} - loaded)
    return f"{function}: packaged but never imported: {unused}" if unused else ""


def test_each_handler_imports_from_its_image_alone_and_uses_every_module_in_it(images):
    for function, (context, environment) in sorted(images.items()):
        assert image_problem(function, context, environment) == ""


def test_the_code_zip_holds_exactly_pipeline_code_and_mlops_contracts(code_zip):
    with zipfile.ZipFile(code_zip) as archive:
        names = set(archive.namelist())
    expected = {p.relative_to(REPO).as_posix() for p in code_files(REPO / "pipeline_code")}
    assert names == expected
    assert {name.split("/")[0] for name in names} == {"pipeline_code", "mlops_contracts"}


def test_every_step_module_imports_from_the_code_zip_alone(code_zip):
    modules = sorted(contracts.STEP_MODULES.values())
    result = import_alone(code_zip, modules, {})
    assert result.returncode == 0, f"the code zip lacks what a step imports:\n{result.stderr}"


def test_the_checks_fail_when_an_image_or_the_zip_lacks_a_module_or_holds_one_too_many(images, code_zip, tmp_path):
    context, environment = images[contracts.SERVICE_AUDIT_WRITER]
    missing, extra = tmp_path / "missing", tmp_path / "extra"
    shutil.copytree(context, missing)
    (missing / "governance_code" / "audit_schema.py").unlink()
    assert "cannot import name 'audit_schema'" in image_problem(contracts.SERVICE_AUDIT_WRITER, missing, environment)
    shutil.copytree(context, extra)
    (extra / "governance_code" / "model_lifecycle.py").write_bytes(
        (REPO / "governance_code" / "model_lifecycle.py").read_bytes())
    assert "never imported: ['governance_code/model_lifecycle.py']" in image_problem(contracts.SERVICE_AUDIT_WRITER, extra, environment)

    without_contracts = tmp_path / contracts.CODE_ZIP_NAME
    with zipfile.ZipFile(code_zip) as source, zipfile.ZipFile(without_contracts, "w") as target:
        for item in source.infolist():
            if not item.filename.startswith("mlops_contracts/"):
                target.writestr(item, source.read(item))
    result = import_alone(without_contracts, sorted(contracts.STEP_MODULES.values()), {})
    assert result.returncode != 0 and "No module named 'mlops_contracts'" in result.stderr
