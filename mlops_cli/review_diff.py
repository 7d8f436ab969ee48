"""``make diff BASE=<ref>``: what a change does to the synthesized templates, offline, for reviewers.

Synthesizes the app at BASE (in a temporary git worktree) and at the working tree, side by side, then writes a
report that leads with a per-model summary in the platform's own terms (``mlops_cli.review_summary``): quality
gates, pipeline steps, strategies, instances, alarms, schedules, added or removed stacks, and IAM changes, the
security-relevant ones first and asset-hash rotations folded. The raw ``cdk diff --template`` of each changed
stack follows, folded.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlops_cli.review_summary import summarize

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
    return _stacks(outdir)


def stack_diff(head_assembly: Path, stack: str, base_template: Path) -> str:
    result = _run([str(REPO / "node_modules/.bin/cdk"), "diff", "--no-notices", "--app", str(head_assembly),
                   "--template", str(base_template), stack], cwd=REPO)
    return (result.stdout + result.stderr).strip()


def _templates(stacks: dict[str, Path]) -> dict[str, dict]:
    return {name: json.loads(path.read_text()) for name, path in stacks.items()}


CACHE = REPO / ".diff"  # BASE assemblies by commit and environment; `make clean` empties it
CACHE_KEEP = 5


def _stacks(outdir: Path) -> dict[str, Path]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: outdir / artifact["properties"]["templateFile"]
            for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"}


def _base_key(base: str) -> str:
    """The BASE commit plus what else decides its templates here: the pinned requirements, the CDK CLI lock file
    and the Python version."""
    commit = subprocess.run(["git", "rev-parse", f"{base}^{{commit}}"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    digest = hashlib.sha256(f"{commit} {sys.version}".encode())
    for name in ("requirements.txt", "requirements-dev.txt", "package-lock.json"):
        path = REPO / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return f"{commit[:12]}-{digest.hexdigest()[:12]}"


def synth_base(base: str, workdir: Path) -> tuple[dict[str, Path], float]:
    """BASE's stacks, synthesized in a temporary worktree, or reused from the cache; (stacks, seconds spent)."""
    started = time.perf_counter()
    cached = CACHE / _base_key(base)
    if (cached / "manifest.json").exists():
        return _stacks(cached), time.perf_counter() - started
    tree, outdir = workdir / "base", workdir / "base.out"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), base], cwd=REPO, check=True,
                   capture_output=True)
    try:
        if not synth(tree, outdir):
            return {}, time.perf_counter() - started
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True,
                       check=False)
    CACHE.mkdir(exist_ok=True)
    shutil.move(str(outdir), str(cached))
    for stale in sorted(CACHE.iterdir(), key=lambda p: p.stat().st_mtime)[:-CACHE_KEEP]:
        shutil.rmtree(stale, ignore_errors=True)
    return _stacks(cached), time.perf_counter() - started


def review_diff(base: str, workdir: Path) -> str:
    """The full report, as Markdown."""
    timings = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two synths share nothing: run them side by side
        base_job = pool.submit(synth_base, base, workdir)
        head_stacks, timings["synth working tree"] = _timed(synth, REPO, workdir / "head.out")
        base_stacks, timings["synth base (0 if cached)"] = base_job.result()
    base_templates, head_templates = _templates(base_stacks), _templates(head_stacks)
    changed = sorted(name for name in head_templates if base_templates.get(name) != head_templates[name])
    removed = sorted(set(base_stacks) - set(head_stacks))
    lines = [f"## What this change does (against {base})", "", *summarize(base_templates, head_templates)]
    for name in changed:
        if name not in base_stacks:
            empty = workdir / f"{name}.empty.json"
            empty.write_text("{}")
            base_stacks[name] = empty
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        diffs = list(pool.map(lambda name: stack_diff(workdir / "head.out", name, base_stacks[name]), changed))
        timings["cdk diff"] = time.perf_counter() - started
    unchanged = len(head_stacks) - len(changed)
    lines += [(f"<details><summary>Raw cdk diff: {len(changed)} changed stack(s), {len(removed)} removed, "
              f"{unchanged} unchanged</summary>"), ""]
    lines += [f"- removed: `{name}`" for name in removed]
    for name, text in zip(changed, diffs, strict=True):
        lines += ["", f"### {name}" + (" (new)" if name not in base_templates else ""), "```", text, "```"]
    lines += ["", "</details>", "",
              "<sub>" + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()) + "</sub>"]
    return "\n".join(lines) + "\n"


def _timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


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
