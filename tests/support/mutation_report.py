"""Summarize a mutmut run (``make mutation``): mutation score per module and the surviving mutants.

``python tests/support/mutation_report.py [DIR] [--min-score 85]`` reads mutmut's per-file ``*.meta`` results (DIR: a
mutmut ``mutants`` directory, or ``mutants-work`` holding one per module) and
prints a Markdown table. Timeouts do not count as killed (on a loaded machine a surviving mutant can exceed its
CPU-time limit); "no tests" counts as survived, since no test reached the mutated code. Exits non-zero when the
overall score is below ``--min-score``.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "killed"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


def status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not run"
    return KILLED.get(exit_code) or SURVIVED.get(exit_code) or "suspicious"


def summarize(mutants: Path) -> tuple[dict[str, Counter], dict[str, list[str]]]:
    counts: dict[str, Counter] = {}
    survivors: dict[str, list[str]] = {}
    roots = [mutants] if mutants.name == "mutants" else sorted(mutants.glob("*/mutants"))
    for meta in sorted(m for root in roots for m in root.rglob("*.py.meta")):
        module = meta.resolve().as_posix().rsplit("/mutants/", 1)[1].removesuffix(".meta")
        results = json.loads(meta.read_text())["exit_code_by_key"]
        counts[module] = Counter(status(code) for code in results.values())
        survivors[module] = sorted(name for name, code in results.items()
                                   if status(code) in ("survived", "no tests", "suspicious", "timeout"))
    return counts, survivors


def score(counter: Counter) -> float | None:
    detected = counter["killed"]
    run = detected + counter["timeout"] + counter["survived"] + counter["no tests"] + counter["suspicious"]
    return 100.0 * detected / run if run else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutants", nargs="?", default="mutants-work", type=Path)
    parser.add_argument("--min-score", type=float, default=0.0)
    args = parser.parse_args(argv)
    counts, survivors = summarize(args.mutants)
    if not counts:
        print(f"no mutmut results under {args.mutants}", file=sys.stderr)
        return 2
    print("| module | mutants | killed | timeout | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total = Counter()
    for module, counter in counts.items():
        total += counter
        value = score(counter)
        print(f"| {module} | {sum(counter.values())} | {counter['killed']} | {counter['timeout']} | "
              f"{counter['survived'] + counter['suspicious']} | {counter['no tests']} | "
              f"{'-' if value is None else f'{value:.1f}%'} |")
    overall = score(total) or 0.0
    print(f"| **all** | {sum(total.values())} | {total['killed']} | {total['timeout']} | "
          f"{total['survived'] + total['suspicious']} | {total['no tests']} | **{overall:.1f}%** |")
    if total["not run"]:
        print(f"\n{total['not run']} mutants were not run (interrupted run?)")
    for module, names in survivors.items():
        if names:
            print(f"\nSurviving in {module} (`mutmut show <name>` prints the diff):")
            print("\n".join(f"- {name}" for name in names))
    return 0 if overall >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
