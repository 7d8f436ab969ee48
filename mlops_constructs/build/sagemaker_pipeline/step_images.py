"""The one record of the SageMaker XGBoost images the build steps run in (``step_images.json``).

For each image version: its repository and tag, the Python version, and the exact versions of the libraries the
step code imports, with the container repository's commit and files they were read from. Synth validates
``training.xgboost_version`` against it, the model package records it, and ``mlops run-local`` and
``make parity`` build their step environment from it. Standard library only, so any interpreter can read it.

    python -m mlops_constructs.build.sagemaker_pipeline.step_images --verify <aws/sagemaker-xgboost-container checkout>
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

RECORD = Path(__file__).with_name("step_images.json")
DEFAULT_VERSION = "3.0-5"


@dataclass(frozen=True)
class StepImage:
    """One image version of the record."""

    version: str
    repository: str
    tag: str
    python: str
    libraries: dict[str, str]
    local_distributions: dict[str, str]
    commit: str
    files: dict[str, list[str]]

    def requirements(self) -> list[str]:
        """``name==version`` lines for pip: the container's libraries, under the wheel name to install locally
        (``xgboost-cpu`` where PyPI has it at that version: the same library without 470 MB of NCCL)."""
        return [f"{self.local_distributions.get(name, name)}=={version}"
                for name, version in sorted(self.libraries.items())]

    def summary(self) -> str:
        """``python=3.10 boto3=1.17.52 ... xgboost=3.0.5``: at most 256 characters (model package metadata)."""
        return " ".join([f"python={self.python}", *(f"{n}={v}" for n, v in sorted(self.libraries.items()))])

    def source(self) -> str:
        """Where the versions were read: repository, commit and files."""
        return f"aws/sagemaker-xgboost-container@{self.commit}: {', '.join(sorted(self.files))}"


@cache
def step_images() -> dict[str, StepImage]:
    """Every recorded image, by version (``1.7-1``, ``3.0-5``)."""
    images = json.loads(RECORD.read_text())["images"]
    return {version: StepImage(version=version, **{k: v for k, v in entry.items() if k != "note"})
            for version, entry in images.items()}


def step_image(version: str) -> StepImage:
    """The recorded image ``version``; ValueError names the recorded versions."""
    try:
        return step_images()[version]
    except KeyError:
        raise ValueError(f"XGBoost image version {version!r} is not in {RECORD.name}; allowed: "
                         f"{sorted(step_images())}") from None


def installed_versions(libraries) -> dict[str, str | None]:
    """The versions of ``libraries`` in this interpreter (None when absent); ``xgboost`` also as ``xgboost-cpu``."""
    found = {}
    for name in libraries:
        version = None
        for distribution in (name, f"{name}-cpu"):
            try:
                version = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
        found[name] = version
    return found


def differences(image: StepImage, python: str, installed: dict[str, str | None]) -> list[str]:
    """What an environment (``python`` as ``major.minor``, ``installed`` versions) lacks to match ``image``."""
    found = [] if python == image.python else [f"Python {python} (image: {image.python})"]
    for name, version in sorted(image.libraries.items()):
        if installed.get(name) != version:
            found.append(f"{name} {installed.get(name) or 'absent'} (image: {version})")
    return found


def current_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _pin(text: str, name: str) -> str | None:
    """``name``'s version in requirements text or a Dockerfile's ``pip install`` line (``name==X``)."""
    match = re.search(rf"(?<![\w-]){re.escape(name)}==([\w.]+)", text, flags=re.IGNORECASE)
    return match.group(1) if match else None


def _arg(text: str, name: str) -> str | None:
    match = re.search(rf"^ARG {name}=(\S+)", text, flags=re.MULTILINE)
    return match.group(1) if match else None


def verify(checkout: Path) -> list[str]:
    """Re-read every recorded version from a git checkout of aws/sagemaker-xgboost-container; the mismatches."""
    problems = []
    for image in step_images().values():
        texts = {path: subprocess.run(["git", "-C", str(checkout), "show", f"{image.commit}:{path}"], check=True,
                                      capture_output=True, text=True).stdout for path in image.files}
        dockerfile = next(text for path, text in texts.items() if path.endswith("Dockerfile.cpu"))
        read = {"python": _arg(dockerfile, "PYTHON_VERSION"), "xgboost": _arg(dockerfile, "XGBOOST_VERSION")}
        for path, text in texts.items():
            for name in image.libraries:
                if name != "xgboost" and (value := _pin(text, name)):
                    if read.get(name, value) != value:
                        problems.append(f"{image.version}: {name} is {read[name]} in one file, {value} in {path}")
                    read[name] = value
        expected = {"python": image.python, **image.libraries}
        problems += [f"{image.version}: {name} recorded {want}, read {read.get(name)}"
                     for name, want in sorted(expected.items()) if read.get(name) != want]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", type=Path, required=True, metavar="CHECKOUT",
                        help="a git checkout of aws/sagemaker-xgboost-container with the recorded commits")
    problems = verify(parser.parse_args(argv).verify)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{RECORD.name}: every version matches its source: "
              + "; ".join(f"{i.version} {i.source()}" for i in step_images().values()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
