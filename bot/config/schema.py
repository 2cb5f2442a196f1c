"""What `.github/release-train.yml` holds: its sections as frozen dataclasses with their defaults, and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.rules.names import Names

CONFIG_PATH = ".github/release-train.yml"


@dataclass(frozen=True)
class Branches:
    devel: str = "devel"
    feature: str = "fr/*"  # glob
    release_candidate: str = "rc/{version}"  # version is MAJOR.MINOR
    production: str | None = None


@dataclass(frozen=True)
class Labels:
    verified: str = "qa/verified"
    cherry_pick_prefix: str = "cherry-pick/"
    picked: str = "cherry-pick"
    conflict: str = "cherry-pick-conflict"
    fr_ready: str = "fr/ready"
    blocker: str = "release-blocker"
    rc_prefix: str = "rc/"
    bug: str = "bug"
    tracking: str = "release-train"
    released: str = "released"
    hold: str = "release-hold"
    status: str = "release-train/status"


@dataclass(frozen=True)
class Checks:
    merge_rules: str = "release-train/merge-rules"
    gate: str = "release-train/gate"
    cherry_pick: str = "release-train/cherry-pick"
    config: str = "release-train/config"
    signoff: str = "release-train/signoff"
    release: str = "release-train/release"
    verified: str = "release-train/verified"


@dataclass(frozen=True)
class MergeRules:
    fr_ticket_pattern: str = "[A-Z]+-[0-9]+"
    require_ticket_into_fr: bool = True
    require_children_merged: bool = True
    require_up_to_date: bool = True
    require_ready_label: bool = True
    require_verified_into_rc: bool = True
    require_bug_reference_into_rc: bool = True
    block_fr_into_rc: bool = True
    require_ticket_into_devel: bool = False


@dataclass(frozen=True)
class CherryPick:
    auto_merge: bool = False
    auto_merge_method: str = "squash"  # merge | squash | rebase


@dataclass(frozen=True)
class Roles:
    # "@org/team" or a login; an empty role means the repository's admins and maintainers.
    qa: tuple[str, ...] = ()
    rte: tuple[str, ...] = ()
    pdm: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequiredCheck:
    name: str
    app: str | None = None  # the app slug (check runs) or None: any check run or commit status


@dataclass(frozen=True)
class Gate:
    required_checks: tuple[RequiredCheck, ...] = (
        RequiredCheck("sanity"),
        RequiredCheck("regression"),
        RequiredCheck("nightly"),
    )
    require_signoff: bool = False
    require_protection: bool = False  # the gate fails while the README's protection is missing (else it only says so)


@dataclass(frozen=True)
class WorkflowDispatch:
    workflow: str
    inputs: tuple[tuple[str, str], ...] = ()  # values may use {version} and {sha}
    ref: str | None = None  # default: the new RC branch


@dataclass(frozen=True)
class Release:
    tag: str = "v{version}.{patch}"
    environment: str = "production"
    handoff: tuple[str, ...] = ()
    on_rc_created: tuple[WorkflowDispatch, ...] = ()
    tracking_title: str = "Release {version}"


@dataclass(frozen=True)
class RepoConfig:
    branches: Branches = field(default_factory=Branches)
    labels: Labels = field(default_factory=Labels)
    checks: Checks = field(default_factory=Checks)
    merge_rules: MergeRules = field(default_factory=MergeRules)
    cherry_pick: CherryPick = field(default_factory=CherryPick)
    roles: Roles = field(default_factory=Roles)
    gate: Gate = field(default_factory=Gate)
    release: Release = field(default_factory=Release)

    @property
    def names(self) -> Names:
        """The name grammar under this repository's templates and prefixes."""
        return Names(
            rc_template=self.branches.release_candidate,
            tag_template=self.release.tag,
            target_prefix=self.labels.cherry_pick_prefix,
            rc_prefix=self.labels.rc_prefix,
        )


@dataclass(frozen=True)
class ConfigError:
    line: int | None  # 1-based line in the YAML file, when known
    key: str  # dotted key, e.g. "labels.verified"; "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


@dataclass(frozen=True)
class ConfigResult:
    config: RepoConfig | None
    errors: tuple[ConfigError, ...] = ()
    # The line each dotted key was read from ("roles.qa[0]" -> 7), for findings made after reading.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors
