"""How CodePipeline push filters and CODEOWNERS match repository paths, to check the code areas against both.

Push-filter globs are CodePipeline's (Java ``PathMatcher`` globs): ``*`` and ``?`` stay inside a folder, ``**``
crosses folders, ``{a,b}`` is either. CODEOWNERS patterns are gitignore-like: a leading ``/`` anchors at the root,
a trailing ``/`` means everything below that folder, and the last matching rule wins.
"""
from __future__ import annotations

import re
from pathlib import Path

from mlops_constructs._private.source import PathFilter


def _glob_regex(glob: str) -> str:
    regex, i = "", 0
    while i < len(glob):
        if glob.startswith("**", i):
            regex, i = regex + ".*", i + 2
            continue
        char = glob[i]
        regex += {"*": "[^/]*", "?": "[^/]", "{": "(?:", "}": ")", ",": "|"}.get(char, re.escape(char))
        i += 1
    return regex


def push_glob_matches(glob: str, path: str) -> bool:
    return re.fullmatch(_glob_regex(glob), path) is not None


def push_filter_starts(push_filter: PathFilter, path: str) -> bool:
    """Whether a push that changes only ``path`` passes this filter: an include matches and no exclude does."""
    return (any(push_glob_matches(g, path) for g in push_filter.includes)
            and not any(push_glob_matches(g, path) for g in push_filter.excludes))


def codeowners_rules(codeowners: Path) -> list[tuple[str, list[str]]]:
    """(pattern, owners) per rule line, in file order."""
    rules = []
    for line in codeowners.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def codeowners_pattern_matches(pattern: str, path: str) -> bool:
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    regex = _glob_regex(pattern.strip("/")) + ("/.*" if pattern.endswith("/") else "(?:/.*)?")
    return re.fullmatch(regex if anchored else f"(?:.*/)?{regex}", path) is not None


def codeowners_rule(rules: list[tuple[str, list[str]]], path: str) -> tuple[str, list[str]] | None:
    """The rule that decides ``path``'s reviewers: the last one that matches."""
    matching = [rule for rule in rules if codeowners_pattern_matches(rule[0], path)]
    return matching[-1] if matching else None
