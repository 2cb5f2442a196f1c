"""The release record on GitHub: read from this app's check run on the RC head (or the nearest commit before it), written onto the head.

Each RC head carries its own copy of the record (`bot/rules/release_state.py` holds its shape). A
head the bot has not written to yet (pushed while it was away) is carried forward from the nearest
earlier commit of the branch that has one, at most RECORD_WALK commits back. What this process
remembers (where it last saw each record, which RC a tracking issue belongs to) is only a hint, always
checked against GitHub, so a restart or a lost database loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import cachetools

from bot.config import RepoConfig
from bot.github.repo import CheckRun, Commit, Issue, or_none
from bot.handlers.commands import CommandReply
from bot.handlers.context import Context
from bot.handlers.release.facts import as_issue, branch_head, rc_heads
from bot.rules import names
from bot.rules import release_state as state_rules
from bot.rules.release_state import REGRESSION_CHECK, ReleaseRecord, ReleaseState, Signal

RECORD_WALK = 50


class RecordAPI(Protocol):
    """What keeping the record asks of GitHub: check runs on a commit, a branch's history, one issue."""

    async def check_runs(
        self,
        sha: str,
        *,
        name: str | None = ...,
        app_id: int | None = ...,
        latest: bool = ...,
        every: bool = ...,
    ) -> tuple[CheckRun, ...]: ...

    async def commits(self, sha: str, *, per_page: int = ...) -> tuple[Commit, ...]: ...

    async def issue(self, number: int) -> Issue: ...

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


# (repository, version) -> the commit the record was last read from or written to.
_SEEN_AT: cachetools.LRUCache[tuple[str, str], str] = cachetools.LRUCache(10000)
# (repository, version, head) of heads found without a record (nor one behind them), so that a branch the
# bot never started costs no walk each time it is evaluated; short-lived, as another replica may adopt it.
_MISSING: cachetools.TTLCache[tuple[str, str, str], bool] = cachetools.TTLCache(10000, ttl=300)
# (repository, tracking issue number) -> its version.
_TRACKING: cachetools.LRUCache[tuple[str, int], str] = cachetools.LRUCache(10000)


async def record_runs(ctx: Context, config: RepoConfig, sha: str) -> tuple[CheckRun, ...]:
    """This app's record runs on a commit, every RC's (several RCs may share a commit just after a cut)."""
    api: RecordAPI = ctx.api
    # A commit that does not exist (a hint that never was one, or gone with its branch) holds none.
    runs = await or_none(api.check_runs(sha, name=config.checks.release, every=True), (404, 422)) or ()
    app_id = ctx.services.github.app_id
    return tuple(run for run in runs if run.name == config.checks.release and run.app_id == app_id)


def record_in(runs: Sequence[CheckRun], version: str) -> tuple[CheckRun | None, ReleaseRecord | None]:
    """The newest run of this version's record among runs, and the record it holds."""
    for run in sorted(runs, key=lambda r: r.id, reverse=True):
        if run.external_id != version:
            continue
        record = state_rules.decode_record(run.output.text)
        if record is not None and record.version == version:
            return run, record
    return None, None


async def _walk_back(
    ctx: Context, config: RepoConfig, version: str, head_sha: str, hints: list[str]
) -> tuple[str, ReleaseRecord] | None:
    """The nearest commit before head that carries the record: the hints first, then the branch's history."""
    api: RecordAPI = ctx.api
    tried = {head_sha}
    for sha in hints:
        if sha and sha.strip("0") and sha not in tried:
            tried.add(sha)
            _, record = record_in(await record_runs(ctx, config, sha), version)
            if record is not None:
                return sha, record
    for commit in await api.commits(head_sha, per_page=RECORD_WALK):
        if commit.sha in tried:
            continue
        tried.add(commit.sha)
        _, record = record_in(await record_runs(ctx, config, commit.sha), version)
        if record is not None:
            return commit.sha, record
    return None


def _signal(ctx: Context, runs: Sequence[CheckRun], name: str) -> Signal | None:
    app_id = ctx.services.github.app_id
    mine = [r for r in runs if r.name == name and r.app_id == app_id and r.status == "completed"]
    if not mine:
        return None
    run = max(mine, key=lambda r: (r.completed_at or "", r.id))
    return Signal(
        passed=run.conclusion == "success",
        by=run.external_id or "",
        url=run.html_url or "",
        detail=run.output.title or "",
    )


async def read_state(
    ctx: Context,
    config: RepoConfig,
    version: str,
    head_sha: str,
    *,
    head_runs: Sequence[CheckRun] | None = None,
    before: str | None = None,
) -> ReleaseState:
    """The RC's state at head_sha (`carried` is False when the record was read from an earlier commit).

    head_runs: the head's check runs (latest of each name per app), when the caller has read them.
    before: a commit the head replaced (a push's `before`), the likeliest to carry the record.
    """
    api: RecordAPI = ctx.api
    _, record = record_in(await record_runs(ctx, config, head_sha), version)
    record_sha = head_sha if record is not None else None
    if record is None and (ctx.full_name, version, head_sha) not in _MISSING:
        hints = [before or "", _SEEN_AT.get((ctx.full_name, version), "")]
        found = await _walk_back(ctx, config, version, head_sha, hints)
        if found is not None:
            record_sha, record = found
        else:
            _MISSING[(ctx.full_name, version, head_sha)] = True
    if record_sha is not None:
        _SEEN_AT[(ctx.full_name, version)] = record_sha
    if record is not None and record.tracking is not None:
        _TRACKING[(ctx.full_name, record.tracking)] = version
    if head_runs is None:
        head_runs = await api.check_runs(head_sha)
    return ReleaseState(
        version=version,
        branch=config.names.rc_branch(version),
        head_sha=head_sha,
        record=record,
        record_sha=record_sha,
        regression=_signal(ctx, head_runs, REGRESSION_CHECK),
        signoff=_signal(ctx, head_runs, config.checks.signoff),
    )


async def write_record(
    ctx: Context, config: RepoConfig, record: ReleaseRecord, head_sha: str, existing: CheckRun | None
) -> CheckRun:
    """Make the record's run on head_sha hold exactly this record (existing: that run, None when there is none)."""
    api: RecordAPI = ctx.api
    output = state_rules.record_output(record, config.names.rc_branch(record.version))
    run = await api.ensure_check_run(
        name=config.checks.release,
        head_sha=head_sha,
        status="completed",
        conclusion="neutral",
        title=output.title,
        summary=output.summary,
        text=output.text,
        external_id=record.version,
        existing=existing,
        existing_known=True,
        update_completed=True,
    )
    _SEEN_AT[(ctx.full_name, record.version)] = head_sha
    _MISSING.pop((ctx.full_name, record.version, head_sha), None)
    if record.tracking is not None:
        _TRACKING[(ctx.full_name, record.tracking)] = record.version
    return run


async def save(ctx: Context, config: RepoConfig, record: ReleaseRecord, head_sha: str) -> None:
    """Write a changed record onto a commit (the RC head, or the commit an RC is about to be cut at)."""
    existing, _ = record_in(await record_runs(ctx, config, head_sha), record.version)
    await write_record(ctx, config, record, head_sha, existing)


async def version_of_tracking(ctx: Context, config: RepoConfig, issue: Issue | Mapping[str, Any]) -> str | None:
    """The RC whose record names this issue as its tracking issue (only the bot's own issues can be one).

    The issue's labels and what this process remembers only say which record to read first; other RCs
    are asked at their heads only, where the gate keeps their records.
    """
    issue = as_issue(issue)
    if issue.author != ctx.bot_login or issue.is_pull:
        return None
    heads = await rc_heads(ctx, config)
    hinted = [_TRACKING.get((ctx.full_name, issue.number), "")]
    hinted += [v for v in (config.names.rc_version_of_label(n) for n in sorted(issue.label_names)) if v]
    for version in dict.fromkeys(v for v in hinted if v in heads):
        state = await read_state(ctx, config, version, heads[version], head_runs=())
        if state.record is not None and state.record.tracking == issue.number:
            return version
    for version in reversed(names.sorted_versions(heads)):
        if version in hinted:
            continue
        _, record = record_in(await record_runs(ctx, config, heads[version]), version)
        if record is not None and record.tracking == issue.number:
            _TRACKING[(ctx.full_name, issue.number)] = version
            return version
    return None


async def find_tracking_issue(ctx: Context, config: RepoConfig, record: ReleaseRecord | None) -> Issue | None:
    """The tracking issue the record names, when it is the bot's own."""
    api: RecordAPI = ctx.api
    if record is None or record.tracking is None:
        return None
    issue = await or_none(api.issue(record.tracking), (404, 410))
    if issue is None or issue.author != ctx.bot_login or issue.is_pull:
        return None
    return issue


async def tracking_context(
    ctx: Context, issue: Issue | Mapping[str, Any]
) -> tuple[RepoConfig, str, str] | CommandReply:
    """(config, version, head) of the RC a tracking-issue command is about, or the reply that refuses it."""
    config = await ctx.config()
    version = await version_of_tracking(ctx, config, issue)
    if version is None:
        return CommandReply(
            False,
            "I have no record of an RC whose tracking issue this is (my record of each RC lives in my "
            f"`{config.checks.release}` check run on its branch). Nothing was changed.",
        )
    head = await branch_head(ctx, config.names.rc_branch(version))
    if head is None:
        return CommandReply(False, f"The RC branch `{config.names.rc_branch(version)}` does not exist.")
    return config, version, head


async def tracking_head(ctx: Context, issue: Mapping[str, Any]) -> tuple[str, str] | None:
    """The RC branch and head a tracking issue's command speaks of (None: the command says what is missing)."""
    found = await tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return None
    config, version, head = found
    return config.names.rc_branch(version), head
