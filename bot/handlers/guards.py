"""Role-guarded labels: the verified and ready labels count only when the right role applied them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.roles import describe_role
from bot.rules import guards as rules
from bot.rules.commands import Command
from bot.rules.names import label_names

log = logging.getLogger("release_train.guards")

router = routing.Router()
# The installation permissions this concern's jobs need: it takes a label off (with a note) and reads who applied it.
PERMISSIONS = {"issues": "write", "pull_requests": "read"}
commands = CommandSet()

ISSUE_EVENTS_URL = "/repos/{owner}/{repo}/issues/{issue_number}/events"
# Handlers on one event share its Context; several may ask who applied a label on the same PR.
_EVENTS_MEMO = "_guards_issue_events"


async def _issue_events(ctx: Context, number: int) -> list[dict[str, Any]]:
    memo: dict[int, list[dict[str, Any]]] = ctx.__dict__.setdefault(_EVENTS_MEMO, {})
    if number not in memo:
        memo[number] = [e async for e in ctx.gh.getiter(ISSUE_EVENTS_URL, {**ctx.repo_vars, "issue_number": number})]
    return memo[number]


def _forget_events(ctx: Context, number: int) -> None:
    ctx.__dict__.get(_EVENTS_MEMO, {}).pop(number, None)


async def label_applied_by(ctx: Context, number: int, label: str) -> str | None:
    """The login of whoever applied the label most recently, or None when it is not on the issue or PR."""
    return rules.applied_by(await _issue_events(ctx, number), label)


async def _holds_any(ctx: Context, login: str, roles: Iterable[str]) -> bool:
    for role in roles:
        if await ctx.has_role(login, role):
            return True
    return False


async def _signed_by(ctx: Context, number: int, labels: Iterable[Any], pick: int) -> str | None:
    loaded = await ctx.loaded_config()
    if loaded.config is None:
        return None  # no one can be shown to hold the role
    guard = rules.guarded_labels(loaded.config)[pick]
    if guard.name.lower() not in {name.lower() for name in label_names(labels)}:
        return None
    login = await label_applied_by(ctx, number, guard.name)
    if login and not ctx.is_bot(login) and await _holds_any(ctx, login, guard.roles):
        return login
    return None


async def verified_by(ctx: Context, number: int, labels: Iterable[Any]) -> str | None:
    """The QA member who applied the verified label, when it is on the PR now; None otherwise.

    labels: the issue's current labels (names or label objects).
    """
    return await _signed_by(ctx, number, labels, 0)


async def ready_by(ctx: Context, number: int, labels: Iterable[Any]) -> str | None:
    """The PdM or RTE member who applied the FR ready label, when it is on the PR now; None otherwise."""
    return await _signed_by(ctx, number, labels, 1)


def who_may_apply(config: RepoConfig | None, guard: rules.GuardedLabel) -> str:
    descriptions: list[str] = []
    for role in guard.roles:
        text = describe_role(config, role)
        if text not in descriptions:
            descriptions.append(text)
    return " or ".join(descriptions)


@router.register("pull_request", action="labeled")
@router.register("issues", action="labeled")
async def guard_label(event: Event, ctx: Context) -> None:
    label = (event.data.get("label") or {}).get("name")
    sender = (event.data.get("sender") or {}).get("login")
    item = event.data.get("pull_request") or event.data.get("issue") or {}
    number = item.get("number")
    if not label or not sender or number is None or ctx.is_bot(sender):
        return
    loaded = await ctx.loaded_config()
    # Without a usable config the label names still come from the last valid one, or the defaults.
    guard = rules.guard_for(loaded.config or RepoConfig(), label)
    if guard is None:
        return
    holds = loaded.usable and await _holds_any(ctx, sender, guard.roles)
    latest: str | None = sender
    latest_holds = holds
    removed_by_bot = False
    if not holds:
        # Someone with the role may have applied it again since: then it stays.
        last = rules.last_label_event(await _issue_events(ctx, number), label)
        latest = last[1] if last is not None and last[0] == "labeled" else None
        removed_by_bot = last is not None and last[0] == "unlabeled" and ctx.is_bot(last[1])
        latest_holds = bool(
            latest and latest.lower() != sender.lower() and loaded.usable and await _holds_any(ctx, latest, guard.roles)
        )
    facts = rules.LabelFacts(
        label=label,
        sender=sender,
        sender_is_bot=False,
        sender_holds_role=holds,
        config_usable=loaded.usable,
        latest_applier=latest,
        latest_applier_holds_role=latest_holds,
        removed_by_bot=removed_by_bot,
    )
    problem = None
    if not loaded.usable:
        problem = f"`.github/release-train.yml` is invalid ({'; '.join(str(e) for e in loaded.errors[:3])})."
    decision = rules.decide(guard, facts, who_may_apply(loaded.config, guard), problem)
    if decision.remove:
        log.info("removing %r from %s#%s: applied by %s without the role", label, ctx.full_name, number, sender)
        await ctx.api.remove_label(number, label)
        _forget_events(ctx, number)
    if decision.comment:
        await ctx.api.post_once(number, f"guard:{event.delivery_id}", decision.comment)


@commands.command(
    "refresh",
    roles=("write",),
    usage="/refresh",
    summary="re-read the configuration and team membership now, then re-check this issue or PR",
    where="any",
)
async def refresh(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    # The processor dropped the cached config and membership before any /refresh handler ran.
    loaded = await ctx.loaded_config()
    return CommandReply(True, loaded.notice() or "")
