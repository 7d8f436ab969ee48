"""``make diff BASE=<ref>``: what a change does to the synthesized templates, offline, for reviewers.

Synthesizes the app at BASE (in a temporary git worktree) and at the working tree, then prints
``cdk diff --template`` for every stack in both, and lists added and removed stacks.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true",
           "PYTHONPATH": str(cwd)}
    return subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True, check=False, **kwargs)


def synth(source: Path, outdir: Path) -> dict[str, Path]:
    """Synthesize the app in ``source`` into ``outdir``; return {stack name: template path}."""
    if not (source / "cdk.json").exists():
        return {}  # BASE predates the CDK app: every stack is new
    app = f"{sys.executable} -O app.py"
    result = _run([str(REPO / "node_modules/.bin/cdk"), "synth", "--no-lookups", "--no-notices", "--quiet",
                   "--app", app, "--output", str(outdir)], cwd=source)
    if result.returncode != 0:
        raise SystemExit(f"cdk synth failed in {source}:\n{result.stderr[-4000:]}")
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: outdir / artifact["properties"]["templateFile"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def stack_diff(head_assembly: Path, stack: str, base_template: Path) -> str:
    result = _run([str(REPO / "node_modules/.bin/cdk"), "diff", "--no-notices", "--app", str(head_assembly),
                   "--template", str(base_template), stack], cwd=REPO)
    return (result.stdout + result.stderr).strip()


def review_diff(base: str, workdir: Path) -> str:
    """The full report, as Markdown-friendly text."""
    base_tree = workdir / "base"
    subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), base], cwd=REPO, check=True,
                   capture_output=True)
    try:
        base_stacks = synth(base_tree, workdir / "base.out")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=REPO, capture_output=True,
                       check=False)
    head_stacks = synth(REPO, workdir / "head.out")
    added = sorted(set(head_stacks) - set(base_stacks))
    removed = sorted(set(base_stacks) - set(head_stacks))
    lines = [f"## cdk diff against {base}", "",
             f"Stacks: {len(head_stacks)} (added {len(added)}, removed {len(removed)})", ""]
    lines += [f"- added: `{name}`" for name in added] + [f"- removed: `{name}`" for name in removed]
    for name in sorted(set(head_stacks) & set(base_stacks)):
        lines += ["", f"### {name}", "```", stack_diff(workdir / "head.out", name, base_stacks[name]), "```"]
    for name in added:
        empty = workdir / f"{name}.empty.json"
        empty.write_text("{}")
        lines += ["", f"### {name} (new)", "```", stack_diff(workdir / "head.out", name, empty), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare against, e.g. origin/main")
    parser.add_argument("--output", help="also write the report to this file")
    args = parser.parse_args(argv)
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}"], cwd=REPO,
                      capture_output=True, check=False).returncode != 0:
        print(f"make diff: BASE={args.base!r} is not a commit in this repository", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="mlops-diff-"))
    try:
        report = review_diff(args.base, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report, end="")
    if args.output:
        Path(args.output).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
