"""Role-guarded labels (pure): which labels need a role, who applied one, and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import RepoConfig
from bot.rules.text import no_pings

ROLE_WORDS = {"qa": "QA", "rte": "RTE", "pdm": "PdM"}


@dataclass(frozen=True)
class GuardedLabel:
    name: str
    roles: tuple[str, ...]  # any one of them may apply it
    purpose: str  # what the label stands for, in words


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
    if facts.config_usable and facts.sender_holds_role:
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
    person = no_pings(f"@{facts.sender}")
    if not facts.config_usable:
        body = (
            f"{person}, I removed the `{no_pings(guard.name)}` label because I cannot tell who holds the "
            f"{roles} role: {config_problem or 'the configuration is invalid'}\n\n"
            "Apply the label again once the configuration is fixed."
        )
        return GuardDecision(remove, body)
    body = (
        f"{person}, only {roles} may apply the `{no_pings(guard.name)}` label (it {guard.purpose}): "
        f"{who_may}. I removed it; nothing else was changed."
    )
    return GuardDecision(remove, body)


def _label_name(label: Any) -> str:
    if isinstance(label, Mapping):
        return str(label.get("name") or "")
    return str(label)


def last_label_event(issue_events: Iterable[Mapping[str, Any]], label: str) -> tuple[str, str | None] | None:
    """("labeled" or "unlabeled", actor login) of the newest event about the label, or None."""
    wanted = label.lower()
    last: tuple[str, str | None] | None = None
    ordered = list(issue_events)
    if all(isinstance(e.get("id"), int) for e in ordered):
        ordered.sort(key=lambda e: e["id"])  # event ids grow with time; pages may come in any order
    for issue_event in ordered:
        kind = issue_event.get("event")
        if kind not in ("labeled", "unlabeled"):
            continue
        if _label_name(issue_event.get("label") or {}).lower() != wanted:
            continue
        last = (str(kind), (issue_event.get("actor") or {}).get("login"))
    return last


def applied_by(issue_events: Iterable[Mapping[str, Any]], label: str) -> str | None:
    """Who applied the label most recently, from an issue's events, when it is still on.

    The latest `labeled` event for the name counts, unless an `unlabeled` event came after it.
    """
    last = last_label_event(issue_events, label)
    return last[1] if last is not None and last[0] == "labeled" else None
