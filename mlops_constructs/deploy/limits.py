"""SageMaker's limits on a guarded endpoint, defined once.

``mlops_config.model`` validates the model config with them (``mlops validate``) and ``GuardedEndpoint`` validates
its props with them (synth), so the two can never disagree. Pure Python: no CDK, no pydantic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

TRAFFIC_SHIFTS = ("LINEAR", "CANARY", "ALL_AT_ONCE")  # TrafficRoutingConfiguration Type
STEP_PERCENT_RANGE = {"LINEAR": (10, 50), "CANARY": (1, 50)}  # LinearStepSize / CanarySize, % of capacity
BAKE_SECONDS_RANGE = (0, 3600)  # WaitIntervalInSeconds
TERMINATION_WAIT_RANGE = (0, 3600)  # TerminationWaitInSeconds
EXECUTION_TIMEOUT_RANGE = (600, 28_800)  # MaximumExecutionTimeoutInSeconds
# Green fleet start and health checks, added to the bakes and the termination wait to give the execution timeout.
PROVISIONING_ALLOWANCE_SECONDS = 1_200
DEFAULT_BAKE_SECONDS = 600
DEFAULT_TERMINATION_WAIT_SECONDS = 300
INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"  # ml.<family>.<size>
INSTANCE_COUNT_RANGE = (1, 100)  # InitialInstanceCount of one variant
BATCH_INSTANCE_COUNT_RANGE = (1, 20)  # instances of one batch transform job
DEFAULT_TARGET_INVOCATIONS_PER_INSTANCE = 1000  # autoscaling target tracking
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)  # ServerlessConfig MemorySizeInMB
SERVERLESS_CONCURRENCY_RANGE = (1, 200)  # ServerlessConfig MaxConcurrency
DEFAULT_SERVERLESS_MEMORY_MB, DEFAULT_SERVERLESS_CONCURRENCY = 2048, 5
CAPTURE_PERCENT_RANGE = (1, 100)  # InitialSamplingPercentage (the config's 0 turns capture off)

# Rollback thresholds (fleet health).
DEFAULT_MAX_ERROR_RATE = 0.05  # share of invocations answered 5XX
DEFAULT_ERROR_MINUTES = 3
ERROR_MINUTES_RANGE = (1, 60)
DEFAULT_MAX_LATENCY_P99_MS = 1_000
DEFAULT_MAX_REJECTED_REQUESTS = 10  # 4XX per variant in 5 minutes: a notification, not a rollback

# Instance families whose storage is NVMe instance store: SageMaker rejects a volume KMS key on them.
INSTANCE_STORE_FAMILIES = ("c5d", "m5d", "r5d", "g4dn", "g5", "g6", "p3dn", "p4d", "p4de", "p5", "inf2", "trn1",
                           "c6id", "m6id", "r6id")


def instance_family(instance_type: str) -> str:
    """``ml.m5.large`` -> ``m5``."""
    return instance_type.split(".")[1]


def is_instance_store(instance_type: str) -> bool:
    """True when the instance type uses NVMe instance storage (no EBS volume to encrypt with a KMS key)."""
    return instance_family(instance_type) in INSTANCE_STORE_FAMILIES


def bake_intervals(kind: str, step_percent: int | None) -> int:
    """How many bake intervals a full shift waits through: one per LINEAR step, two for a CANARY, else one."""
    if kind == "LINEAR":
        return math.ceil(100 / step_percent)
    return 2 if kind == "CANARY" else 1


def execution_timeout_seconds(kind: str, step_percent: int | None, bake_seconds: int,
                              termination_wait_seconds: int) -> int:
    """MaximumExecutionTimeoutInSeconds covering every bake, the termination wait and provisioning."""
    needed = bake_intervals(kind, step_percent) * bake_seconds + termination_wait_seconds
    return max(EXECUTION_TIMEOUT_RANGE[0], needed + PROVISIONING_ALLOWANCE_SECONDS)


@dataclass(frozen=True)
class Problem:
    """A broken rule: the ``field`` (``kind``, ``step_percent``, ``bake_seconds``, ``termination_wait_seconds``
    or ``instance_count``), the ``value`` received and the ``rule`` it breaks."""

    field: str
    value: object
    rule: str


def step_problem(kind: str, step_percent: int | None) -> Problem | None:
    """The step size of ``kind``: 10-50% for LINEAR, 1-50% for CANARY, none for ALL_AT_ONCE."""
    if kind == "ALL_AT_ONCE":
        if step_percent is not None:
            return Problem("step_percent", step_percent, "applies to LINEAR and CANARY only")
        return None
    low, high = STEP_PERCENT_RANGE[kind]
    if step_percent is None or not low <= step_percent <= high:
        return Problem("step_percent", step_percent, f"{kind} steps must be {low}-{high}% of capacity")
    return None


def traffic_shift_problems(*, kind: str, step_percent: int | None, bake_seconds: int, termination_wait_seconds: int,
                           instance_count: int, instance_type: str) -> list[Problem]:
    """Every rule a blue/green shift on ``instance_count`` instances of ``instance_type`` breaks (none: valid)."""
    if kind not in TRAFFIC_SHIFTS:
        return [Problem("kind", kind, f"must be one of {', '.join(TRAFFIC_SHIFTS)}")]
    problems = [Problem(field, value, f"must be {low}-{high}") for field, value, (low, high) in (
        ("bake_seconds", bake_seconds, BAKE_SECONDS_RANGE),
        ("termination_wait_seconds", termination_wait_seconds, TERMINATION_WAIT_RANGE)) if not low <= value <= high]
    step = step_problem(kind, step_percent)
    if step or problems:
        return problems + ([step] if step else [])
    if kind == "LINEAR" and instance_count * step_percent < 100:
        problems.append(Problem("instance_count", instance_count, (
            f"a LINEAR step of {step_percent}% shifts less than one instance; use at least "
            f"{math.ceil(100 / step_percent)} instances or a larger step")))
    if kind == "CANARY" and instance_count < 2:
        problems.append(Problem("kind", kind, f"a CANARY on {instance_count} instance shifts all traffic at once; "
                                              "use at least 2 instances or ALL_AT_ONCE"))
    if kind != "ALL_AT_ONCE" and instance_family(instance_type) == "inf1":
        problems.append(Problem("kind", kind, f"SageMaker ignores traffic shifting on Inf1 instances "
                                              f"({instance_type}); use ALL_AT_ONCE or another instance family"))
    bakes, high = bake_intervals(kind, step_percent), EXECUTION_TIMEOUT_RANGE[1]
    needed = execution_timeout_seconds(kind, step_percent, bake_seconds, termination_wait_seconds)
    if needed > high:
        problems.append(Problem("bake_seconds", bake_seconds, (
            f"{bakes} bakes of {bake_seconds} s + {termination_wait_seconds} s termination wait + "
            f"{PROVISIONING_ALLOWANCE_SECONDS} s provisioning = {needed} s, beyond SageMaker's {high} s limit; "
            "use a shorter bake or a larger step")))
    return problems
