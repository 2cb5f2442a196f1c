"""Failures no PR or issue can be told about: kept in the bot's ledger, shown on the open tracking issue or the app's status issue.

The worker calls this concern, not the router: `note` when it gives up on a job whose event has no PR
or issue (a push, a branch made, a status, a check, the sweep), `recovered` when a later job for the
same subject succeeds. Both gather where the list goes, decide with `bot/rules/failures.py`, and change
only what differs. The ledger (`bot/queue/`'s `FailureLedger`) is the truth; GitHub only shows it, so
an edit of the bot's comment or issue is undone at the next showing, and a person's issue with the
label or the marker is never taken for the bot's.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bot.catchup import SWEEP_EVENT
from bot.config import RepoConfig
from bot.github import events
from bot.github.repo import Comment, Issue
from bot.handlers.context import Context
from bot.rules import failures as rules
from bot.rules import names
from bot.rules.failures import Failure, StatusFacts, StatusIssue, StatusPlan, Subject

if TYPE_CHECKING:
    from bot.queue import FailureLedger

log = logging.getLogger("release_train.failures")

# Finding the tracking issue reads the RCs' branches and records (check runs); showing writes a comment or an issue.
PERMISSIONS = {"metadata": "read", "contents": "read", "checks": "read", "issues": "write"}


class FailuresAPI(Protocol):
    """What showing the failures asks of GitHub: labelled issues, the bot's comment on one, and the status issue."""

    async def issues(
        self, *, labels: Iterable[str] = ..., state: str = ..., milestone: int | None = ...
    ) -> list[Issue]: ...

    async def find_bot_comment(self, number: int, key: str) -> Comment | None: ...

    async def ensure_comment(self, number: int, key: str, body: str) -> Comment: ...

    async def post_comment(self, number: int, body: str) -> Comment: ...

    async def create_issue(self, *, title: str, body: str, labels: Collection[str] = ...) -> Issue: ...

    async def update_issue(
        self,
        number: int,
        *,
        title: str | None = ...,
        body: str | None = ...,
        state: str | None = ...,
        state_reason: str | None = ...,
        labels: Collection[str] | None = ...,
        assignees: Collection[str] | None = ...,
    ) -> Issue: ...


def subject_of(event: str, about: events.About, *, concern: str | None = None) -> Subject:
    """The subject of a delivery (a sweep's: of the concern it swept, or of the whole sweep)."""
    if event == SWEEP_EVENT:
        return rules.subject_of("sweep", name=concern)
    return rules.subject_of(
        event,
        action=about.action,
        ref=about.ref,
        ref_type=about.ref_type,
        sha=about.head_sha,
        context=about.context,
        name=about.check_run.name if about.check_run is not None else None,
        environment=about.environment,
    )


def about_of(body: bytes) -> events.About:
    try:
        return events.decode_as(events.About, body)
    except (events.PayloadError, RecursionError):
        return events.About()


def failure(subject: Subject, event: str, delivery_id: str, error: str, *, dead: bool) -> Failure:
    return Failure(
        key=subject.key,
        about=subject.about,
        event="sweep" if event == SWEEP_EVENT else event,
        delivery=delivery_id,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        what=rules.what_failed(error, dead),
    )


async def open_failures(ledger: FailureLedger, repo_key: str) -> dict[str, Failure]:
    found = {}
    for key, raw in (await ledger.open_failures(repo_key)).items():
        entry = rules.decode_failure(raw)
        if entry is None:
            log.warning("a failure ledger entry of %s cannot be read; dropped", repo_key)
            await ledger.clear_failure(repo_key, key)
            continue
        found[key] = entry
    return found


async def _tracking_issue(ctx: Context, config: RepoConfig) -> int | None:
    """The newest RC's open tracking issue: the app's own, and named as such by that RC's record."""
    from bot.handlers.release import version_of_tracking

    api: FailuresAPI = ctx.api
    best: tuple[tuple[int, ...], int] | None = None
    for issue in await api.issues(labels=[config.labels.tracking]):
        if issue.author != ctx.bot_login or issue.is_pull:
            continue
        version = await version_of_tracking(ctx, config, issue)
        if version is not None and (best is None or names.version_key(version) > best[0]):
            best = (names.version_key(version), issue.number)
    return best[1] if best is not None else None


async def _status_issue(ctx: Context, config: RepoConfig) -> StatusIssue | None:
    """The app's own status issue: its oldest open one, or else its newest closed one (a person's never counts)."""
    api: FailuresAPI = ctx.api
    mine = [
        issue
        for issue in await api.issues(labels=[config.labels.status], state="all")
        if issue.author == ctx.bot_login and not issue.is_pull
    ]
    opened = [issue for issue in mine if issue.state == "open"]
    chosen = min(opened, key=lambda i: i.number) if opened else max(mine, key=lambda i: i.number, default=None)
    return StatusIssue(chosen.number, chosen.state, chosen.body or "") if chosen is not None else None


async def gather(ctx: Context, config: RepoConfig, failures: Iterable[Failure]) -> StatusFacts:
    api: FailuresAPI = ctx.api
    tracking = await _tracking_issue(ctx, config)
    comment = await api.find_bot_comment(tracking, rules.STATUS_KEY) if tracking is not None else None
    return StatusFacts(
        failures=tuple(failures),
        tracking=tracking,
        tracking_comment=(comment.body or "") if comment is not None else None,
        status_issue=await _status_issue(ctx, config),
    )


async def publish(ctx: Context, config: RepoConfig, facts: StatusFacts, plan: StatusPlan) -> None:
    api: FailuresAPI = ctx.api
    if plan.comment is not None and facts.tracking is not None:
        await api.ensure_comment(facts.tracking, rules.STATUS_KEY, plan.comment)
    if plan.create is not None:
        await api.create_issue(title=rules.STATUS_TITLE, body=plan.create, labels=[config.labels.status])
    issue = facts.status_issue
    if issue is None:
        return
    if plan.reopen or (plan.body is not None and not plan.close):
        await api.update_issue(issue.number, body=plan.body, state="open" if plan.reopen else None)
    if plan.note is not None:
        await api.post_comment(issue.number, plan.note)
    if plan.close:  # the last body goes with the closing, in one request
        await api.update_issue(issue.number, body=plan.body, state="closed", state_reason="completed")


async def show(ctx: Context, failures: Iterable[Failure]) -> StatusPlan:
    """Make GitHub show exactly these open failures (gather, decide, publish what differs)."""
    config = await ctx.config()
    facts = await gather(ctx, config, failures)
    plan = rules.decide(facts)
    if not plan.changes_nothing:
        await publish(ctx, config, facts, plan)
    return plan


async def note(ledger: FailureLedger, repo_key: str, entry: Failure) -> None:
    """Keep a failure in the ledger (a later failure of the same subject replaces it); `show_ledger` shows it."""
    await ledger.note_failure(repo_key, entry.key, rules.encode_failure(entry))


async def show_ledger(ctx: Context, ledger: FailureLedger, repo_key: str, *, without: Collection[str] = ()) -> None:
    """Show the ledger's open failures of the repository (but those of `without`)."""
    current = await open_failures(ledger, repo_key)
    await show(ctx, [entry for key, entry in current.items() if key not in without])


async def recovered(ctx: Context, ledger: FailureLedger, repo_key: str, keys: Collection[str]) -> None:
    """Subjects whose job succeeded: show the ledger without them, then forget them (if showing fails, they stay)."""
    current = await open_failures(ledger, repo_key)
    over = [key for key in keys if key in current]
    if not over:
        return
    await show_ledger(ctx, ledger, repo_key, without=over)
    for key in over:
        await ledger.clear_failure(repo_key, key)
