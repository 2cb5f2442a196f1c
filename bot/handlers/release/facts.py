"""Reading an RC's facts from GitHub: branch heads, tags, tracking issues, check results and pick states."""

from __future__ import annotations

import dataclasses
from typing import Any

import cachetools
import gidgethub

from bot.config import RepoConfig
from bot.github.repo import CheckRun
from bot.handlers.commands import CommandReply
from bot.handlers.context import Context
from bot.rules import cherry_pick as pick_rules
from bot.rules import release as rules
from bot.rules.names import label_names

REGRESSION_CHECK = "regression"


def web_url(ctx: Context, path: str) -> str:
    base = ((ctx.event.data or {}).get("repository") or {}).get("html_url") or ""
    return f"{base}{path}"


async def branch_head(ctx: Context, branch: str) -> str | None:
    try:
        answer = await ctx.gh.getitem("/repos/{owner}/{repo}/branches/{branch}", {**ctx.repo_vars, "branch": branch})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise
    return answer["commit"]["sha"]


async def rc_heads(ctx: Context, config: RepoConfig) -> dict[str, str]:
    """version -> head SHA of every RC branch."""
    heads: dict[str, str] = {}
    async for branch in ctx.gh.getiter("/repos/{owner}/{repo}/branches{?per_page}", {**ctx.repo_vars, "per_page": 100}):
        version = config.names.rc_version_of(branch["name"])
        if version:
            heads[version] = branch["commit"]["sha"]
    return heads


# A tag object never changes, so its peeled commit can be remembered for good.
_PEELED: cachetools.LRUCache[tuple[str, str], str] = cachetools.LRUCache(20000)


async def release_tags(ctx: Context, config: RepoConfig) -> tuple[rules.TagFact, ...]:
    """Tags that follow the release template, with the commit each points to (annotated tags peeled)."""
    refs = await ctx.gh.getitem("/repos/{owner}/{repo}/git/matching-refs/{+ref}", {**ctx.repo_vars, "ref": "tags/"})
    found = []
    for ref in refs:
        name = ref["ref"][len("refs/tags/") :]
        if config.names.parse_tag(name) is None:
            continue
        target = ref["object"]
        sha = target["sha"]
        if target.get("type") == "tag":
            key = (ctx.full_name, sha)
            if key not in _PEELED:
                tag_object = await ctx.gh.getitem(
                    "/repos/{owner}/{repo}/git/tags/{tag_sha}", {**ctx.repo_vars, "tag_sha": sha}
                )
                _PEELED[key] = tag_object["object"]["sha"]
            sha = _PEELED[key]
        found.append(rules.TagFact(name, sha))
    return tuple(found)


async def labeled_issues(ctx: Context, labels: list[str], state: str = "open") -> list[dict[str, Any]]:
    return [
        issue
        async for issue in ctx.gh.getiter(
            "/repos/{owner}/{repo}/issues{?labels,state,per_page}",
            {**ctx.repo_vars, "labels": ",".join(labels), "state": state, "per_page": 100},
        )
    ]


def item_ref(item: dict[str, Any]) -> rules.ItemRef:
    return rules.ItemRef(item["number"], item.get("title") or "", item.get("html_url") or "")


async def find_tracking_issue(ctx: Context, config: RepoConfig, version: str) -> dict[str, Any] | None:
    """The tracking issue of an RC: tracking label + RC label + the version in the bot's section, opened by the bot
    (a person's issue may carry a copy of the section)."""
    candidates = [
        issue
        for issue in await labeled_issues(ctx, [config.labels.tracking, config.names.rc_label(version)], state="all")
        if "pull_request" not in issue
        and (issue.get("user") or {}).get("login") == ctx.bot_login
        and (rules.read_state(issue.get("body")) or rules.TrackingState("")).version == version
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda issue: (issue["state"] != "open", issue["number"]))


def version_of_tracking(config: RepoConfig, issue: dict[str, Any]) -> str | None:
    state = rules.read_state(issue.get("body"))
    if state is not None:
        return state.version
    for name in label_names(issue):
        version = config.names.rc_version_of_label(name)
        if version:
            return version
    return None


async def check_results(ctx: Context, sha: str) -> tuple[tuple[CheckRun, ...], tuple[rules.CheckResult, ...]]:
    runs = await ctx.api.check_runs(sha)
    statuses = await ctx.api.statuses(sha)
    app_id = ctx.services.github.app_id
    results = [
        rules.CheckResult(
            name=run.name,
            kind="check_run",
            state=run.status or "queued",
            conclusion=run.conclusion,
            app_slug=run.app.slug if run.app else None,
            by_bot=run.app_id == app_id,
            at=run.completed_at or run.started_at or "",
            order=run.id,
            url=run.html_url or "",
        )
        for run in runs
    ]
    results += [
        rules.CheckResult(
            name=status.context,
            kind="status",
            state=status.state or "pending",
            at=status.updated_at or status.created_at or "",
            order=status.id,
            url=status.target_url or "",
        )
        for status in statuses
    ]
    return runs, tuple(results)


async def source_pick(
    ctx: Context, config: RepoConfig, version: str, issue: dict[str, Any], pick_pull: dict[str, Any] | None
) -> rules.SourcePick:
    """A PR labelled for this RC, with the state its cherry-pick check run records for this version.

    pick_pull: the PR from its pick branch into the RC, if the RC's PR listing has one.
    """
    merged = bool((issue.get("pull_request") or {}).get("merged_at"))
    pick = rules.SourcePick(
        item_ref(issue), merged, issue["state"] == "closed", config.labels.verified in label_names(issue)
    )
    if not merged:
        return pick  # nothing is picked before the merge, so there is no state to read
    if pick_pull is not None and (pick_pull.get("merged_at") or pick_pull["state"] == "open"):
        # The RC's own PR listing already says where the pick stands: no reads for settled picks.
        state = pick_rules.MERGED if pick_pull.get("merged_at") else pick_rules.OPENED
        return dataclasses.replace(pick, state=state, pick_pr=pick_pull["number"])
    # Both reads are conditional (the client's ETag cache), so an unchanged PR costs no rate limit.
    pull = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": issue["number"]}
    )
    try:
        run = await ctx.api.latest_check_run(pull["head"]["sha"], config.checks.cherry_pick)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) not in (404, 422):
            raise
        run = None  # the head commit is gone: nothing recorded that this RC can read
    recorded = pick_rules.decode_states(run.output.text if run else None).get(version)
    if recorded is None:
        return pick
    return dataclasses.replace(pick, state=recorded.state, pick_pr=recorded.pr)


def bot_run(ctx: Context, runs: tuple[CheckRun, ...], name: str) -> CheckRun | None:
    mine = [r for r in runs if r.name == name and r.app_id == ctx.services.github.app_id]
    return max(mine, key=lambda r: r.recency) if mine else None


async def is_on(ctx: Context, sha: str, branch: str) -> bool:
    try:
        answer = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/compare/{basehead}", {**ctx.repo_vars, "basehead": f"{sha}...{branch}"}
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) in (404, 422):
            return False
        raise
    return answer.get("status") in ("ahead", "identical")


async def tracking_context(ctx: Context, issue: dict[str, Any]) -> tuple[RepoConfig, str, str] | CommandReply:
    config = await ctx.config()
    version = version_of_tracking(config, issue)
    if version is None:
        return CommandReply(False, "I could not tell which RC this tracking issue belongs to (no RC label).")
    head = await branch_head(ctx, config.names.rc_branch(version))
    if head is None:
        return CommandReply(False, f"The RC branch `{config.names.rc_branch(version)}` does not exist.")
    return config, version, head


async def tracking_head(ctx: Context, issue: dict[str, Any]) -> tuple[str, str] | None:
    """The RC branch and head a tracking issue's command speaks of (None: the command says what is missing)."""
    found = await tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return None
    config, version, head = found
    return config.names.rc_branch(version), head
