"""The promotion gate: evaluate an RC, write its gate check and dashboard, and re-evaluate on the events that change it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.handlers.context import Context
from bot.handlers.release.facts import (
    REGRESSION_CHECK,
    bot_run,
    branch_head,
    check_results,
    find_tracking_issue,
    item_ref,
    labeled_issues,
    rc_heads,
    release_tags,
    source_pick,
    version_of_tracking,
    web_url,
)
from bot.rules import cherry_pick as pick_rules
from bot.rules import names
from bot.rules import release as rules
from bot.rules.names import label_names

router = routing.Router()


@dataclass
class Evaluation:
    version: str
    branch: str
    head_sha: str
    verdict: rules.GateVerdict
    tracking: dict[str, Any] | None
    state: rules.TrackingState
    tags: tuple[rules.TagFact, ...]


async def evaluate_gate(
    ctx: Context,
    config: RepoConfig,
    version: str,
    *,
    head_sha: str | None = None,
    tracking: dict[str, Any] | None = None,
    state: rules.TrackingState | None = None,
    heads: dict[str, str] | None = None,
) -> Evaluation | None:
    """Gather the gate's facts for an RC, post the gate check on its head and refresh the dashboard."""
    branch = config.names.rc_branch(version)
    head_sha = head_sha or await branch_head(ctx, branch)
    if head_sha is None:
        return None
    listed = tracking is None  # read just now, so its body is current
    if tracking is None:
        tracking = await find_tracking_issue(ctx, config, version)
    state = state or (rules.read_state(tracking.get("body")) if tracking else None) or rules.TrackingState(version)
    runs, results = await check_results(ctx, head_sha)
    signoff = bot_run(ctx, runs, config.checks.signoff)
    label = config.names.rc_label(version)
    blockers = [i for i in await labeled_issues(ctx, [config.labels.blocker, label]) if "pull_request" not in i]
    pulls = [
        pr
        async for pr in ctx.gh.getiter(
            "/repos/{owner}/{repo}/pulls{?base,state,per_page}",
            {**ctx.repo_vars, "base": branch, "state": "all", "per_page": 100},
        )
    ]
    target_label = config.names.target_label(version)
    # Each source's own per-target state: a pick that conflicts for another RC says nothing about this one.
    sources = [i for i in await labeled_issues(ctx, [target_label], state="all") if "pull_request" in i]
    by_head: dict[str, dict[str, Any]] = {}
    for pr in pulls:  # a pick branch's open or merged PR speaks for it, not an older closed one
        ref = (pr.get("head") or {}).get("ref") or ""
        if ref not in by_head or not (by_head[ref].get("merged_at") or by_head[ref]["state"] == "open"):
            by_head[ref] = pr
    source_picks = tuple(
        [
            await source_pick(ctx, config, version, i, by_head.get(names.pick_branch(i["number"], branch)))
            for i in sources
        ]
    )
    hold = None
    if tracking is not None:
        # Only /unhold clears a hold: a label removed by hand does not release it, and comes back.
        hold_labeled = config.labels.hold in label_names(tracking)
        if state.hold_reason is not None and not hold_labeled:
            await ctx.api.add_labels(tracking["number"], [config.labels.hold])
        if state.hold_reason is not None or hold_labeled:
            hold = state.hold_reason or f"the `{config.labels.hold}` label is set"
    tracking_url = (tracking or {}).get("html_url", "")
    facts = rules.GateFacts(
        version=version,
        branch=branch,
        head_sha=head_sha,
        required_checks=config.gate.required_checks,
        results=results,
        blockers=tuple(item_ref(i) for i in blockers),
        open_picks=tuple(item_ref(pr) for pr in pulls if pr["state"] == "open"),
        source_picks=source_picks,
        hold=hold,
        require_signoff=config.gate.require_signoff,
        runs_only=frozenset({REGRESSION_CHECK}),
        signoff_by=(signoff.external_id or "PdM") if signoff and signoff.conclusion == "success" else None,
        links={
            "blockers": web_url(ctx, f"/issues?q=is%3Aopen+label%3A{config.labels.blocker}"),
            "picks": web_url(ctx, f"/pulls?q=base%3A{branch}"),
            "tracking": tracking_url,
        },
    )
    verdict = rules.gate_verdict(facts)
    status, conclusion, title, summary = rules.gate_check_output(verdict, branch)
    # One gate check per commit: when a newer RC sits on the same commit (just cut), the newest owns it.
    sharing = [v for v, sha in (heads if heads is not None else await rc_heads(ctx, config)).items() if sha == head_sha]
    if not sharing or max(sharing, key=names.version_key) == version:
        await ctx.api.ensure_check_run(
            name=config.checks.gate,
            head_sha=head_sha,
            status=status,
            conclusion=conclusion,
            title=title,
            summary=summary,
            existing=bot_run(ctx, runs, config.checks.gate),
            existing_known=True,
            update_completed=True,
        )
    tags = await release_tags(ctx, config)
    evaluation = Evaluation(version, branch, head_sha, verdict, tracking, state, tags)
    if tracking is not None:
        picks = rules.pick_rows(
            [
                rules.PickRow(
                    pr["number"],
                    pr.get("title") or "",
                    "merged" if pr.get("merged_at") else pr["state"],
                    pr.get("html_url") or "",
                )
                for pr in pulls
            ],
            source_picks,
        )
        released = tuple(t.name for t in tags if config.names.tag_version(t.name) == version)
        section = rules.dashboard(
            rules.DashboardFacts(
                state,
                branch,
                head_sha,
                web_url(ctx, f"/commit/{head_sha}"),
                verdict,
                facts.blockers,
                tuple(picks),
                released,
            )
        )
        await _write_dashboard(ctx, tracking, section, listed=listed)
    return evaluation


async def _write_dashboard(ctx: Context, tracking: dict[str, Any], section: str, *, listed: bool = False) -> None:
    # The body must be current, so people's latest edits outside the section survive.
    fresh = (
        tracking
        if listed
        else await ctx.gh.getitem(
            "/repos/{owner}/{repo}/issues/{issue_number}", {**ctx.repo_vars, "issue_number": tracking["number"]}
        )
    )
    body = rules.splice_dashboard(fresh.get("body"), section)
    if body != (fresh.get("body") or ""):
        await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}",
            {**ctx.repo_vars, "issue_number": tracking["number"]},
            data={"body": body},
        )
    tracking["body"] = body


async def _open_versions(ctx: Context, config: RepoConfig) -> list[str]:
    versions = []
    for issue in await labeled_issues(ctx, [config.labels.tracking]):
        version = version_of_tracking(config, issue)
        if version and "pull_request" not in issue:
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
    if event.data.get("deleted"):
        return
    config = await ctx.config()
    version = config.names.rc_version_of(event.data.get("ref", ""))
    if version:
        await evaluate_gate(ctx, config, version, head_sha=event.data["after"])


@router.register("status")
async def on_status(event: Event, ctx: Context) -> None:
    config = await ctx.config()
    hints = [b["name"] for b in event.data["branches"]] if "branches" in event.data else None
    await _gates_at(ctx, config, event.data["sha"], hints)


@router.register("check_run", action="completed")
async def on_check_run(event: Event, ctx: Context) -> None:
    run = event.data["check_run"]
    config = await ctx.config()
    if (run.get("app") or {}).get("id") == ctx.services.github.app_id:
        # The gate's own output, and runs whose step re-evaluated already (regression, sign-off), are
        # skipped; a source PR's cherry-pick run changes the gates of the RCs it names.
        if run.get("name") == config.checks.cherry_pick:
            versions = pick_rules.decode_states((run.get("output") or {}).get("text"))
            heads = await rc_heads(ctx, config) if versions else {}
            for version in sorted(v for v in versions if v in heads):
                await evaluate_gate(ctx, config, version, head_sha=heads[version], heads=heads)
        return
    # A suite's head_branch names one branch of many that may hold the commit, so read the RC heads.
    await _gates_at(ctx, config, run["head_sha"])


@router.register("check_suite", action="completed")
async def on_check_suite(event: Event, ctx: Context) -> None:
    suite = event.data["check_suite"]
    if (suite.get("app") or {}).get("id") == ctx.services.github.app_id:
        return  # the bot's own runs (gate, sign-off, regression): the step that made them re-evaluated
    config = await ctx.config()
    await _gates_at(ctx, config, suite["head_sha"])


async def on_issue_change(event: Event, ctx: Context) -> None:
    if ctx.is_bot((event.data.get("sender") or {}).get("login")):
        return  # tracking issues, holds and regression bugs: the command that changed them re-evaluated
    issue = event.data["issue"]
    config = await ctx.config()
    labels = set(label_names(issue))
    changed = (event.data.get("label") or {}).get("name")
    if changed:
        labels.add(changed)
    if not labels & {config.labels.blocker, config.labels.tracking, config.labels.hold} and not (
        changed and config.names.rc_version_of_label(changed)
    ):
        return
    versions = {v for v in (config.names.rc_version_of_label(n) for n in labels) if v}
    for version in names.sorted_versions(versions):
        await evaluate_gate(ctx, config, version)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled"):
    router.add(on_issue_change, "issues", action=_action)


async def on_pull_request(event: Event, ctx: Context) -> None:
    pr = event.data["pull_request"]
    config = await ctx.config()
    versions = set()
    base_version = config.names.rc_version_of(pr["base"]["ref"])
    if base_version and event.data["action"] in ("opened", "closed", "reopened"):
        versions.add(base_version)
    if event.data["action"] in ("labeled", "unlabeled", "closed"):
        labels = {*label_names(pr), (event.data.get("label") or {}).get("name") or ""}
        targets = set(config.names.targets_of(labels))
        changed = (event.data.get("label") or {}).get("name")
        # QA's verified label and the conflict label reach the gate through the source's cherry-pick
        # check run, which records what they changed for each target.
        if event.data["action"] == "closed" or (changed and config.names.target_version_of(changed)):
            versions |= targets
    heads = await rc_heads(ctx, config) if versions else {}
    for version in names.sorted_versions(versions):
        if version in heads:
            await evaluate_gate(ctx, config, version, head_sha=heads[version], heads=heads)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled"):
    router.add(on_pull_request, "pull_request", action=_action)
