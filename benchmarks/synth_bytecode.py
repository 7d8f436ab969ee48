"""Synth time of the example app by bytecode: ``python -O`` without and with optimized bytecode cached, and plain
``python`` (pip's bytecode), measured side by side in one run.

With ``PYTHONDONTWRITEBYTECODE`` set (this machine, many CI images), ``python -O`` finds no ``.opt-1.pyc`` (pip
writes only plain ``.pyc``) and recompiles every imported module on every run. Case "-O, compiled" points
``PYTHONPYCACHEPREFIX`` at optimized bytecode compiled once beforehand (what ``make setup`` now does in place), so
the venv itself is untouched. Cases are interleaved across repetitions; medians are reported.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_scale import FLOOR, PLATFORM, REPO


def run(code: str, optimize: bool, prefix: Path | None) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if prefix is not None:
        env["PYTHONPYCACHEPREFIX"] = str(prefix)
    start = time.perf_counter()
    subprocess.run([sys.executable, *(["-O"] if optimize else []), "-c", code], check=True, cwd=REPO, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as tmp:
        root = Path(tmp)
        prefix = root / "pycache"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-O", "-m", "compileall", "-q", "-j", "0",
                        sysconfig.get_paths()["purelib"], str(REPO / "mlops_constructs"), str(REPO / "stacks")],
                       env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}, check=False,
                       stdout=subprocess.DEVNULL)
        compile_s = time.perf_counter() - start
        programs = {"floor": FLOOR.format(outdir=str(root / "floor.out")),
                    "examples": PLATFORM.format(repo=str(REPO), outdir=str(root / "ex.out"),
                                                config=str(REPO / "config"))}
        modes = {"-O, recompiled each run": (True, None), "-O, compiled at setup": (True, prefix),
                 "no -O (pip's bytecode)": (False, None)}
        samples = {(p, m): [] for p in programs for m in modes}
        for _ in range(args.repeat):
            for program, code in programs.items():
                for mode, (optimize, cache) in modes.items():
                    samples[(program, mode)].append(run(code, optimize, cache))
    print(f"optimized bytecode for the whole venv compiled once in {compile_s:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'mode':<26} {'floor s':>8} {'examples s':>11} {'examples x floor':>17}")
    for mode in modes:
        floor = statistics.median(samples[("floor", mode)])
        examples = statistics.median(samples[("examples", mode)])
        print(f"{mode:<26} {floor:>8.2f} {examples:>11.2f} {examples / floor:>17.2f}")


if __name__ == "__main__":
    main()
