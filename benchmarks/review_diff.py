"""How long ``make diff`` takes for the issue's example change, beside one ``cdk synth`` of the same app.

In a temporary worktree of HEAD (so the real working tree is untouched), fraud-detection's AUC floor is raised from
0.92 to 0.93, then ``python -m mlops_cli.review_diff --base HEAD`` runs there, exactly as ``make diff`` would.
For scale, one ``cdk synth`` of the unchanged app runs in the same worktree. The diff runs twice: cold, then with
BASE's assembly cached in ``.diff/`` (as on a second ``make diff`` against the same base). Target: <= 30 s.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], cwd=REPO, check=True,
                       capture_output=True)
        try:
            (tree / "node_modules").symlink_to(REPO / "node_modules")
            (tree / ".venv").symlink_to(REPO / ".venv")  # cdk.json runs .venv/bin/python
            model = tree / "config" / "models" / "fraud-detection.yaml"
            model.write_text(model.read_text().replace("{auc: 0.92", "{auc: 0.93", 1))
            synth_s, _ = timed([str(REPO / "node_modules/.bin/cdk"), "synth", "--no-lookups", "--no-notices",
                                "--quiet", "--output", str(Path(tmp) / "synth.out")], tree)
            diff_s, report = timed([sys.executable, "-m", "mlops_cli.review_diff", "--base", "HEAD"], tree)
            again_s, _ = timed([sys.executable, "-m", "mlops_cli.review_diff", "--base", "HEAD"], tree)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True,
                           check=False)
    summary = report.split("<details>", 1)[0].strip()
    print(summary)
    print(report.strip().splitlines()[-1])
    print(f"\none cdk synth: {synth_s:.1f} s; make diff: {diff_s:.1f} s = {diff_s / synth_s:.2f}x one synth; "
          f"again with BASE cached: {again_s:.1f} s = {again_s / synth_s:.2f}x (target <= 30 s); "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
