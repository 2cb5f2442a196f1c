"""The promotion gate: gather an RC's facts, decide with rules/gate.py, publish only what differs; re-run on the events that change it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.github import events
from bot.github.repo import CheckRun, Comment, Issue, Label, PullRequest
from bot.handlers.context import Context
from bot.handlers.release import record as records
from bot.handlers.release.facts import (
    as_issue,
    bot_run,
    branch_head,
    check_results,
    item_ref,
    labeled_issues,
    protection_facts,
    rc_heads,
    release_tags,
    source_pick,
    web_url,
)
from bot.rules import cherry_pick as pick_rules
from bot.rules import gate as rules
from bot.rules import names
from bot.rules import protection as guard_rules
from bot.rules import release as release_rules
from bot.rules.release_state import ReleaseState

router = routing.Router()


class GateAPI(Protocol):
    """What publishing the gate does to GitHub (its facts are read through facts.py and record.py)."""

    def pulls(
        self,
        *,
        state: str = ...,
        head: str | None = ...,
        base: str | None = ...,
        sort: str | None = ...,
        direction: str | None = ...,
    ) -> AsyncIterator[PullRequest]: ...

    async def issue(self, number: int) -> Issue: ...

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

    async def add_labels(self, number: int, labels: Iterable[str], *, present: Iterable[str] = ...) -> None: ...

    async def remove_label(self, number: int, label: str) -> None: ...

    async def ensure_comment(self, number: int, key: str, body: str) -> Comment: ...

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


@dataclass
class Evaluation:
    version: str
    branch: str
    head_sha: str
    verdict: rules.GateVerdict
    tracking: Issue | None
    release: ReleaseState
    tags: tuple[release_rules.TagFact, ...]


@dataclass
class Gathered:
    """The facts, and what the publish step compares the decision with."""

    facts: rules.GateFacts
    tracking: Issue | None
    tracking_current: bool  # the tracking issue was read just now, so its body is current
    gate_run: CheckRun | None  # this app's gate check run on the head
    record_on_head: bool  # False: the record was read from an earlier commit, and is carried to the head
    owns_check: bool  # the head's gate check is this RC's (a newer RC on the same commit owns it)
    tags: tuple[release_rules.TagFact, ...]


async def gather(
    ctx: Context,
    config: RepoConfig,
    version: str,
    head_sha: str,
    *,
    tracking: Issue | None = None,
    release: ReleaseState | None = None,
    before: str | None = None,
    heads: dict[str, str] | None = None,
    hold_label_by: str | None = None,
) -> Gathered:
    api: GateAPI = ctx.api
    branch = config.names.rc_branch(version)
    runs, results = await check_results(ctx, head_sha)
    if release is None or release.head_sha != head_sha:
        release = await records.read_state(ctx, config, version, head_sha, head_runs=runs, before=before)
    current = tracking is None
    if tracking is None or (release.record is not None and tracking.number != release.record.tracking):
        tracking = await records.find_tracking_issue(ctx, config, release.record)
        current = True
    label = config.names.rc_label(version)
    blockers = [i for i in await labeled_issues(ctx, [config.labels.blocker, label]) if not i.is_pull]
    pulls = [pr async for pr in api.pulls(base=branch, state="all")]
    # Each source's own per-target state: a pick that conflicts for another RC says nothing about this one.
    sources = [i for i in await labeled_issues(ctx, [config.names.target_label(version)], state="all") if i.is_pull]
    by_head: dict[str, PullRequest] = {}
    for pr in pulls:  # a pick branch's open or merged PR speaks for it, not an older closed one
        if pr.head.ref not in by_head or not (by_head[pr.head.ref].merged_at or by_head[pr.head.ref].state == "open"):
            by_head[pr.head.ref] = pr
    source_picks = tuple(
        [await source_pick(ctx, config, version, i, by_head.get(names.pick_branch(i.number, branch))) for i in sources]
    )
    tags = await release_tags(ctx, config)
    released = tuple(t.name for t in tags if config.names.tag_version(t.name) == version)
    # One gate check per commit: when a newer RC sits on the same commit (just cut), the newest owns it.
    sharing = [v for v, sha in (heads if heads is not None else await rc_heads(ctx, config)).items() if sha == head_sha]
    owns = not sharing or max(sharing, key=names.version_key) == version
    protection = guard_rules.protection_findings(await protection_facts(ctx, config, version))
    hold_label = None
    if tracking is not None:
        hold_label = rules.HoldLabel(config.labels.hold in tracking.label_names, hold_label_by)
    facts = rules.GateFacts(
        release=release,
        required_checks=config.gate.required_checks,
        results=results,
        blockers=tuple(item_ref(i) for i in blockers),
        open_picks=tuple(item_ref(pr) for pr in pulls if pr.state == "open"),
        source_picks=source_picks,
        require_signoff=config.gate.require_signoff,
        into_rc=tuple(
            rules.PickRow(pr.number, pr.title, "merged" if pr.merged_at else pr.state, pr.html_url) for pr in pulls
        ),
        released=released,
        head_url=web_url(ctx, f"/commit/{head_sha}"),
        hold_label=hold_label,
        hold_label_name=config.labels.hold,
        protection=protection,
        require_protection=config.gate.require_protection,
        links={
            **rules.gate_links(web_url(ctx, ""), blocker=config.labels.blocker, rc_label=label, rc_branch=branch),
            "tracking": tracking.html_url if tracking is not None else "",
        },
    )
    gate_run = bot_run(ctx, runs, config.checks.gate)
    return Gathered(facts, tracking, current, gate_run, release.carried, owns, tags)


async def publish(ctx: Context, config: RepoConfig, gathered: Gathered, decision: rules.GateDecision) -> Issue | None:
    """Bring GitHub to the decision, writing only what differs: the record's copy, the gate, labels, dashboard.

    Returns the tracking issue as it now stands.
    """
    api: GateAPI = ctx.api
    release = gathered.facts.release
    if release.record is not None and not gathered.record_on_head:
        await records.write_record(ctx, config, release.record, release.head_sha, None)
    if gathered.owns_check:
        await api.ensure_check_run(
            name=config.checks.gate,
            head_sha=release.head_sha,
            status=decision.check.status,
            conclusion=decision.check.conclusion,
            title=decision.check.title,
            summary=decision.check.summary,
            existing=gathered.gate_run,
            existing_known=True,
            update_completed=True,
        )
    tracking = gathered.tracking
    if tracking is None:
        return None
    present = set(tracking.label_names)
    wanted = {config.labels.tracking, config.names.rc_label(release.version)}
    if decision.hold_label:
        wanted.add(config.labels.hold)
    await api.add_labels(tracking.number, wanted, present=present)
    if not decision.hold_label and config.labels.hold in present:
        await api.remove_label(tracking.number, config.labels.hold)
    if decision.note:
        await api.ensure_comment(tracking.number, f"hold-label:{release.version}", decision.note)
    # The body must be current, so people's latest edits outside the section survive.
    fresh = tracking if gathered.tracking_current else await api.issue(tracking.number)
    body = rules.splice_dashboard(fresh.body, decision.dashboard)
    if body != (fresh.body or ""):
        fresh = await api.update_issue(tracking.number, body=body)
    shown = (present | wanted) - ({config.labels.hold} - wanted)
    return msgspec.structs.replace(fresh, labels=tuple(Label(name=name) for name in sorted(shown)), body=body)


async def evaluate_gate(
    ctx: Context,
    config: RepoConfig,
    version: str,
    *,
    head_sha: str | None = None,
    tracking: Issue | Mapping[str, Any] | None = None,
    release: ReleaseState | None = None,
    before: str | None = None,
    heads: dict[str, str] | None = None,
    hold_label_by: str | None = None,
) -> Evaluation | None:
    """Gather the gate's facts for an RC, decide, and publish: the gate check, the record's copy, the dashboard.

    tracking: the tracking issue as a command's payload has it. release: the RC's state when the caller
    has just changed it. before: the commit a push replaced. hold_label_by: the person whose change of
    the hold label brought us here.
    """
    head_sha = head_sha or await branch_head(ctx, config.names.rc_branch(version))
    if head_sha is None:
        return None
    gathered = await gather(
        ctx,
        config,
        version,
        head_sha,
        tracking=as_issue(tracking) if tracking is not None else None,
        release=release,
        before=before,
        heads=heads,
        hold_label_by=hold_label_by,
    )
    decision = rules.decide(gathered.facts)
    shown = await publish(ctx, config, gathered, decision)
    facts = gathered.facts
    return Evaluation(version, facts.release.branch, head_sha, decision.verdict, shown, facts.release, gathered.tags)


async def _open_versions(ctx: Context, config: RepoConfig) -> list[str]:
    versions = []
    for issue in await labeled_issues(ctx, [config.labels.tracking]):
        version = await records.version_of_tracking(ctx, config, issue)
        if version:
            versions.append(version)
    return list(names.sorted_versions(versions))


async def sweep(ctx: Context) -> None:
    """Re-evaluate the gate of every RC whose tracking issue is open (for the periodic sweep)."""
    config = await ctx.config()
    for version in await _open_versions(ctx, config):
        await evaluate_gate(ctx, config, version)


async def _gates_at(ctx: Context, config: RepoConfig, sha: str, branch_hints: list[str] | None = None) -> None:
    """Re-evaluate the gate of every RC whose head is sha."""
    if branch_hints is not None:  # a status lists every branch whose head it is on
        if not any(config.names.rc_version_of(b) for b in branch_hints):
            return
    heads = await rc_heads(ctx, config)
    for version, head in sorted(heads.items()):
        if head == sha:
            await evaluate_gate(ctx, config, version, head_sha=sha, heads=heads)


@router.register("push")
async def on_push(event: Event, ctx: Context) -> None:
    push = ctx.payload_of(events.Push)
    if push.deleted:
        return
    config = await ctx.config()
    version = config.names.rc_version_of(push.ref)
    if version:
        await evaluate_gate(ctx, config, version, head_sha=push.after, before=push.before)


@router.register("status")
async def on_status(event: Event, ctx: Context) -> None:
    status = ctx.payload_of(events.Status)
    config = await ctx.config()
    await _gates_at(ctx, config, status.sha, [b.name for b in status.branches])


@router.register("check_run", action="completed")
async def on_check_run(event: Event, ctx: Context) -> None:
    run = ctx.payload_of(events.CheckRunCompleted).check_run
    config = await ctx.config()
    if run.app is not None and run.app.id == ctx.services.github.app_id:
        # The gate's own output, and runs whose step re-evaluated already (regression, sign-off, the
        # record), are skipped; a source PR's cherry-pick run changes the gates of the RCs it names.
        if run.name == config.checks.cherry_pick:
            versions = pick_rules.decode_states(run.output.text)
            heads = await rc_heads(ctx, config) if versions else {}
            for version in names.sorted_versions(v for v in versions if v in heads):
                await evaluate_gate(ctx, config, version, head_sha=heads[version], heads=heads)
        return
    # A suite's head_branch names one branch of many that may hold the commit, so read the RC heads.
    await _gates_at(ctx, config, run.head_sha)


@router.register("check_suite", action="completed")
async def on_check_suite(event: Event, ctx: Context) -> None:
    suite = ctx.payload_of(events.CheckSuiteCompleted).check_suite
    if suite.app.id == ctx.services.github.app_id:
        return  # the bot's own runs (gate, sign-off, regression): the step that made them re-evaluated
    config = await ctx.config()
    await _gates_at(ctx, config, suite.head_sha)


async def on_issue_change(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.IssuesEvent)
    sender = payload.sender.login
    if ctx.is_bot(sender):
        return  # tracking issues, holds and regression bugs: the command that changed them re-evaluated
    issue = as_issue(payload.issue)
    config = await ctx.config()
    labels = set(issue.label_names)
    label = getattr(payload, "label", events.UNSET)
    changed = label.name if isinstance(label, events.Label) else None
    tracking_label = config.labels.tracking in labels or changed == config.labels.tracking
    if tracking_label and issue.author == ctx.bot_login and not issue.is_pull:
        # The bot's own issue: when it is a tracking issue, its record says which RC it belongs to,
        # whatever its labels say now; a person's edit of its body or labels is undone.
        if isinstance(payload, events.IssuesEdited) and "body" not in payload.changes:
            return
        version = await records.version_of_tracking(ctx, config, issue)
        if version is not None:
            by = sender if changed == config.labels.hold else None
            await evaluate_gate(ctx, config, version, tracking=issue, hold_label_by=by)
            return
    if isinstance(payload, events.IssuesEdited):
        return
    await undo_blocker_lift(ctx, config, payload.action, issue, changed, sender)
    if changed:
        labels.add(changed)
    if not labels & {config.labels.blocker, config.labels.tracking, config.labels.hold} and not (
        changed and config.names.rc_version_of_label(changed)
    ):
        return
    versions = {v for v in (config.names.rc_version_of_label(n) for n in labels) if v}
    for version in names.sorted_versions(versions):
        await evaluate_gate(ctx, config, version)


async def undo_blocker_lift(
    ctx: Context, config: RepoConfig, action: str, issue: Issue, changed: str | None, sender: str
) -> None:
    """An open release blocker closed, or stripped of its blocker or RC label, by someone who may not lift it is
    put back, with a note to them."""
    if issue.is_pull:
        return
    labels = set(issue.label_names) | ({changed} if changed else set())
    rc_labels = tuple(sorted(n for n in labels if config.names.rc_version_of_label(n)))
    blocker = config.labels.blocker
    closed = action == "closed" and blocker in labels
    removed = changed if action == "unlabeled" and issue.state == "open" and blocker in labels else None
    if not rc_labels or not (closed or (removed and (removed == blocker or removed in rc_labels))):
        return
    may_lift = await ctx.has_role(sender, "qa") or await ctx.has_role(sender, "rte")
    undo = rules.blocker_undo(rules.BlockerLift(issue.number, sender, may_lift, blocker, rc_labels, closed, removed))
    if undo is None:
        return
    api: GateAPI = ctx.api
    if undo.reopen:
        await api.update_issue(issue.number, state="open")
    if undo.put_back:
        await api.add_labels(issue.number, {undo.put_back}, present=issue.label_names)
    await api.ensure_comment(issue.number, f"blocker-lift:{issue.number}", undo.note)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled", "edited"):
    router.add(on_issue_change, "issues", action=_action)


async def on_pull_request(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.PullRequestEvent)
    pr = payload.pull_request
    config = await ctx.config()
    versions = set()
    base_version = config.names.rc_version_of(pr.base.ref)
    if base_version and payload.action in ("opened", "closed", "reopened"):
        versions.add(base_version)
    if payload.action in ("labeled", "unlabeled", "closed"):
        label = getattr(payload, "label", events.UNSET)
        changed = label.name if isinstance(label, events.Label) else None
        targets = set(config.names.targets_of({*(n.name for n in pr.labels), changed or ""}))
        # QA's verified label and the conflict label reach the gate through the source's cherry-pick
        # check run, which records what they changed for each target.
        if payload.action == "closed" or (changed and config.names.target_version_of(changed)):
            versions |= targets
        # A pick made by hand (a PR from the pick branch into the RC) counts once QA verified it at its head.
        if base_version and changed == config.labels.verified and names.pick_source(pr.head.ref) is not None:
            versions.add(base_version)
    heads = await rc_heads(ctx, config) if versions else {}
    for version in names.sorted_versions(versions):
        if version in heads:
            await evaluate_gate(ctx, config, version, head_sha=heads[version], heads=heads)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled"):
    router.add(on_pull_request, "pull_request", action=_action)
