"""``mlops synth-summary``: stacks, resource counts and the cdk-nag verdict of a cloud assembly."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("synth-summary", help="Summarize a synthesized cloud assembly.")
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.set_defaults(func=run)


def summarize(assembly: Path) -> tuple[list[str], int]:
    """Return printable lines and the number of unacknowledged nag findings."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    lines, total = [], 0
    stacks = sorted(
        name for name, art in manifest["artifacts"].items() if art["type"] == "aws:cloudformation:stack"
    )
    for name in stacks:
        template = json.loads((assembly / f"{name}.template.json").read_text())
        resources = template.get("Resources", {})
        total += len(resources)
        kinds = Counter(r["Type"] for r in resources.values())
        top = ", ".join(f"{k.split('::', 1)[1]}×{v}" for k, v in kinds.most_common(4))
        lines.append(f"  {name:<40} {len(resources):>4} resources  ({top})")
    findings = 0
    report_path = assembly / "validation-report.json"
    packs = []
    if report_path.exists():
        report = json.loads(report_path.read_text())
        for plugin in report.get("pluginReports", []):
            packs.append(plugin["pluginName"])
            findings += sum(len(v["violatingConstructs"]) for v in plugin.get("violations", []))
    header = f"{len(stacks)} stacks, {total} resources"
    nag = f"cdk-nag: {findings} unacknowledged findings" + (f" ({', '.join(packs)})" if packs else "")
    return [header, *lines, nag], findings


def run(args) -> int:
    lines, findings = summarize(Path(args.assembly))
    print("\n".join(lines))
    return 1 if findings else 0


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="mlops synth-summary")
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    sys.exit(run(parser.parse_args()))
