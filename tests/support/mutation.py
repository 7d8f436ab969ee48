"""Mutation testing of the release-critical modules (``make mutation``), one module at a time with its fast tests.

``python tests/support/mutation.py [MODULE ...] [--jobs 2]`` runs mutmut (``[tool.mutmut]`` in pyproject.toml holds the
shared settings) once per module in ``mutants-work/<module>/``, a scratch tree whose ``pyproject.toml`` restricts
mutants to that module and tests to the files listed below; within those, mutmut runs for each mutant only the tests
that call the mutated function. A re-run retests only changed functions. Then it prints the score per module
(``tests/support/mutation_report.py``). Default: every module. Needs requirements-mutation.txt; runs offline.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "mutants-work"
LINKED = ("pipeline_code", "mlops_contracts", "monitoring_code", "governance_code", "tooling_code", "functions",
          "mlops_config", "mlops_constructs", "tests", "config", "docs", "cdk.json")

# module (path) -> the fast tests that state its rules
MODULES: dict[str, list[str]] = {  # smallest first, so a partial run reports whole modules early
    "pipeline_code/training/gate.py": ["tests/runtime/test_rules_gate_and_threshold.py", "tests/runtime/test_pipeline_evaluate.py"],
    "monitoring_code/quality_metrics.py": ["tests/functions/test_quality_monitor.py", "tests/runtime/test_rules_quality_window.py",
                                         "tests/runtime/test_rules_gate_and_threshold.py"],
    "functions/deploy_trigger/handler.py": ["tests/functions/test_deploy_trigger.py", "tests/functions/test_rules_deploy_trigger.py"],
    "functions/new_data_trigger/handler.py": ["tests/functions/test_new_data_trigger.py", "tests/functions/test_rules_new_data_trigger.py"],
    "functions/retrain_trigger/handler.py": ["tests/functions/test_retrain_trigger.py", "tests/functions/test_rules_retrain_cooldown.py"],
    "mlops_config/base.py": ["tests/config/test_config_rules.py", "tests/config/test_config.py"],
    "mlops_config/platform.py": ["tests/config/test_config_rules.py", "tests/config/test_config.py"],
    "mlops_config/model.py": ["tests/config/test_config_rules.py", "tests/config/test_config.py"],
    # the limits the config validators and the constructs share (traffic shifting, drift and retraining bounds)
    "mlops_constructs/deploy/limits.py": ["tests/config/test_config_rules.py", "tests/constructs/test_rules_traffic_shift.py",
                                          "tests/stacks/test_deploy_props.py"],
    "monitoring_code/limits.py": ["tests/config/test_config_rules.py", "tests/constructs/test_monitoring_construct.py"],
    "pipeline_code/training/evaluate.py": ["tests/runtime/test_pipeline_evaluate.py", "tests/runtime/test_evaluate_step.py",
                                  "tests/runtime/test_rules_gate_and_threshold.py"],
    "governance_code/audit_schema.py": ["tests/runtime/test_governance_schema.py", "tests/functions/test_governance_writer.py",
                                      "tests/functions/test_rules_approver.py"],
    "pipeline_code/training/drift_stats.py": ["tests/runtime/test_drift_detect.py", "tests/runtime/test_drift_counts_many.py",
                                     "tests/config/test_properties.py"],
    "monitoring_code/capture_decode.py": ["tests/runtime/test_capture_decode.py", "tests/runtime/test_rules_capture_widths.py",
                                        "tests/config/test_properties.py"],
}
# Tests that start subprocesses or take seconds each; the rules they check are covered by faster tests.
DESELECT = ["-k", "not cli_ and not cdk_app and not test_500_file_drop"]


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def prepare(module: str) -> Path:
    """The scratch tree of one module: links to the repository and a pyproject.toml for that module only."""
    work = WORK / module.replace("/", "_").removesuffix(".py")
    work.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = work / name
        if not link.is_symlink():
            link.symlink_to(REPO / name)
    shared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    lines = ["[tool.mutmut]", f"source_paths = {_toml_list(shared['source_paths'])}",
             'also_copy = ["config", "docs", "cdk.json"]', f"only_mutate = {_toml_list([module])}",
             f"pytest_add_cli_args = {_toml_list(shared.get('pytest_add_cli_args', []))}",
             f"pytest_add_cli_args_test_selection = {_toml_list(MODULES[module] + DESELECT)}",
             # CPU-time limits generous enough for a loaded machine: a slow survivor must not pass for a kill.
             "timeout_multiplier = 50.0", "timeout_constant = 60.0", "use_git_change_detection = false", ""]
    text = "\n".join(lines)
    if not (work / "pyproject.toml").exists() or (work / "pyproject.toml").read_text() != text:
        (work / "pyproject.toml").write_text(text)
    return work


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(module: str, jobs: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one module's mutmut run (CPU: mutmut and its forked test runs)."""
    work = prepare(module)
    started, cpu = time.monotonic(), _cpu_seconds()
    env = {**os.environ, "HYPOTHESIS_MAX_EXAMPLES": os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "10")}
    result = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)], check=False,
                            cwd=work, env=env,
                            stdout=subprocess.DEVNULL)
    if result.returncode:
        raise SystemExit(f"mutmut failed on {module} (exit {result.returncode}); see {work}")
    return time.monotonic() - started, _cpu_seconds() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help="default: every module")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=0.0)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {list(MODULES)}")
    for module in args.modules:
        wall, cpu = run(module, args.jobs)
        print(f"{module}: {wall / 60:.1f} min wall, {cpu / 60:.1f} CPU-min", flush=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/support, beside this script
    from mutation_report import main as report

    return report([str(WORK), "--min-score", str(args.min_score)])


if __name__ == "__main__":
    sys.exit(main())
