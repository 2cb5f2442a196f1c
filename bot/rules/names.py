"""The one grammar for names: versions, RC branches, target and RC labels, pick branches and tags (pure).

A version is MAJOR.MINOR written as people and the bot write it: ASCII digits, no leading zero, no
sign or space, at most nine digits a part (`1.5`, `0.9`, `10.0`). Every other spelling (`01.5`,
`1.5.0`, `v1.5`, ` 1.5`, Arabic-Indic or full-width digits) names no version, so two concerns can never read one name two ways.
Label prefixes compare without regard to case, as GitHub compares label names; branch and tag names
are compared exactly, as git does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_PART = r"(?:0|[1-9][0-9]{0,8})"
_VERSION = re.compile(rf"({_PART})\.({_PART})", re.ASCII)
_PATCH = _PART
_PR_NUMBER = r"[1-9][0-9]{0,9}"
_PLACEHOLDER = re.compile(r"\{(version|patch)\}")
_HEADS = "refs/heads/"
PICK_PREFIX = "cherry-pick/"
_PICK = re.compile(rf"{re.escape(PICK_PREFIX)}({_PR_NUMBER})-to-(.+)", re.ASCII | re.S)
# Versions a template must give back unchanged: a template that reads one of them otherwise is ambiguous.
_SAMPLES = (("1.5", 0), ("1.5", 12), ("10.12", 3), ("0.0", 10))


# versions -----------------------------------------------------------------------------------------
def parse_version(text: str) -> tuple[int, int] | None:
    """ "1.5" -> (1, 5); any other spelling -> None."""
    match = _VERSION.fullmatch(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_version(text: str) -> bool:
    return parse_version(text) is not None


def version_text(major: int, minor: int) -> str:
    return f"{major}.{minor}"


def version_key(text: str) -> tuple[int, int]:
    """A sort key: versions in numeric order (1.9 before 1.10); what is no version sorts first."""
    return parse_version(text) or (-1, -1)


def sorted_versions(versions: Iterable[str]) -> tuple[str, ...]:
    """The versions among the texts, each once, oldest first."""
    return tuple(sorted({v for v in versions if is_version(v)}, key=version_key))


def next_version(versions: Iterable[str]) -> str | None:
    """The next minor after the highest version; 1.0 when there is none; None when no version can follow."""
    known = [v for v in (parse_version(t) for t in versions) if v is not None]
    if not known:
        return "1.0"
    major, minor = max(known)
    for candidate in (version_text(major, minor + 1), version_text(major + 1, 0)):
        if is_version(candidate):
            return candidate
    return None


def command_versions(words: Iterable[str], rc_template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`/cherry-pick 1.5, v1.4 rc/1.3 x` -> (("1.3", "1.4", "1.5"), ("x",)): the versions, and the words that are none.

    A word may be a version, `v` and a version, or an RC branch name.
    """
    good: set[str] = set()
    bad: list[str] = []
    for word in words:
        candidate = word.strip(",")
        if not candidate:
            continue
        version = (
            candidate
            if is_version(candidate)
            else candidate[1:]
            if candidate.startswith("v") and is_version(candidate[1:])
            else rc_version_of(rc_template, candidate)
        )
        if version is None:
            bad.append(word)
        else:
            good.add(version)
    return tuple(sorted(good, key=version_key)), tuple(bad)


# templates: RC branches and tags ------------------------------------------------------------------
def fill(template: str, version: str, patch: int | None = None) -> str:
    """The name a template gives: {version} and {patch} replaced, every other character kept as written."""
    text = template.replace("{version}", version)
    return text.replace("{patch}", str(patch)) if patch is not None else text


@functools.lru_cache(maxsize=128)
def _template_pattern(template: str) -> re.Pattern[str]:
    # Only literal text surrounds the placeholders, so the pattern cannot backtrack badly; a placeholder
    # used twice must read the same both times.
    pattern, seen, at = "", set(), 0
    for match in _PLACEHOLDER.finditer(template):
        pattern += re.escape(template[at : match.start()])
        name = match.group(1)
        if name in seen:
            pattern += f"(?P={name})"
        else:
            seen.add(name)
            pattern += f"(?P<{name}>{_VERSION.pattern if name == 'version' else _PATCH})"
        at = match.end()
    pattern += re.escape(template[at:])
    return re.compile(pattern, re.ASCII | re.S)


def rc_branch(template: str, version: str) -> str:
    """The RC branch of a version: rc/1.5 under "rc/{version}"."""
    return fill(template, version)


def rc_version_of(template: str, branch: str) -> str | None:
    """The version an RC branch names (rc/1.5 or refs/heads/rc/1.5 -> "1.5"); None for any other branch."""
    if branch.startswith(_HEADS):
        branch = branch[len(_HEADS) :]
    match = _template_pattern(template).fullmatch(branch)
    return match.group("version") if match and "version" in match.groupdict() else None


def tag_name(template: str, version: str, patch: int) -> str:
    """A promotion's tag: v1.5.0 for the first promotion of 1.5 under "v{version}.{patch}"."""
    return fill(template, version, patch)


def parse_tag(template: str, tag: str) -> tuple[str, int] | None:
    """v1.5.2 -> ("1.5", 2) under "v{version}.{patch}"; a template without {patch} reads patch 0."""
    match = _template_pattern(template).fullmatch(tag)
    if match is None or "version" not in match.groupdict():
        return None
    patch = match.groupdict().get("patch")
    return match.group("version"), int(patch) if patch is not None else 0


def rc_template_problem(template: str) -> str | None:
    """Why an RC branch template cannot be read back (None when every sample version survives the trip)."""
    for version, _ in _SAMPLES:
        branch = rc_branch(template, version)
        if rc_version_of(template, branch) != version:
            return f"gives {branch!r} for version {version}, which does not read back as {version}"
    return None


def tag_template_problem(template: str) -> str | None:
    """Why a tag template cannot be read back (None when every sample version and patch survive the trip)."""
    for version, patch in _SAMPLES:
        tag = tag_name(template, version, patch)
        if parse_tag(template, tag) != (version, patch if "{patch}" in template else 0):
            return f"gives {tag!r} for version {version}, patch {patch}, which does not read back as them"
    return None


# labels -------------------------------------------------------------------------------------------
def _after_prefix(prefix: str, label: str) -> str | None:
    # GitHub compares label names without regard to case.
    if not prefix or label[: len(prefix)].casefold() != prefix.casefold():
        return None
    return label[len(prefix) :]


def target_label(prefix: str, version: str) -> str:
    """The label that asks for a pick into a version's RC: cherry-pick/1.5."""
    return prefix + version


def target_version_of(prefix: str, label: str) -> str | None:
    """cherry-pick/1.5 -> "1.5"; None for a label outside the prefix or one that names no version."""
    rest = _after_prefix(prefix, label)
    return rest if rest is not None and is_version(rest) else None


def names_no_target(prefix: str, label: str) -> bool:
    """A label under the target prefix that names no version (`cherry-pick/01.5`, `cherry-pick/next`)."""
    return _after_prefix(prefix, label) is not None and target_version_of(prefix, label) is None


def targets_of(prefix: str, labels: Iterable[str]) -> tuple[str, ...]:
    """The versions the target labels ask for, each once, oldest first."""
    return sorted_versions(v for v in (target_version_of(prefix, name) for name in labels) if v is not None)


def rc_label(prefix: str, version: str) -> str:
    """The label that marks issues belonging to an RC: rc/1.5."""
    return prefix + version


def rc_version_of_label(prefix: str, label: str) -> str | None:
    """rc/1.5 -> "1.5"; None for other labels."""
    rest = _after_prefix(prefix, label)
    return rest if rest is not None and is_version(rest) else None


def label_names(labels: Mapping[str, Any] | Iterable[Any] | None) -> tuple[str, ...]:
    """The names of an issue's or PR's labels, as written: from the item itself (its "labels"), or from its labels
    as GitHub lists them (objects with a name, or records with a `name`) or as plain names."""
    if isinstance(labels, Mapping):
        labels = labels.get("labels")
    found = []
    for label in labels or ():
        name = label.get("name") if isinstance(label, Mapping) else getattr(label, "name", label)
        if isinstance(name, str) and name:
            found.append(name)
    return tuple(found)


# pick branches ------------------------------------------------------------------------------------
def pick_branch(pr_number: int, rc_branch_name: str) -> str:
    """The deterministic pick branch: PR 42 into rc/1.5 -> `cherry-pick/42-to-rc-1.5`."""
    return f"{PICK_PREFIX}{pr_number}-to-{rc_branch_name.replace('/', '-')}"


def pick_source(branch: str) -> int | None:
    """The source PR a pick branch names (cherry-pick/42-to-rc-1.5 -> 42); None for any other branch."""
    match = _PICK.fullmatch(branch)
    return int(match.group(1)) if match else None


# one repository's names ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Names:
    """The grammar under one repository's configured templates and prefixes (`RepoConfig.names`)."""

    rc_template: str = "rc/{version}"
    tag_template: str = "v{version}.{patch}"
    target_prefix: str = "cherry-pick/"
    rc_prefix: str = "rc/"

    def rc_branch(self, version: str) -> str:
        return rc_branch(self.rc_template, version)

    def rc_version_of(self, branch: str) -> str | None:
        return rc_version_of(self.rc_template, branch)

    def tag(self, version: str, patch: int) -> str:
        return tag_name(self.tag_template, version, patch)

    def parse_tag(self, tag: str) -> tuple[str, int] | None:
        return parse_tag(self.tag_template, tag)

    def tag_version(self, tag: str) -> str | None:
        parsed = parse_tag(self.tag_template, tag)
        return parsed[0] if parsed else None

    def target_label(self, version: str) -> str:
        return target_label(self.target_prefix, version)

    def target_version_of(self, label: str) -> str | None:
        return target_version_of(self.target_prefix, label)

    def names_no_target(self, label: str) -> bool:
        return names_no_target(self.target_prefix, label)

    def targets_of(self, labels: Iterable[str]) -> tuple[str, ...]:
        return targets_of(self.target_prefix, labels)

    def rc_label(self, version: str) -> str:
        return rc_label(self.rc_prefix, version)

    def rc_version_of_label(self, label: str) -> str | None:
        return rc_version_of_label(self.rc_prefix, label)

    def command_versions(self, words: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return command_versions(words, self.rc_template)
