"""The step environment of an XGBoost image: a venv with the image's Python and exact library versions.

``python -m mlops_cli.step_env [--image 3.0-5]`` (``make step-env``) builds ``.venv-steps/xgboost-<version>/``
from ``step_images.json`` with a pyenv (or ``python3.X`` on PATH) interpreter and wheels only. ``mlops
run-local`` runs the build steps there, and ``make parity`` checks them against the container's training code.
A missing interpreter or wheel is one sentence naming it (exit 2), never a pip traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mlops_constructs.build.sagemaker_pipeline.step_images import DEFAULT_VERSION, StepImage, step_image

REPO = Path(__file__).resolve().parent.parent
STEP_ENV_ROOT = REPO / ".venv-steps"
STAMP = "step-image.json"
# Prints the interpreter's Python version and the versions of the given distributions as JSON (any Python >= 3.8).
PROBE = (
    "import json,sys\nfrom importlib import metadata as m\ndef v(n):\n"
    " for d in (n,n+'-cpu'):\n  try: return m.version(d)\n  except m.PackageNotFoundError: pass\n"
    "print(json.dumps({'python':'%d.%d.%d'%sys.version_info[:3],'libraries':{n:v(n) for n in sys.argv[1:]}}))"
)


class StepEnvError(RuntimeError):
    """The environment cannot be built or used; the message says what is missing."""


def env_dir(image: StepImage, root: Path | None = None) -> Path:
    return (root or STEP_ENV_ROOT) / f"xgboost-{image.version}"


def env_python(image: StepImage, root: Path | None = None) -> Path | None:
    """The interpreter of the image's step environment, when it exists and was built from today's record."""
    directory = env_dir(image, root)
    python, stamp = directory / "bin" / "python", directory / STAMP
    if not (python.exists() and stamp.is_file()):
        return None
    return python if json.loads(stamp.read_text()).get("requirements") == image.requirements() else None


def probe(python: Path | str, image: StepImage) -> dict:
    """``{"python": "3.10.13", "libraries": {name: version or None}}`` of another interpreter."""
    result = subprocess.run([str(python), "-c", PROBE, *sorted(image.libraries)], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise StepEnvError(f"{python} cannot report its versions: {result.stderr.strip()[-300:]}")
    return json.loads(result.stdout)


def find_interpreter(version: str) -> Path | None:
    """The newest pyenv Python ``version`` (``3.10`` -> ``3.10.13``), else ``python3.10`` on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [p for p in (pyenv_root / "versions").glob(f"{version}.*")
                  if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name) and (p / "bin" / "python").exists()]
    if candidates:
        newest = max(candidates, key=lambda p: int(p.name.rsplit(".", 1)[1]))
        return newest / "bin" / "python"
    found = shutil.which(f"python{version}")
    return Path(found) if found else None


def _pip_failure(output: str, image: StepImage) -> str:
    """One sentence from pip's output: which wheel is missing, or pip's own last error line."""
    missing = re.search(r"No matching distribution found for (\S+)", output)
    if missing:
        return (f"PyPI has no wheel of {missing.group(1)} for Python {image.python} on this platform "
                f"({sys.platform}); image {image.version} needs {' '.join(image.requirements())}")
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    return f"pip could not install {' '.join(image.requirements())}: {(errors or ['no error line'])[-1]}"


def create(image: StepImage, root: Path | None = None, log=print) -> Path:
    """Build (or reuse) the image's step environment; returns its interpreter. Raises StepEnvError."""
    existing = env_python(image, root)
    if existing:
        return existing
    interpreter = find_interpreter(image.python)
    if interpreter is None:
        raise StepEnvError(f"no Python {image.python} interpreter (image {image.version} runs Python "
                           f"{image.python}): looked in $PYENV_ROOT/versions/{image.python}.* and for python"
                           f"{image.python} on PATH; install one, e.g. `pyenv install {image.python}`")
    directory = env_dir(image, root)
    shutil.rmtree(directory, ignore_errors=True)
    log(f"step-env: {directory} from {interpreter} with {' '.join(image.requirements())}")
    venv = subprocess.run([str(interpreter), "-m", "venv", str(directory)], capture_output=True, text=True,
                          check=False)
    if venv.returncode != 0:
        raise StepEnvError(f"{interpreter} -m venv {directory} failed: {venv.stderr.strip()[-300:]}")
    pip = subprocess.run(
        [str(directory / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:",
         *image.requirements()],
        capture_output=True, text=True, check=False, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if pip.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise StepEnvError(_pip_failure(pip.stdout + pip.stderr, image))
    found = probe(directory / "bin" / "python", image)
    (directory / STAMP).write_text(json.dumps({"image": image.version, "python": found["python"],
                                               "requirements": image.requirements()}, indent=1) + "\n")
    return directory / "bin" / "python"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops_cli.step_env", description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_VERSION, help=f"XGBoost image version; default {DEFAULT_VERSION}")
    parser.add_argument("--root", type=Path, help="where environments go; default .venv-steps")
    args = parser.parse_args(argv)
    try:
        python = create(step_image(args.image), args.root)
    except (StepEnvError, ValueError) as exc:
        print(f"step-env: {exc}", file=sys.stderr)
        return 2
    print(f"step-env: {python} ({step_image(args.image).summary()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
