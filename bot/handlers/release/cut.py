"""/cut-rc and /adopt-rc: the forward-port check, the cut (never of a branch the bot did not start), taking over a hand-cut RC, its tracking issue and builds."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import gidgethub

from bot.config import RepoConfig
from bot.github.repo import Activity, Comment, Commit, GitRef, Issue, Milestone
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.handlers.release import record as records
from bot.handlers.release.facts import branch_head, commit_ref, is_on, labeled_issues, rc_heads, release_tags
from bot.handlers.release.gate import evaluate_gate
from bot.rules import gate as rules_gate
from bot.rules import names
from bot.rules import release as rules
from bot.rules.commands import Command
from bot.rules.release_state import Cut, ReleaseRecord, ReleaseState
from bot.rules.text import inline, no_pings


class CutAPI(Protocol):
    """What cutting an RC does to GitHub: compare devel with the RC lines, read who made a branch, make the
    RC branch, open and close tracking issues, dispatch workflows, and comment."""

    def compare_commits(self, base: str, head: str) -> AsyncIterator[Commit]: ...

    async def commit(self, ref: str) -> Commit: ...

    async def branch_activity(self, branch: str) -> tuple[Activity, ...] | None: ...

    async def create_ref(self, ref: str, sha: str) -> GitRef: ...

    async def milestones(self, *, state: str = ...) -> list[Milestone]: ...

    async def issues(
        self, *, labels: Collection[str] = ..., state: str = ..., milestone: int | None = ...
    ) -> list[Issue]: ...

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

    async def dispatch_workflow(self, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> None: ...

    async def post_once(self, number: int, key: str, body: str) -> Comment: ...


commands = CommandSet()

_FORWARD_PORT_DIFF_BUDGET = 40  # commits whose diff we fetch to find "the same change"
_SUBJECT_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(#[0-9]+\)")


@dataclass(frozen=True)
class CutArgs:
    version: str | None
    force: bool
    dry_run: bool
    unknown: tuple[str, ...]


def parse_cut_args(args: tuple[str, ...]) -> CutArgs:
    version, unknown = None, []
    force = dry_run = False
    for word in args:
        if word == "--force":
            force = True
        elif word == "--dry-run":
            dry_run = True
        elif names.is_version(word) and version is None:
            version = word
        else:
            unknown.append(word)
    return CutArgs(version, force, dry_run, tuple(unknown))


async def _commit_facts(ctx: Context, base: str, head: str) -> tuple[rules.CommitFact, ...]:
    """The commits head has and base lacks (compare answers page by page beyond 250 commits)."""
    api: CutAPI = ctx.api
    return tuple(
        [
            rules.CommitFact(c.sha, c.message, len(c.parents) or 1, None, c.html_url)
            async for c in api.compare_commits(base, head)
        ]
    )


async def _change_id(ctx: Context, sha: str) -> str:
    api: CutAPI = ctx.api
    return rules.same_change_id((f.filename, f.patch) for f in (await api.commit(sha)).files)


def _subject_key(message: str) -> str:
    return _SUBJECT_NOISE.sub("", message.split("\n", 1)[0]).strip().lower()


async def forward_port_check(
    ctx: Context, config: RepoConfig, heads: dict[str, str], tags: tuple[rules.TagFact, ...]
) -> tuple[rules.Gap, ...]:
    """Commits on the RC lines still in use that devel lacks, with no equivalent on devel."""
    devel = config.branches.devel
    promoted: dict[str, tuple[int, str]] = {}
    for tag in tags:
        parsed = config.names.parse_tag(tag.name)
        if parsed and parsed[1] >= promoted.get(parsed[0], (-1, ""))[0]:
            promoted[parsed[0]] = (parsed[1], tag.sha)
    bare = [rules.RcLine(v, config.names.rc_branch(v), sha, promoted.get(v, (0, None))[1]) for v, sha in heads.items()]
    in_use = rules.lines_in_use(bare)
    if not in_use:
        return ()
    lines = [
        dataclasses.replace(line, missing_from_devel=await _commit_facts(ctx, devel, line.branch)) for line in in_use
    ]
    devel_commits: dict[str, rules.CommitFact] = {}
    for line in lines:
        for commit in await _commit_facts(ctx, line.branch, devel):
            devel_commits[commit.sha] = commit
    gaps = rules.forward_port_gaps(lines, devel_commits.values())
    if not gaps:
        return ()
    # Cherry-pick trailers that name commits older than the compared range.
    known: set[str] = set()
    for gap in gaps[:20]:
        for source in rules.picked_from(gap.commit.message):
            if await is_on(ctx, source, devel):
                known.add(source)
    # The same change: compare diffs of the remaining gaps with devel's likeliest candidates.
    budget = _FORWARD_PORT_DIFF_BUDGET
    gap_shas = {g.commit.sha for g in rules.forward_port_gaps(lines, devel_commits.values(), frozenset(known))}
    if not gap_shas:
        return ()
    keys = {_subject_key(c.message) for line in lines for c in line.missing_from_devel if c.sha in gap_shas}
    ordered = sorted(devel_commits.values(), key=lambda c: _subject_key(c.message) not in keys)
    for commit in ordered[: max(0, budget - len(gap_shas))]:
        devel_commits[commit.sha] = dataclasses.replace(commit, change_id=await _change_id(ctx, commit.sha))
    change_ids = {sha: await _change_id(ctx, sha) for sha in gap_shas}
    lines = [
        dataclasses.replace(
            line,
            missing_from_devel=tuple(
                dataclasses.replace(c, change_id=change_ids[c.sha]) if c.sha in change_ids else c
                for c in line.missing_from_devel
            ),
        )
        for line in lines
    ]
    return rules.forward_port_gaps(lines, devel_commits.values(), frozenset(known))


async def _not_in_rc(ctx: Context, config: RepoConfig, version: str) -> list[Issue]:
    """Open PRs aimed at this release (the RC label or a milestone named after the version)."""
    found = {i.number: i for i in await labeled_issues(ctx, [config.names.rc_label(version)]) if i.is_pull}
    for milestone in await ctx.api.milestones(state="open"):
        if re.search(rf"(?<![\d.]){re.escape(version)}(?![\d])", milestone.title):
            for issue in await ctx.api.issues(milestone=milestone.number, state="open"):
                if issue.is_pull:
                    found[issue.number] = issue
    return sorted(found.values(), key=lambda i: i.number)


def _fill(template: str, version: str, sha: str) -> str:
    return template.replace("{version}", version).replace("{sha}", sha)


@commands.command(
    "cut-rc",
    roles=("rte",),
    usage="/cut-rc [X.Y] [--force] [--dry-run]",
    summary="branch the next RC off devel after the forward-port check, open its tracking issue, dispatch the builds",
    where="any",
)
async def cut_rc(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    config = await ctx.config()
    login = comment["user"]["login"]
    args = parse_cut_args(cmd.args)
    if args.unknown:
        return CommandReply(
            False,
            f"I did not understand {inline(' '.join(args.unknown))}. Usage: `/cut-rc [X.Y] [--force] [--dry-run]`.",
        )
    heads = await rc_heads(ctx, config)
    tags = await release_tags(ctx, config)
    version = args.version or names.next_version([*heads, *(config.names.tag_version(t.name) or "" for t in tags)])
    if version is None:
        return CommandReply(False, "No version can follow the highest RC. Name the next one: `/cut-rc X.Y`.")
    branch = config.names.rc_branch(version)
    at = comment.get("created_at") or ""
    if version in heads:
        record = (await records.read_state(ctx, config, version, heads[version], head_runs=())).record
        if record is None or record.cut is None:
            return CommandReply(False, await _not_mine(ctx, branch, version))
        if record.cut.complete:
            number = f" (tracking issue #{record.tracking})" if record.tracking is not None else ""
            return CommandReply(False, f"`{branch}` already exists{number}. Nothing was changed.")
        if args.dry_run:
            return CommandReply(
                True, f"Dry run: `{branch}` exists but its cut was interrupted; `/cut-rc {version}` would finish it."
            )
        return await _finish_cut(ctx, config, record, heads[version], resumed=True)
    devel_sha = await branch_head(ctx, config.branches.devel)
    if devel_sha is None:
        return CommandReply(
            False, f"The devel branch `{config.branches.devel}` does not exist, so there is nothing to cut."
        )
    gaps = await forward_port_check(ctx, config, heads, tags)
    not_in_rc = await _not_in_rc(ctx, config, version)
    not_in_rc_text = (
        "\n\nNot in this RC (still open, aimed at this release): "
        + ", ".join(f"#{i.number} {inline(i.title, 80)}" for i in not_in_rc)
        if not_in_rc
        else ""
    )
    if args.dry_run:
        plan = [
            f"Dry run, nothing changed. `/cut-rc {version}` would:",
            f"- create `{branch}` at `{config.branches.devel}`'s head {commit_ref(ctx, devel_sha)}",
            f'- open the tracking issue "{inline(_fill(config.release.tracking_title, version, devel_sha))}"',
        ]
        plan += [
            f"- dispatch `{inline(w.workflow)}` on `{_fill(w.ref, version, devel_sha) if w.ref else branch}`"
            for w in config.release.on_rc_created
        ]
        plan.append(f"- post `{config.checks.gate}` on {commit_ref(ctx, devel_sha)}")
        if gaps:
            plan.append(
                f"\nIt would refuse{' (unless --force)' if not args.force else ' but --force cuts anyway'}: changes missing from `{config.branches.devel}`:\n"
                + rules.gap_report(gaps, config.branches.devel)
            )
        return CommandReply(True, "\n".join(plan) + not_in_rc_text)
    if gaps and not args.force:
        return CommandReply(
            False,
            f"I did not cut `{branch}`: these changes on RC branches still in use are missing from `{config.branches.devel}`:\n\n"
            + rules.gap_report(gaps, config.branches.devel)
            + not_in_rc_text,
        )
    cut_record = ReleaseRecord(
        version,
        cut=Cut(by=login, sha=devel_sha, at=at, forced=bool(gaps), not_in_rc=tuple(i.number for i in not_in_rc)),
    )
    # The record first, on the commit the branch starts at, so the branch is never without it.
    await records.save(ctx, config, cut_record, devel_sha)
    try:
        await ctx.api.create_ref(f"refs/heads/{branch}", devel_sha)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
        # Made meanwhile: by an earlier attempt of this job (then at the very commit it recorded), or by someone else.
        if await branch_head(ctx, branch) != devel_sha:
            return CommandReply(False, await _not_mine(ctx, branch, version))
    reply = await _finish_cut(ctx, config, cut_record, devel_sha, resumed=False)
    if gaps:
        reply = CommandReply(
            reply.ok,
            reply.message
            + f"\n\nCut forced by {inline(login)} despite {len(gaps)} missing forward-port(s):\n"
            + rules.gap_report(gaps, config.branches.devel, forced=True),
        )
    return CommandReply(reply.ok, reply.message + not_in_rc_text)


async def _made_by(ctx: Context, branch: str) -> str | None:
    """Who GitHub says created the branch (the repository's activity), when it can tell."""
    api: CutAPI = ctx.api
    for item in await api.branch_activity(branch) or ():
        if item.activity_type == "branch_creation" and item.actor is not None:
            return item.actor.login
    return None


async def _not_mine(ctx: Context, branch: str, version: str) -> str:
    """Why the bot will not take a branch it did not start for an RC, and what the RTE can do."""
    by = await _made_by(ctx, branch)
    who = f"it was made by {no_pings('@' + by)}" if by else "I cannot tell who made it"
    return (
        f"`{branch}` exists, but I did not cut it ({who}), so I will not take it for an RC of mine: nothing was "
        f"changed. If it is an RC cut by hand that this release should use, the RTE can take it over as it is with "
        f"`/adopt-rc {version}`; otherwise delete the branch and cut again."
    )


@commands.command(
    "adopt-rc",
    roles=("rte",),
    usage="/adopt-rc X.Y",
    summary="take over an RC branch cut by hand (before the app was installed) as it is, recording who and at which head",
    where="any",
)
async def adopt_rc(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    config = await ctx.config()
    login = comment["user"]["login"]
    if len(cmd.args) != 1 or not names.is_version(cmd.args[0]):
        return CommandReply(False, "Say which RC: `/adopt-rc X.Y`.")
    version = cmd.args[0]
    branch = config.names.rc_branch(version)
    head = await branch_head(ctx, branch)
    if head is None:
        return CommandReply(
            False, f"`{branch}` does not exist, so there is nothing to take over. `/cut-rc {version}` cuts it."
        )
    record = (await records.read_state(ctx, config, version, head, head_runs=())).record
    if record is not None and record.cut is not None:
        how = "took it over" if record.cut.adopted else "cut it"
        return CommandReply(
            False,
            f"`{branch}` is already mine: {inline(record.cut.by)} {how} at {commit_ref(ctx, record.cut.sha)}. "
            "Nothing was changed.",
        )
    adopted = ReleaseRecord(
        version,
        cut=Cut(
            by=login,
            sha=head,
            at=comment.get("created_at") or "",
            adopted=True,
            dispatched=tuple(d.workflow for d in config.release.on_rc_created),
        ),
    )
    await records.save(ctx, config, adopted, head)
    reply = await _finish_cut(ctx, config, adopted, head, resumed=False)
    return CommandReply(
        reply.ok,
        reply.message.replace(f"Cut `{branch}`", f"Adopted `{branch}` as it is", 1)
        + (
            "\n\nThe workflows of `release.on_rc_created` were not dispatched: the RC was cut by hand, so its builds"
            " are yours to run if it needs them."
            if config.release.on_rc_created
            else ""
        ),
    )


async def _finish_cut(
    ctx: Context, config: RepoConfig, record: ReleaseRecord, sha: str, *, resumed: bool
) -> CommandReply:
    """The cut's steps after the branch exists; each one checks whether it is already done."""
    version = record.version
    branch = config.names.rc_branch(version)
    cut = record.cut or Cut(by="", sha=sha)
    tracking = await records.find_tracking_issue(ctx, config, record)
    if tracking is None and not resumed:
        # A fresh cut of a version cut before (its branch deleted since) starts the old issue over.
        tracking = await _earlier_tracking_issue(ctx, config, version)
        if tracking is not None and tracking.state != "open":
            tracking = await ctx.api.update_issue(tracking.number, state="open")
    if tracking is None:
        how = f"adopted by {inline(cut.by)} at `{cut.sha[:7]}`" if cut.adopted else f"cut by {inline(cut.by)}"
        body = rules_gate.splice_dashboard(
            f"Release {version}: RC branch `{branch}`, {how}.", "Preparing the dashboard…"
        )
        tracking = await ctx.api.create_issue(
            title=_fill(config.release.tracking_title, version, sha),
            body=body,
            labels=[config.labels.tracking, config.names.rc_label(version)],
        )
    number = tracking.number
    if record.tracking != number:
        record = dataclasses.replace(record, tracking=number)
        await records.save(ctx, config, record, sha)
    notes: list[str] = []
    dispatched = list(cut.dispatched)
    for dispatch in config.release.on_rc_created:
        if dispatch.workflow in dispatched:
            continue
        ref = _fill(dispatch.ref, version, sha) if dispatch.ref else branch
        inputs = {key: _fill(value, version, sha) for key, value in dispatch.inputs}
        try:
            await ctx.api.dispatch_workflow(dispatch.workflow, ref=ref, inputs=inputs)
            notes.append(f"dispatched `{inline(dispatch.workflow)}` on `{ref}`")
        except gidgethub.BadRequest as exc:
            answer = inline(str(exc) or f"HTTP {int(exc.status_code)}", 500)
            errors = getattr(exc, "errors", None)
            if errors:
                answer += " " + inline(str(errors), 300)
            await ctx.api.post_once(
                number,
                f"dispatch:{version}:{dispatch.workflow}",
                f"⚠️ GitHub refused to dispatch workflow `{inline(dispatch.workflow)}` on `{ref}` "
                f"(HTTP {int(exc.status_code)}): {answer}\n\nFix the workflow or `release.on_rc_created`, then run it by hand.",
            )
            notes.append(f"GitHub refused `{inline(dispatch.workflow)}` (see the comment on #{number})")
        dispatched.append(dispatch.workflow)
    record = dataclasses.replace(record, cut=dataclasses.replace(cut, dispatched=tuple(dispatched), complete=True))
    await records.save(ctx, config, record, sha)
    release = ReleaseState(version, branch, sha, record, sha)
    await evaluate_gate(ctx, config, version, head_sha=sha, tracking=tracking, release=release)
    closed = await _close_previous(ctx, config, version, number)
    lines = [
        f"{'Finished the interrupted cut of' if resumed else 'Cut'} `{branch}` at {commit_ref(ctx, sha)}; "
        f"tracking issue #{number}.",
        *(f"- {note}" for note in notes),
        f"- posted `{config.checks.gate}` on {commit_ref(ctx, sha)}",
    ]
    if closed:
        lines.append(f"- closed the previous tracking issue #{closed}")
    return CommandReply(True, "\n".join(lines))


async def _earlier_tracking_issue(ctx: Context, config: RepoConfig, version: str) -> Issue | None:
    """The bot's closed tracking issue of an earlier cut of this version, if any (its record went with its branch)."""
    candidates = [
        issue
        for issue in await labeled_issues(ctx, [config.labels.tracking, config.names.rc_label(version)], state="closed")
        if not issue.is_pull and issue.author == ctx.bot_login
    ]
    return min(candidates, key=lambda issue: issue.number) if candidates else None


async def _close_previous(ctx: Context, config: RepoConfig, version: str, number: int) -> int | None:
    """Close the newest older RC's tracking issue that is still open."""
    here = names.version_key(version)
    heads = await rc_heads(ctx, config)
    older = reversed(names.sorted_versions(v for v in heads if names.version_key(v) < here))
    previous = None
    for other in older:
        record = (await records.read_state(ctx, config, other, heads[other], head_runs=())).record
        issue = await records.find_tracking_issue(ctx, config, record)
        if issue is not None and issue.number != number and issue.state == "open":
            previous = issue
            break
    if previous is None:
        return None
    await ctx.api.post_once(
        previous.number, f"superseded:{version}", f"Release {version} was cut (#{number}); closing this tracking issue."
    )
    await ctx.api.update_issue(previous.number, state="closed", state_reason="completed")
    return previous.number
