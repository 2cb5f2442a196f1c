"""Role-guarded labels: the verified, ready and target labels count only when the right role applied them,
and the verified label only for the commits QA saw (recorded in an app-owned check run on that commit)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.github import events
from bot.github.repo import CheckRun, Comment, Comparison, GitCommit, IssueEvent
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.roles import describe_role
from bot.rules import guards as rules
from bot.rules import verification
from bot.rules.commands import Command
from bot.rules.names import label_names

log = logging.getLogger("release_train.guards")

router = routing.Router()
# The installation permissions this concern's jobs need: it takes a label off (with a note), reads who applied it
# and compares commits, and records QA's verification in a check run.
PERMISSIONS = {"issues": "write", "pull_requests": "read", "contents": "read", "checks": "write"}
commands = CommandSet()


class GuardsAPI(Protocol):
    """What the guards do to GitHub: read who labelled, take a label off with a note, read and write the
    verification record, and compare commits to tell an update from the base."""

    async def issue_events(self, number: int) -> list[IssueEvent]: ...

    async def remove_label(self, number: int, label: str) -> None: ...

    async def post_once(self, number: int, key: str, body: str) -> Comment: ...

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None: ...

    async def ensure_check_run(
        self,
        *,
        name: str,
        head_sha: str,
        status: str,
        conclusion: str | None = ...,
        title: str,
        summary: str,
        text: str | None = ...,
        annotations: Sequence[Mapping[str, Any]] = ...,
        details_url: str | None = ...,
        external_id: str | None = ...,
        existing: CheckRun | None = ...,
        existing_known: bool = ...,
        update_completed: bool = ...,
    ) -> CheckRun: ...

    async def git_commit(self, sha: str) -> GitCommit: ...

    async def compare(self, base: str, head: str, *, per_page: int | None = ...) -> Comparison | None: ...


def _api(ctx: Context) -> GuardsAPI:
    return ctx.api


# Handlers on one event share its Context; several may ask who applied a label on the same PR.
_EVENTS_MEMO = "_guards_issue_events"


async def _issue_events(ctx: Context, number: int) -> list[rules.LabelEvent]:
    memo: dict[int, list[rules.LabelEvent]] = ctx.__dict__.setdefault(_EVENTS_MEMO, {})
    if number not in memo:
        memo[number] = [_label_event(e) for e in await _api(ctx).issue_events(number)]
    return memo[number]


def _label_event(issue_event: IssueEvent) -> rules.LabelEvent:
    return rules.LabelEvent(
        issue_event.id,
        issue_event.event,
        issue_event.label.name if issue_event.label is not None else "",
        issue_event.actor.login if issue_event.actor is not None else None,
    )


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


async def verified_by(ctx: Context, number: int, labels: Iterable[Any], head_sha: str) -> str | None:
    """The QA member who verified the PR at head_sha (its head): the verified label is on it now, a QA
    member applied it, and QA's verification is recorded on that very commit. None otherwise.

    labels: the issue's current labels (names or label objects).
    """
    labels = list(labels)
    just_applied = await _verified_in_this_event(ctx, number, labels, head_sha)
    if just_applied is not None:
        return just_applied
    login = await _signed_by(ctx, number, labels, 0)
    if login is None:
        return None
    if await verification_at(ctx, head_sha) is not None:
        return login
    loaded = await ctx.loaded_config()
    label = (loaded.config or RepoConfig()).labels.verified
    if rules.applied_after_merge(await _issue_events(ctx, number), label):
        # A merged PR's head no longer moves: QA labelled after the merge, so QA saw this very head.
        await record_verification(ctx, verification.Verification(head_sha, login, number))
        return login
    return None


async def _verified_in_this_event(ctx: Context, number: int, labels: list[Any], head_sha: str) -> str | None:
    """QA applying the verified label is this very event: its payload names the head QA saw, and the record
    is made here (once), whichever concern asks first."""
    payload = ctx.payload
    if not isinstance(payload, events.PullRequestLabeled):
        return None
    sender = payload.sender.login
    label = payload.label.name if isinstance(payload.label, events.Label) else ""
    loaded = await ctx.loaded_config()
    if (
        payload.pull_request.number != number
        or loaded.config is None
        or label.lower() != loaded.config.labels.verified.lower()
        or payload.pull_request.head.sha != head_sha
        or ctx.is_bot(sender)
        or not await ctx.has_role(sender, "qa")
    ):
        return None
    if loaded.config.labels.verified.lower() not in {name.lower() for name in label_names(labels)}:
        return None
    await record_verification(ctx, verification.Verification(head_sha, sender, number))
    return sender


# -- the record of QA's verification --------------------------------------------------------------------
_VERIFIED_MEMO = "_guards_verifications"


async def verification_at(ctx: Context, sha: str) -> verification.Verification | None:
    """QA's verification recorded on a commit by this app's check run, or None."""
    memo: dict[str, verification.Verification | None] = ctx.__dict__.setdefault(_VERIFIED_MEMO, {})
    if sha not in memo:
        config = await ctx.config()
        run = await _api(ctx).latest_check_run(sha, config.checks.verified)
        memo[sha] = verification.decode(run.output.text, sha) if run is not None else None
    return memo[sha]


async def record_verification(ctx: Context, verified: verification.Verification) -> None:
    """The check run on the verified commit that records it; written only when it does not say so already."""
    memo: dict[str, verification.Verification | None] = ctx.__dict__.setdefault(_VERIFIED_MEMO, {})
    if memo.get(verified.sha) == verified:
        return
    config = await ctx.config()
    output = verification.check_output(verified, config.labels.verified)
    await _api(ctx).ensure_check_run(
        name=config.checks.verified,
        head_sha=verified.sha,
        status="completed",
        conclusion="success",
        title=output.title,
        summary=output.summary,
        text=output.text,
        update_completed=True,
    )
    memo[verified.sha] = verified


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
    payload: events.PullRequestLabeled | events.IssuesLabeled
    pull: events.PullRequest | None = None
    if isinstance(ctx.payload, events.PullRequestLabeled):
        payload = ctx.payload
        pull = payload.pull_request
        number, labels = pull.number, pull.labels
    else:
        payload = ctx.payload_of(events.IssuesLabeled)
        number, labels = payload.issue.number, payload.issue.labels or []
    label = payload.label.name if isinstance(payload.label, events.Label) else ""
    sender = payload.sender.login
    if not label or not sender or ctx.is_bot(sender):
        return
    loaded = await ctx.loaded_config()
    # Without a usable config the label names still come from the last valid one, or the defaults.
    guard = rules.guard_for(loaded.config or RepoConfig(), label)
    if guard is None:
        return
    usable = loaded.usable or not guard.needs_config
    holds = usable and await _holds_any(ctx, sender, guard.roles)
    latest: str | None = sender
    latest_holds = holds
    removed_by_bot = False
    if not holds:
        # Someone with the role may have applied it again since: then it stays.
        last = rules.last_label_event(await _issue_events(ctx, number), label)
        latest = last[1] if last is not None and last[0] == "labeled" else None
        removed_by_bot = last is not None and last[0] == "unlabeled" and ctx.is_bot(last[1])
        latest_holds = bool(
            latest and latest.lower() != sender.lower() and usable and await _holds_any(ctx, latest, guard.roles)
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
        await _api(ctx).remove_label(number, label)
        _forget_events(ctx, number)
    if decision.comment:
        await _api(ctx).post_once(number, f"guard:{event.delivery_id}", decision.comment)
    elif label.lower() == (loaded.config or RepoConfig()).labels.verified.lower() and pull is not None:
        await verified_by(ctx, number, list(labels) or [label], pull.head.sha)


@router.register("pull_request", action="synchronize")
async def on_push(event: Event, ctx: Context) -> None:
    """A push to a PR carrying the verified label: an update from the base carries the verification to the
    new head; any other push drops it, and the label goes with a note saying why."""
    payload = ctx.payload_of(events.PullRequestSynchronize)
    pull = payload.pull_request
    config = await ctx.config()
    label = config.labels.verified
    if label.lower() not in {name.lower() for name in label_names(pull.labels)}:
        return
    before, pushed, pusher = payload.before, pull.head.sha, payload.sender.login
    verified = await verification_at(ctx, before) if before else None
    pushed_is_verified = await verification_at(ctx, pushed) is not None
    update = False
    if verified is not None and not pushed_is_verified:
        update = verification.is_update_merge(await _update_facts(ctx, before, pushed, pull.base.ref))
    decision = verification.decide_push(
        verification.PushFacts(pull.number, label, pushed, pusher, before, verified, pushed_is_verified, update)
    )
    if decision.action == verification.CARRY and decision.carried is not None:
        await record_verification(ctx, decision.carried)
    elif decision.action == verification.DROP:
        log.info("dropping %r from %s#%s: %s pushed %s", label, ctx.full_name, pull.number, pusher, pushed)
        await _api(ctx).remove_label(pull.number, label)
        _forget_events(ctx, pull.number)
        await _api(ctx).post_once(pull.number, f"verification-dropped:{pushed}", decision.note)


async def _update_facts(ctx: Context, verified_head: str, pushed: str, base_ref: str) -> verification.UpdateFacts:
    """Git's facts about a commit pushed onto the verified head: its parents, whether the base has the second,
    and the four listings that tell an update from the base from a merge that brings something else."""
    api = _api(ctx)
    parents = (await api.git_commit(pushed)).parent_shas
    if len(parents) != 2 or parents[0] != verified_head:
        return verification.UpdateFacts(verified_head, pushed, parents, second_parent_on_base=False)
    side = parents[1]
    if not await _is_on(api, side, base_ref):
        return verification.UpdateFacts(verified_head, pushed, parents, second_parent_on_base=False)
    listings = [
        await api.compare(a, b)
        for a, b in ((verified_head, pushed), (side, pushed), (verified_head, side), (side, verified_head))
    ]
    if any(listing is None for listing in listings):
        return verification.UpdateFacts(verified_head, pushed, parents, True, complete=False)
    files = [listing.files for listing in listings if listing is not None]
    complete = all(len(listed) < verification.FILES_LISTED for listed in files)
    from_verified, from_side, base_changes, pr_changes = (
        tuple(verification.FileChange(path, blob) for path, blob in _changes(listed)) for listed in files
    )
    return verification.UpdateFacts(
        verified_head, pushed, parents, True, from_verified, from_side, base_changes, pr_changes, complete
    )


async def _is_on(api: GuardsAPI, sha: str, branch: str) -> bool:
    comparison = await api.compare(sha, branch)
    return comparison is not None and comparison.status in ("ahead", "identical")


def _changes(files: Iterable[Any]) -> list[tuple[str, str | None]]:
    """A compare's files as (path, blob on the head side or None when removed); a rename also removes its old path."""
    found: list[tuple[str, str | None]] = []
    for changed in files:
        found.append((changed.filename, None if changed.status == "removed" else changed.sha))
        if changed.previous_filename:
            found.append((changed.previous_filename, None))
    return found


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
