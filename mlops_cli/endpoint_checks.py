"""Pure logic of the deploy commands: package resolution, template configurations, recall on known cases,
endpoint-state checks and weight updates. No AWS calls here; ``mlops_cli.deploy_commands`` does the I/O."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

SCORE_SEPARATORS = re.compile(r"[,\n]")


class CheckFailed(Exception):
    """A deployment check failed; the message says what was found and what was expected."""


@dataclass(frozen=True)
class ResolvedPackages:
    """The package to deploy and the champion kept on the first variant (the same package without A/B)."""

    package_arn: str
    champion_arn: str


def resolve_packages(approved: list[dict], requested_arn: str | None) -> ResolvedPackages:
    """Pick the package to deploy from ``ListModelPackages`` summaries of approved packages.

    The requested ARN (from the approval event) wins; without one, the newest approved package. The champion is
    the newest approved package created before it, or the package itself when there is none.
    """
    ordered = sorted(approved, key=lambda s: s["CreationTime"], reverse=True)
    if not ordered:
        raise CheckFailed("the model package group has no approved package to deploy")
    arns = [s["ModelPackageArn"] for s in ordered]
    package = requested_arn or arns[0]
    if package not in arns:
        raise CheckFailed(f"model package {package} is not approved in its group; approved: {arns[:5]}")
    older = arns[arns.index(package) + 1:]
    return ResolvedPackages(package, older[0] if older else package)


def template_configuration(parameters: dict[str, str], tags: dict[str, str]) -> dict:
    """A CodePipeline CloudFormation template-configuration document."""
    return {"Parameters": dict(sorted(parameters.items())), "Tags": dict(sorted(tags.items()))}


@dataclass(frozen=True)
class RecallResult:
    """Recall on the known positive cases, with how many rows could not be scored."""

    positives: int
    detected: int
    skipped: int

    @property
    def recall(self) -> float:
        return self.detected / self.positives if self.positives else 0.0


def parse_scores(body: str, expected: int) -> list[float | None]:
    """Scores from a CSV response: one ``score,label`` row per case (the served model), else one score per line or
    comma-separated; unparseable ones become None."""
    lines = body.strip().splitlines() if body.strip() else []
    if expected > 1 and len(lines) == expected:
        tokens = [line.split(",")[0].strip() for line in lines]
    elif expected == 1 and len(lines) == 1 and line_is_score_and_label(lines[0]):
        tokens = [lines[0].split(",")[0].strip()]
    else:
        tokens = [t.strip() for t in SCORE_SEPARATORS.split(body.strip())] if body.strip() else []
    if len(tokens) != expected:
        return [None] * expected
    scores: list[float | None] = []
    for token in tokens:
        try:
            scores.append(float(token))
        except ValueError:
            scores.append(None)
    return scores


def line_is_score_and_label(line: str) -> bool:
    parts = line.split(",")
    return len(parts) == 2 and parts[1].strip() in ("0", "1")


def recall_on_cases(labels: list[str], scores: list[float | None], *, positive_class: str,
                    threshold: float) -> RecallResult:
    """Recall at ``threshold`` over the positive cases; rows without a score are skipped and counted."""
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    positives = detected = skipped = 0
    for label, score in zip(labels, scores):
        if str(label) != positive_class:
            continue
        if score is None:
            skipped += 1
            continue
        positives += 1
        detected += score >= threshold
    return RecallResult(positives, detected, skipped)


def check_recall(result: RecallResult, min_recall: float, max_skipped_fraction: float = 0.05) -> str:
    """A one-line verdict; raises CheckFailed below ``min_recall`` or when too few cases could be scored."""
    total = result.positives + result.skipped
    if result.positives == 0 or result.skipped > max_skipped_fraction * total:
        raise CheckFailed(f"{result.skipped} of {total} known positive cases could not be scored; at most "
                          f"{max_skipped_fraction:.0%} may be skipped")
    line = (f"recall {result.recall:.3f} on {result.positives} known positive cases "
            f"({result.detected} detected, {result.skipped} skipped); minimum {min_recall}")
    if result.recall < min_recall:
        raise CheckFailed(line)
    return line


def check_endpoint(description: dict, expected_config: str) -> str:
    """The endpoint must be InService on the endpoint config this deployment created.

    Blue/green rollback leaves the endpoint InService on its previous config: that silent rollback fails here.
    """
    name = description.get("EndpointName", "?")
    status = description.get("EndpointStatus")
    serving = description.get("EndpointConfigName")
    if status != "InService":
        reason = description.get("FailureReason", "")
        raise CheckFailed(f"endpoint {name} is {status}, expected InService{': ' + reason if reason else ''}")
    if serving != expected_config:
        raise CheckFailed(f"endpoint {name} serves endpoint config {serving}, not {expected_config} from this "
                          "deployment: the update was rolled back")
    return f"endpoint {name} is InService on {serving}"


def weight_updates(weights: dict[str, float], variants: list[str]) -> list[dict]:
    """``DesiredWeightsAndCapacities`` for UpdateEndpointWeightsAndCapacities; every name must be a variant."""
    unknown = sorted(set(weights) - set(variants))
    if unknown:
        raise CheckFailed(f"variants {unknown} are not on the endpoint; its variants are {variants}")
    bad = {n: w for n, w in weights.items() if not 0 <= w <= 1}
    if bad:
        raise CheckFailed(f"weights {bad} must lie in [0, 1]")
    if not any(weights.values()):
        raise CheckFailed("at least one variant needs a weight above 0")
    return [{"VariantName": n, "DesiredWeight": float(w)} for n, w in sorted(weights.items())]


def parse_weights(text: str) -> dict[str, float]:
    """``champion=0.5,challenger=0.5`` -> {name: weight}."""
    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise CheckFailed(f"weight {part!r} must look like <variant>=<number>, e.g. challenger=0.5") from None
    if not weights:
        raise CheckFailed("give weights as <variant>=<number>[,...]")
    return weights


PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def accounts_missing_image_pull(policy_text: str | None, accounts: list[str]) -> list[str]:
    """The stage ``accounts`` that a repository policy does not let pull images: no Allow statement with both
    pull actions (or ``ecr:*``/``*``) whose AWS principal is ``*``, the account, its root or a role in it."""
    statements = json.loads(policy_text)["Statement"] if policy_text else []
    statements = statements if isinstance(statements, list) else [statements]

    def listed(value) -> list[str]:
        return value if isinstance(value, list) else [value]

    def allows_pull(statement: dict) -> bool:
        actions = [a.lower() for a in listed(statement.get("Action", []))]
        return statement.get("Effect") == "Allow" and all(
            a.lower() in actions or "ecr:*" in actions or "*" in actions for a in PULL_ACTIONS)

    def principals(statement: dict) -> list[str]:
        principal = statement.get("Principal", {})
        return ["*"] if principal == "*" else listed(principal.get("AWS", []))

    allowed = [p for s in statements if allows_pull(s) for p in principals(s)]
    return [a for a in accounts
            if not any(p == "*" or p == a or p.split(":")[4:5] == [a] for p in allowed)]
