"""Role-guarded labels (pure): which labels need a role, who applied one, and what to do about it.

The verified and ready labels need a role from the config; a target label (`cherry-pick/1.5`) needs what
`/cherry-pick` needs, write access. The note answers the person whose label was removed, and mentions them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import RepoConfig
from bot.rules.text import addressed, no_pings

ROLE_WORDS = {"qa": "QA", "rte": "RTE", "pdm": "PdM", "write": "people with write access"}
PERMISSION_ROLES = frozenset({"write", "maintain", "admin"})  # read from GitHub, not from the config


@dataclass(frozen=True)
class GuardedLabel:
    name: str
    roles: tuple[str, ...]  # any one of them may apply it
    purpose: str  # what the label stands for, in words

    @property
    def needs_config(self) -> bool:
        """Whether telling who holds the roles needs a usable config."""
        return not set(self.roles) <= PERMISSION_ROLES


def guarded_labels(config: RepoConfig) -> tuple[GuardedLabel, ...]:
    return (
        GuardedLabel(config.labels.verified, ("qa",), "marks a fix as validated by QA"),
        GuardedLabel(config.labels.fr_ready, ("pdm", "rte"), "signs off a feature branch as ready for devel"),
    )


def guard_for(config: RepoConfig, label: str) -> GuardedLabel | None:
    """The guard on a label, if any (label names compare without case, as on GitHub)."""
    for guard in guarded_labels(config):
        if guard.name.lower() == label.lower():
            return guard
    version = config.names.target_version_of(label)
    if version is not None:
        return GuardedLabel(
            label,
            ("write",),
            f"asks for a cherry-pick into `{no_pings(config.names.rc_branch(version))}`, "
            f"as `/cherry-pick {version}` does",
        )
    return None


@dataclass(frozen=True)
class LabelFacts:
    label: str
    sender: str
    sender_is_bot: bool  # the bot's own label changes are not guarded
    sender_holds_role: bool
    config_usable: bool
    latest_applier: str | None  # who applied the label last, per the issue's events (None: it is gone)
    latest_applier_holds_role: bool
    removed_by_bot: bool = False  # it is gone because the bot removed it (an earlier attempt at this event)


@dataclass(frozen=True)
class GuardDecision:
    remove: bool
    comment: str | None  # None: say nothing


KEEP = GuardDecision(False, None)


def decide(
    guard: GuardedLabel | None, facts: LabelFacts, who_may: str, config_problem: str | None = None
) -> GuardDecision:
    """Keep the label, or remove it and say why.

    who_may: the role holders in words (describe_role); config_problem: why no role can be checked.
    """
    if guard is None or facts.sender_is_bot:
        return KEEP
    config_usable = facts.config_usable or not guard.needs_config
    if config_usable and facts.sender_holds_role:
        return KEEP
    if facts.latest_applier is None and not facts.removed_by_bot:
        return KEEP  # removed by a person already: nothing to undo, no one to tell
    if (
        facts.latest_applier is not None
        and facts.latest_applier.lower() != facts.sender.lower()
        and facts.latest_applier_holds_role
    ):
        return KEEP  # someone with the role applied it again since this event
    # Removed by the bot on an earlier attempt that failed before the comment: the comment is still owed.
    remove = facts.latest_applier is not None
    roles = " or ".join(ROLE_WORDS.get(r, r) for r in guard.roles)
    if not config_usable:
        body = (
            f"I removed the `{no_pings(guard.name)}` label because I cannot tell who holds the "
            f"{roles} role: {config_problem or 'the configuration is invalid'}\n\n"
            "Apply the label again once the configuration is fixed."
        )
        return GuardDecision(remove, addressed(facts.sender, body))
    holders = f": {who_may}" if who_may and not set(guard.roles) <= PERMISSION_ROLES else ""
    body = (
        f"only {roles} may apply the `{no_pings(guard.name)}` label (it {guard.purpose}){holders}. "
        "I removed it; nothing else was changed."
    )
    return GuardDecision(remove, addressed(facts.sender, body))


@dataclass(frozen=True)
class LabelEvent:
    """One of an issue's events, as far as the guards read them."""

    id: int  # GitHub's event ids grow with time
    kind: str  # labeled, unlabeled, merged, ...
    label: str = ""  # for labeled and unlabeled
    actor: str | None = None


def _in_order(issue_events: Iterable[LabelEvent]) -> list[LabelEvent]:
    return sorted(issue_events, key=lambda e: e.id)  # pages may come in any order


def last_label_event(issue_events: Iterable[LabelEvent], label: str) -> tuple[str, str | None] | None:
    """("labeled" or "unlabeled", actor login) of the newest event about the label, or None."""
    wanted = label.lower()
    last: tuple[str, str | None] | None = None
    for issue_event in _in_order(issue_events):
        if issue_event.kind in ("labeled", "unlabeled") and issue_event.label.lower() == wanted:
            last = (issue_event.kind, issue_event.actor)
    return last


def applied_by(issue_events: Iterable[LabelEvent], label: str) -> str | None:
    """Who applied the label most recently, from an issue's events, when it is still on.

    The latest `labeled` event for the name counts, unless an `unlabeled` event came after it.
    """
    last = last_label_event(issue_events, label)
    return last[1] if last is not None and last[0] == "labeled" else None


def applied_after_merge(issue_events: Iterable[LabelEvent], label: str) -> bool:
    """Whether the label's latest `labeled` event came after the PR was merged (a merged PR's head is final)."""
    merged_at: int | None = None
    labeled_at: int | None = None
    for issue_event in _in_order(issue_events):
        if issue_event.kind == "merged":
            merged_at = issue_event.id
        elif issue_event.kind == "labeled" and issue_event.label.lower() == label.lower():
            labeled_at = issue_event.id
    return merged_at is not None and labeled_at is not None and labeled_at > merged_at
