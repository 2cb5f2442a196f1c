"""Reading an RC's facts from GitHub: branch heads, tags, labelled issues, check results and pick states."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import msgspec

from bot.config import RepoConfig
from bot.github import events
from bot.github.repo import (
    Branch,
    BranchGuard,
    CheckRun,
    CommitStatus,
    GitRef,
    Issue,
    PullRequest,
    RuleInForce,
    Ruleset,
    or_none,
    read,
)
from bot.handlers import guards
from bot.handlers.context import Context
from bot.rules import cherry_pick as pick_rules
from bot.rules import gate as gate_rules
from bot.rules import protection as guard_rules
from bot.rules import release as rules
from bot.rules.references import commit_link


class ReleaseFactsAPI(Protocol):
    """What reading an RC's facts asks of GitHub."""

    async def branch_head(self, name: str) -> str | None: ...

    def branches(self) -> AsyncIterator[Branch]: ...

    async def matching_refs(self, prefix: str) -> tuple[GitRef, ...]: ...

    async def peeled(self, ref: GitRef) -> str: ...

    async def issues(
        self, *, labels: Iterable[str] = ..., state: str = ..., milestone: int | None = ...
    ) -> list[Issue]: ...

    async def pull(self, number: int) -> PullRequest: ...

    async def check_runs(
        self,
        sha: str,
        *,
        name: str | None = ...,
        app_id: int | None = ...,
        latest: bool = ...,
        every: bool = ...,
    ) -> tuple[CheckRun, ...]: ...

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None: ...

    async def statuses(self, sha: str) -> tuple[CommitStatus, ...]: ...

    async def is_on(self, sha: str, branch: str) -> bool: ...

    async def rules_in_force(self, branch: str) -> tuple[RuleInForce, ...]: ...

    async def rulesets(self) -> tuple[Ruleset, ...]: ...

    async def ruleset(self, ruleset_id: int) -> Ruleset | None: ...

    async def branch_guard(self, branch: str) -> BranchGuard: ...


def web_url(ctx: Context, path: str) -> str:
    repository = ctx.payload.repository
    base = repository.html_url if isinstance(repository, events.Repository) else ""
    return f"{base}{path}"


def commit_ref(ctx: Context, sha: str) -> str:
    """A commit in a reply: its short SHA, linked to its page (in code alone when the event names no repository)."""
    return commit_link(sha, web_url(ctx, ""))


def as_issue(issue: Issue | events.Issue | Mapping[str, Any]) -> Issue:
    """An issue from a webhook payload (or one already read) as the API's record."""
    if isinstance(issue, Issue):
        return issue
    return read(Issue, msgspec.to_builtins(issue) if isinstance(issue, events.Issue) else issue)


async def branch_head(ctx: Context, branch: str) -> str | None:
    api: ReleaseFactsAPI = ctx.api
    return await api.branch_head(branch)


async def rc_heads(ctx: Context, config: RepoConfig) -> dict[str, str]:
    """version -> head SHA of every RC branch."""
    api: ReleaseFactsAPI = ctx.api
    heads: dict[str, str] = {}
    async for branch in api.branches():
        version = config.names.rc_version_of(branch.name)
        if version:
            heads[version] = branch.sha
    return heads


async def release_tags(ctx: Context, config: RepoConfig) -> tuple[rules.TagFact, ...]:
    """Tags that follow the release template, with the commit each points to (annotated tags peeled)."""
    api: ReleaseFactsAPI = ctx.api
    found = []
    for ref in await api.matching_refs("tags/"):
        name = ref.ref[len("refs/tags/") :]
        if config.names.parse_tag(name) is None:
            continue
        found.append(rules.TagFact(name, await api.peeled(ref), ref.object.sha))
    return tuple(found)


async def labeled_issues(ctx: Context, labels: list[str], state: str = "open") -> list[Issue]:
    api: ReleaseFactsAPI = ctx.api
    return await api.issues(labels=labels, state=state)


def item_ref(item: Issue | PullRequest) -> gate_rules.ItemRef:
    return gate_rules.ItemRef(item.number, item.title, item.html_url)


async def check_results(ctx: Context, sha: str) -> tuple[tuple[CheckRun, ...], tuple[gate_rules.CheckResult, ...]]:
    """The head's check runs (the latest of each name per app) and every commit status, as the gate reads them."""
    api: ReleaseFactsAPI = ctx.api
    runs = await api.check_runs(sha)
    statuses = await api.statuses(sha)
    results = [
        gate_rules.CheckResult(
            name=run.name,
            kind="check_run",
            state=run.status or "queued",
            conclusion=run.conclusion,
            app_slug=run.app.slug if run.app else None,
            at=run.completed_at or run.started_at or "",
            order=run.id,
            url=run.html_url or "",
        )
        for run in runs
    ]
    results += [
        gate_rules.CheckResult(
            name=status.context,
            kind="status",
            state=status.state or "pending",
            creator=status.creator.login if status.creator else "",
            at=status.updated_at or status.created_at or "",
            order=status.id,
            url=status.target_url or "",
        )
        for status in statuses
    ]
    return runs, tuple(results)


async def source_pick(
    ctx: Context, config: RepoConfig, version: str, issue: Issue, pick_pull: PullRequest | None
) -> gate_rules.SourcePick:
    """A PR labelled for this RC, with the state its cherry-pick check run records for this version.

    pick_pull: the PR from its pick branch into the RC, if the RC's PR listing has one.
    """
    api: ReleaseFactsAPI = ctx.api
    merged = bool(issue.pull_request and issue.pull_request.merged_at)
    pick = gate_rules.SourcePick(
        item_ref(issue), merged, issue.state == "closed", config.labels.verified in issue.label_names
    )
    if not merged:
        return pick  # nothing is picked before the merge, so there is no state to read
    if pick_pull is not None and (pick_pull.merged_at or pick_pull.state == "open"):
        by_bot = ctx.is_bot(pick_pull.author)
        if by_bot and pick_pull.state == "open":
            # Open, it holds the gate through the open-PRs row; merged, the record says whether it held only the pick.
            return dataclasses.replace(pick, state=pick_rules.OPENED, pick_pr=pick_pull.number)
        if not by_bot and await _verified_pick_by_hand(ctx, pick_pull):
            state = pick_rules.MERGED if pick_pull.merged_at else pick_rules.OPENED
            return dataclasses.replace(pick, state=state, pick_pr=pick_pull.number)
    # Both reads are conditional (the client's ETag cache), so an unchanged PR costs no rate limit.
    pull = await api.pull(issue.number)
    # A head commit that is gone holds nothing this RC can read.
    run = await or_none(api.latest_check_run(pull.head.sha, config.checks.cherry_pick), (404, 422))
    recorded = pick_rules.decode_states(run.output.text if run else None).get(version)
    if recorded is None:
        return pick
    return dataclasses.replace(pick, state=recorded.state, pick_pr=recorded.pr)


async def _verified_pick_by_hand(ctx: Context, pick_pull: PullRequest) -> bool:
    """A person's PR from the pick branch (a pick made by hand) stands for the pick only once QA verified it at
    its head: otherwise anyone could open one and have it taken for the verified fix."""
    verifier = await guards.verified_by(ctx, pick_pull.number, pick_pull.label_names, pick_pull.head.sha)
    return verifier is not None


def bot_run(ctx: Context, runs: tuple[CheckRun, ...], name: str) -> CheckRun | None:
    mine = [r for r in runs if r.name == name and r.app_id == ctx.services.github.app_id]
    return max(mine, key=lambda r: r.recency) if mine else None


async def is_on(ctx: Context, sha: str, branch: str) -> bool:
    api: ReleaseFactsAPI = ctx.api
    return await api.is_on(sha, branch)


def _pinned(checks: Iterable[Any]) -> frozenset[tuple[str, int]]:
    return frozenset((c.context, c.app) for c in checks if c.app is not None)


async def _branch_rules(
    api: ReleaseFactsAPI, branch: str, details: dict[int, Ruleset | None], *, classic_counts: bool
) -> guard_rules.BranchRules:
    """classic_counts: whether classic protection's summary can meet this branch's requirement (else unread)."""
    in_force = await api.rules_in_force(branch)
    classic = await api.branch_guard(branch) if classic_counts else BranchGuard()
    bypass = []
    for rule in in_force:
        if rule.type == "update" and rule.ruleset_id is not None:
            if rule.ruleset_id not in details:
                details[rule.ruleset_id] = await api.ruleset(rule.ruleset_id)
            found = details[rule.ruleset_id]
            bypass.append(found.current_user_can_bypass if found is not None else "never")
    return guard_rules.BranchRules(
        branch=branch,
        rules=frozenset(rule.type for rule in in_force),
        pinned=_pinned(c for rule in in_force for c in rule.parameters.required_status_checks),
        classic=classic.protected,
        classic_pinned=_pinned(classic.protection.required_status_checks.checks) if classic.protected else frozenset(),
        update_bypass=tuple(bypass),
    )


async def protection_facts(ctx: Context, config: RepoConfig, version: str) -> guard_rules.ProtectionFacts:
    """What guards this RC's branch, the production branch and the release tags, as the app may read it."""
    api: ReleaseFactsAPI = ctx.api
    details: dict[int, Ruleset | None] = {}
    rc = await _branch_rules(api, config.names.rc_branch(version), details, classic_counts=True)
    production = None
    if config.branches.production:
        production = await _branch_rules(api, config.branches.production, details, classic_counts=False)
    tag_rulesets = []
    for listed in await api.rulesets():
        if listed.target != "tag" or listed.enforcement != "active":
            continue
        if listed.id not in details:
            details[listed.id] = await api.ruleset(listed.id)
        full = details[listed.id]
        if full is not None:
            tag_rulesets.append(
                guard_rules.TagRuleset(
                    include=full.conditions.ref_name.include,
                    exclude=full.conditions.ref_name.exclude,
                    rules=frozenset(rule.type for rule in full.rules),
                    app_bypass=full.current_user_can_bypass,
                    active=full.enforcement == "active",
                )
            )
    return guard_rules.ProtectionFacts(
        app_id=ctx.services.github.app_id,
        merge_rules=config.checks.merge_rules,
        rc=rc,
        tag=config.names.tag(version, 0),
        tag_rulesets=tuple(tag_rulesets),
        production=production,
    )
