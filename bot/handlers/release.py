"""The RC lifecycle: /cut-rc, the promotion gate, regression, sign-off, holds and /promote."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any

import cachetools
import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot import reconcile
from bot.config import RepoConfig, rc_branch_name, rc_label, rc_version_of, rc_version_of_label, target_version_of_label
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.rules import cherry_pick as pick_rules
from bot.rules import release as rules
from bot.rules.commands import Command
from bot.rules.text import inline, marker, no_pings, plain_line, quoted

log = logging.getLogger("release_train.release")

router = routing.Router()
commands = CommandSet()

REGRESSION_CHECK = "regression"
_FORWARD_PORT_DIFF_BUDGET = 40  # commits whose diff we fetch to find "the same change"
_SUBJECT_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(#\d+\)")


# reading GitHub ------------------------------------------------------------------------------
def _html(ctx: Context, path: str) -> str:
    base = ((ctx.event.data or {}).get("repository") or {}).get("html_url") or ""
    return f"{base}{path}"


async def _branch_head(ctx: Context, branch: str) -> str | None:
    try:
        answer = await ctx.gh.getitem("/repos/{owner}/{repo}/branches/{branch}", {**ctx.repo_vars, "branch": branch})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise
    return answer["commit"]["sha"]


async def _rc_heads(ctx: Context, config: RepoConfig) -> dict[str, str]:
    """version -> head SHA of every RC branch."""
    heads: dict[str, str] = {}
    async for branch in ctx.gh.getiter("/repos/{owner}/{repo}/branches{?per_page}", {**ctx.repo_vars, "per_page": 100}):
        version = rc_version_of(config, branch["name"])
        if version:
            heads[version] = branch["commit"]["sha"]
    return heads


# A tag object never changes, so its peeled commit can be remembered for good.
_PEELED: cachetools.LRUCache[tuple[str, str], str] = cachetools.LRUCache(20000)


async def _tags(ctx: Context, config: RepoConfig) -> tuple[rules.TagFact, ...]:
    """Tags that follow the release template, with the commit each points to (annotated tags peeled)."""
    refs = await ctx.gh.getitem("/repos/{owner}/{repo}/git/matching-refs/{+ref}", {**ctx.repo_vars, "ref": "tags/"})
    found = []
    for ref in refs:
        name = ref["ref"][len("refs/tags/") :]
        if not rules.parse_tag(config.release.tag, name):
            continue
        target = ref["object"]
        sha = target["sha"]
        if target.get("type") == "tag":
            key = (ctx.full_name, sha)
            if key not in _PEELED:
                tag_object = await ctx.gh.getitem("/repos/{owner}/{repo}/git/tags/{tag_sha}", {**ctx.repo_vars, "tag_sha": sha})
                _PEELED[key] = tag_object["object"]["sha"]
            sha = _PEELED[key]
        found.append(rules.TagFact(name, sha))
    return tuple(found)


async def _issues(ctx: Context, labels: list[str], state: str = "open") -> list[dict[str, Any]]:
    return [
        issue
        async for issue in ctx.gh.getiter(
            "/repos/{owner}/{repo}/issues{?labels,state,per_page}",
            {**ctx.repo_vars, "labels": ",".join(labels), "state": state, "per_page": 100},
        )
    ]


def _labels(issue: dict[str, Any]) -> set[str]:
    return {(label["name"] if isinstance(label, dict) else str(label)) for label in issue.get("labels") or []}


def _ref(item: dict[str, Any]) -> rules.ItemRef:
    return rules.ItemRef(item["number"], item.get("title") or "", item.get("html_url") or "")


async def find_tracking_issue(ctx: Context, config: RepoConfig, version: str) -> dict[str, Any] | None:
    """The tracking issue of an RC: tracking label + RC label + the version in the bot's section, opened by the bot
    (a person's issue may carry a copy of the section)."""
    candidates = [
        issue
        for issue in await _issues(ctx, [config.labels.tracking, rc_label(config, version)], state="all")
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
    for name in _labels(issue):
        version = rc_version_of_label(config, name)
        if version:
            return version
    return None


async def _check_results(ctx: Context, sha: str) -> tuple[list[dict[str, Any]], tuple[rules.CheckResult, ...]]:
    runs_answer = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/check-runs{?per_page}", {**ctx.repo_vars, "ref": sha, "per_page": 100}
    )
    runs = runs_answer.get("check_runs", [])
    statuses = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/statuses{?per_page}", {**ctx.repo_vars, "ref": sha, "per_page": 100}
    )
    app_id = ctx.services.github.app_id
    results = [
        rules.CheckResult(
            name=run["name"],
            kind="check_run",
            state=run.get("status") or "queued",
            conclusion=run.get("conclusion"),
            app_slug=(run.get("app") or {}).get("slug"),
            by_bot=(run.get("app") or {}).get("id") == app_id,
            at=run.get("completed_at") or run.get("started_at") or "",
            order=int(run.get("id") or 0),
            url=run.get("html_url") or "",
        )
        for run in runs
    ]
    results += [
        rules.CheckResult(
            name=status["context"],
            kind="status",
            state=status.get("state") or "pending",
            at=status.get("updated_at") or status.get("created_at") or "",
            order=int(status.get("id") or 0),
            url=status.get("target_url") or "",
        )
        for status in statuses
    ]
    return runs, tuple(results)


async def _source_pick(
    ctx: Context, config: RepoConfig, version: str, issue: dict[str, Any], pick_pull: dict[str, Any] | None
) -> rules.SourcePick:
    """A PR labelled for this RC, with the state its cherry-pick check run records for this version.

    pick_pull: the PR from its pick branch into the RC, if the RC's PR listing has one.
    """
    merged = bool((issue.get("pull_request") or {}).get("merged_at"))
    pick = rules.SourcePick(_ref(issue), merged, issue["state"] == "closed", config.labels.verified in _labels(issue))
    if not merged:
        return pick  # nothing is picked before the merge, so there is no state to read
    if pick_pull is not None and (pick_pull.get("merged_at") or pick_pull["state"] == "open"):
        # The RC's own PR listing already says where the pick stands: no reads for settled picks.
        state = pick_rules.MERGED if pick_pull.get("merged_at") else pick_rules.OPENED
        return dataclasses.replace(pick, state=state, pick_pr=pick_pull["number"])
    # Both reads are conditional (the client's ETag cache), so an unchanged PR costs no rate limit.
    pull = await ctx.gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": issue["number"]})
    try:
        run = await reconcile.latest_check_run(ctx, pull["head"]["sha"], config.checks.cherry_pick)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) not in (404, 422):
            raise
        run = None  # the head commit is gone: nothing recorded that this RC can read
    recorded = pick_rules.decode_states(((run or {}).get("output") or {}).get("text")).get(version)
    if recorded is None:
        return pick
    return dataclasses.replace(pick, state=recorded.state, pick_pr=recorded.pr)


def _bot_run(ctx: Context, runs: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    mine = [r for r in runs if r["name"] == name and (r.get("app") or {}).get("id") == ctx.services.github.app_id]
    return max(mine, key=lambda r: (r.get("started_at") or "", r.get("id") or 0)) if mine else None


# the gate ------------------------------------------------------------------------------------
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
    branch = rc_branch_name(config, version)
    head_sha = head_sha or await _branch_head(ctx, branch)
    if head_sha is None:
        return None
    listed = tracking is None  # read just now, so its body is current
    if tracking is None:
        tracking = await find_tracking_issue(ctx, config, version)
    state = state or (rules.read_state(tracking.get("body")) if tracking else None) or rules.TrackingState(version)
    runs, results = await _check_results(ctx, head_sha)
    signoff = _bot_run(ctx, runs, config.checks.signoff)
    label = rc_label(config, version)
    blockers = [i for i in await _issues(ctx, [config.labels.blocker, label]) if "pull_request" not in i]
    pulls = [
        pr
        async for pr in ctx.gh.getiter(
            "/repos/{owner}/{repo}/pulls{?base,state,per_page}", {**ctx.repo_vars, "base": branch, "state": "all", "per_page": 100}
        )
    ]
    target_label = f"{config.labels.cherry_pick_prefix}{version}"
    # Each source's own per-target state: a pick that conflicts for another RC says nothing about this one.
    sources = [i for i in await _issues(ctx, [target_label], state="all") if "pull_request" in i]
    by_head: dict[str, dict[str, Any]] = {}
    for pr in pulls:  # a pick branch's open or merged PR speaks for it, not an older closed one
        ref = (pr.get("head") or {}).get("ref") or ""
        if ref not in by_head or not (by_head[ref].get("merged_at") or by_head[ref]["state"] == "open"):
            by_head[ref] = pr
    source_picks = tuple(
        [await _source_pick(ctx, config, version, i, by_head.get(pick_rules.pick_branch(i["number"], branch))) for i in sources]
    )
    hold = None
    if tracking is not None:
        # Only /unhold clears a hold: a label removed by hand does not release it, and comes back.
        hold_labeled = config.labels.hold in _labels(tracking)
        if state.hold_reason is not None and not hold_labeled:
            await reconcile.add_labels(ctx, tracking["number"], [config.labels.hold])
        if state.hold_reason is not None or hold_labeled:
            hold = state.hold_reason or f"the `{config.labels.hold}` label is set"
    tracking_url = (tracking or {}).get("html_url", "")
    facts = rules.GateFacts(
        version=version,
        branch=branch,
        head_sha=head_sha,
        required_checks=config.gate.required_checks,
        results=results,
        blockers=tuple(_ref(i) for i in blockers),
        open_picks=tuple(_ref(pr) for pr in pulls if pr["state"] == "open"),
        source_picks=source_picks,
        hold=hold,
        require_signoff=config.gate.require_signoff,
        runs_only=frozenset({REGRESSION_CHECK}),
        signoff_by=(signoff.get("external_id") or "PdM") if signoff and signoff.get("conclusion") == "success" else None,
        links={
            "blockers": _html(ctx, f"/issues?q=is%3Aopen+label%3A{config.labels.blocker}"),
            "picks": _html(ctx, f"/pulls?q=base%3A{branch}"),
            "tracking": tracking_url,
        },
    )
    verdict = rules.gate_verdict(facts)
    status, conclusion, title, summary = rules.gate_check_output(verdict, branch)
    # One gate check per commit: when a newer RC sits on the same commit (just cut), the newest owns it.
    sharing = [v for v, sha in (heads if heads is not None else await _rc_heads(ctx, config)).items() if sha == head_sha]
    if not sharing or max(sharing, key=lambda v: rules.parse_version(v) or (0, 0)) == version:
        await reconcile.ensure_check_run(
            ctx, name=config.checks.gate, head_sha=head_sha, status=status, conclusion=conclusion, title=title, summary=summary,
            existing=_bot_run(ctx, runs, config.checks.gate), existing_known=True, update_completed=True,
        )
    tags = await _tags(ctx, config)
    evaluation = Evaluation(version, branch, head_sha, verdict, tracking, state, tags)
    if tracking is not None:
        picks = rules.pick_rows(
            [
                rules.PickRow(pr["number"], pr.get("title") or "", "merged" if pr.get("merged_at") else pr["state"], pr.get("html_url") or "")
                for pr in pulls
            ],
            source_picks,
        )
        released = tuple(t.name for t in tags if (rules.parse_tag(config.release.tag, t.name) or ("",))[0] == version)
        section = rules.dashboard(
            rules.DashboardFacts(
                state, branch, head_sha, _html(ctx, f"/commit/{head_sha}"), verdict, facts.blockers, tuple(picks), released
            )
        )
        await _write_dashboard(ctx, tracking, section, listed=listed)
    return evaluation


async def _write_dashboard(ctx: Context, tracking: dict[str, Any], section: str, *, listed: bool = False) -> None:
    # The body must be current, so people's latest edits outside the section survive.
    fresh = tracking if listed else await ctx.gh.getitem(
        "/repos/{owner}/{repo}/issues/{issue_number}", {**ctx.repo_vars, "issue_number": tracking["number"]}
    )
    body = rules.splice_dashboard(fresh.get("body"), section)
    if body != (fresh.get("body") or ""):
        await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}", {**ctx.repo_vars, "issue_number": tracking["number"]}, data={"body": body}
        )
    tracking["body"] = body


async def _open_versions(ctx: Context, config: RepoConfig) -> list[str]:
    versions = []
    for issue in await _issues(ctx, [config.labels.tracking]):
        version = version_of_tracking(config, issue)
        if version and "pull_request" not in issue:
            versions.append(version)
    return sorted(set(versions), key=lambda v: rules.parse_version(v) or (0, 0))


async def sweep(ctx: Context) -> None:
    """Re-evaluate the gate of every RC whose tracking issue is open (for the periodic sweep)."""
    config = await ctx.config()
    for version in await _open_versions(ctx, config):
        await evaluate_gate(ctx, config, version)


async def _gates_at(ctx: Context, config: RepoConfig, sha: str, branch_hints: list[str] | None = None) -> None:
    """Re-evaluate the gate of every RC whose head is sha."""
    if branch_hints is not None:  # a status lists every branch whose head it is on
        if not any(rc_version_of(config, b) for b in branch_hints):
            return
    heads = await _rc_heads(ctx, config)
    for version, head in sorted(heads.items()):
        if head == sha:
            await evaluate_gate(ctx, config, version, head_sha=sha, heads=heads)


@router.register("push")
async def on_push(event: Event, ctx: Context) -> None:
    if event.data.get("deleted"):
        return
    config = await ctx.config()
    version = rc_version_of(config, event.data.get("ref", ""))
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
            heads = await _rc_heads(ctx, config) if versions else {}
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
    names = _labels(issue)
    changed = (event.data.get("label") or {}).get("name")
    if changed:
        names.add(changed)
    if not names & {config.labels.blocker, config.labels.tracking, config.labels.hold} and not (
        changed and rc_version_of_label(config, changed)
    ):
        return
    versions = {v for v in (rc_version_of_label(config, n) for n in names) if v}
    for version in sorted(versions):
        await evaluate_gate(ctx, config, version)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled"):
    router.add(on_issue_change, "issues", action=_action)


async def on_pull_request(event: Event, ctx: Context) -> None:
    pr = event.data["pull_request"]
    config = await ctx.config()
    versions = set()
    base_version = rc_version_of(config, pr["base"]["ref"])
    if base_version and event.data["action"] in ("opened", "closed", "reopened"):
        versions.add(base_version)
    if event.data["action"] in ("labeled", "unlabeled", "closed"):
        names = _labels(pr) | {(event.data.get("label") or {}).get("name") or ""}
        targets = {v for v in (target_version_of_label(config, n) for n in names) if v}
        changed = (event.data.get("label") or {}).get("name")
        # QA's verified label and the conflict label reach the gate through the source's cherry-pick
        # check run, which records what they changed for each target.
        if event.data["action"] == "closed" or (changed and target_version_of_label(config, changed)):
            versions |= targets
    heads = await _rc_heads(ctx, config) if versions else {}
    for version in sorted(versions):
        if version in heads:
            await evaluate_gate(ctx, config, version, head_sha=heads[version], heads=heads)


for _action in ("opened", "closed", "reopened", "labeled", "unlabeled"):
    router.add(on_pull_request, "pull_request", action=_action)


# /cut-rc -------------------------------------------------------------------------------------
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
        elif rules.parse_version(word) and version is None:
            version = word
        else:
            unknown.append(word)
    return CutArgs(version, force, dry_run, tuple(unknown))


async def _commit_facts(ctx: Context, basehead: str) -> tuple[rules.CommitFact, ...]:
    """The commits head has and base lacks (compare answers page by page beyond 250 commits)."""
    return tuple(
        [
            rules.CommitFact(c["sha"], c["commit"]["message"], len(c.get("parents") or []) or 1, None, c.get("html_url") or "")
            async for c in ctx.gh.getiter(
                "/repos/{owner}/{repo}/compare/{basehead}{?per_page}",
                {**ctx.repo_vars, "basehead": basehead, "per_page": 100},
                iterable_key="commits",
            )
        ]
    )


async def _change_id(ctx: Context, sha: str) -> str:
    answer = await ctx.gh.getitem("/repos/{owner}/{repo}/commits/{ref}", {**ctx.repo_vars, "ref": sha})
    return rules.same_change_id((f["filename"], f.get("patch")) for f in answer.get("files") or [])


async def _is_on(ctx: Context, sha: str, branch: str) -> bool:
    try:
        answer = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/compare/{basehead}", {**ctx.repo_vars, "basehead": f"{sha}...{branch}"}
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) in (404, 422):
            return False
        raise
    return answer.get("status") in ("ahead", "identical")


def _subject_key(message: str) -> str:
    return _SUBJECT_NOISE.sub("", message.split("\n", 1)[0]).strip().lower()


async def forward_port_check(ctx: Context, config: RepoConfig, heads: dict[str, str], tags: tuple[rules.TagFact, ...]) -> tuple[rules.Gap, ...]:
    """Commits on the RC lines still in use that devel lacks, with no equivalent on devel."""
    devel = config.branches.devel
    promoted: dict[str, tuple[int, str]] = {}
    for tag in tags:
        parsed = rules.parse_tag(config.release.tag, tag.name)
        if parsed and parsed[1] >= promoted.get(parsed[0], (-1, ""))[0]:
            promoted[parsed[0]] = (parsed[1], tag.sha)
    bare = [
        rules.RcLine(v, rc_branch_name(config, v), sha, promoted.get(v, (0, None))[1]) for v, sha in heads.items()
    ]
    in_use = rules.lines_in_use(bare)
    if not in_use:
        return ()
    lines = [dataclasses.replace(line, missing_from_devel=await _commit_facts(ctx, f"{devel}...{line.branch}")) for line in in_use]
    devel_commits: dict[str, rules.CommitFact] = {}
    for line in lines:
        for commit in await _commit_facts(ctx, f"{line.branch}...{devel}"):
            devel_commits[commit.sha] = commit
    gaps = rules.forward_port_gaps(lines, devel_commits.values())
    if not gaps:
        return ()
    # Cherry-pick trailers that name commits older than the compared range.
    known: set[str] = set()
    for gap in gaps[:20]:
        for source in rules.picked_from(gap.commit.message):
            if await _is_on(ctx, source, devel):
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
                dataclasses.replace(c, change_id=change_ids[c.sha]) if c.sha in change_ids else c for c in line.missing_from_devel
            ),
        )
        for line in lines
    ]
    return rules.forward_port_gaps(lines, devel_commits.values(), frozenset(known))


async def _not_in_rc(ctx: Context, config: RepoConfig, version: str) -> list[dict[str, Any]]:
    """Open PRs aimed at this release (the RC label or a milestone named after the version)."""
    found = {i["number"]: i for i in await _issues(ctx, [rc_label(config, version)]) if "pull_request" in i}
    try:
        async for milestone in ctx.gh.getiter("/repos/{owner}/{repo}/milestones{?state,per_page}", {**ctx.repo_vars, "state": "open", "per_page": 100}):
            if re.search(rf"(?<![\d.]){re.escape(version)}(?![\d])", milestone.get("title") or ""):
                async for issue in ctx.gh.getiter(
                    "/repos/{owner}/{repo}/issues{?milestone,state,per_page}",
                    {**ctx.repo_vars, "milestone": str(milestone["number"]), "state": "open", "per_page": 100},
                ):
                    if "pull_request" in issue:
                        found[issue["number"]] = issue
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:
            raise
    return sorted(found.values(), key=lambda i: i["number"])


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
        return CommandReply(False, f"I did not understand {inline(' '.join(args.unknown))}. Usage: `/cut-rc [X.Y] [--force] [--dry-run]`.")
    heads = await _rc_heads(ctx, config)
    tags = await _tags(ctx, config)
    version = args.version or rules.next_version(heads, [(rules.parse_tag(config.release.tag, t.name) or ("",))[0] for t in tags])
    branch = rc_branch_name(config, version)
    tracking = await find_tracking_issue(ctx, config, version)
    if version in heads:
        state = rules.read_state(tracking.get("body")) if tracking else None
        if tracking is not None and state is not None and state.cut_complete:
            return CommandReply(
                False, f"`{branch}` already exists (tracking issue #{tracking['number']}). Nothing was changed."
            )
        if args.dry_run:
            return CommandReply(True, f"Dry run: `{branch}` exists but its cut was interrupted; `/cut-rc {version}` would finish it.")
        return await _finish_cut(ctx, config, version, heads[version], tracking, login, forced=False, not_in_rc=[], resumed=True)
    devel_sha = await _branch_head(ctx, config.branches.devel)
    if devel_sha is None:
        return CommandReply(False, f"The devel branch `{config.branches.devel}` does not exist, so there is nothing to cut.")
    gaps = await forward_port_check(ctx, config, heads, tags)
    not_in_rc = await _not_in_rc(ctx, config, version)
    not_in_rc_text = (
        "\n\nNot in this RC (still open, aimed at this release): " + ", ".join(f"#{i['number']} {inline(i.get('title') or '', 80)}" for i in not_in_rc)
        if not_in_rc
        else ""
    )
    if args.dry_run:
        plan = [
            f"Dry run, nothing changed. `/cut-rc {version}` would:",
            f"- create `{branch}` at `{config.branches.devel}`'s head `{devel_sha[:7]}`",
            f"- open the tracking issue \"{inline(_fill(config.release.tracking_title, version, devel_sha))}\"",
        ]
        plan += [f"- dispatch `{inline(w.workflow)}` on `{_fill(w.ref, version, devel_sha) if w.ref else branch}`" for w in config.release.on_rc_created]
        plan.append(f"- post `{config.checks.gate}` on `{devel_sha[:7]}`")
        if gaps:
            plan.append(f"\nIt would refuse{' (unless --force)' if not args.force else ' but --force cuts anyway'}: changes missing from `{config.branches.devel}`:\n" + rules.gap_report(gaps, config.branches.devel))
        return CommandReply(True, "\n".join(plan) + not_in_rc_text)
    if gaps and not args.force:
        return CommandReply(
            False,
            f"I did not cut `{branch}`: these changes on RC branches still in use are missing from `{config.branches.devel}`:\n\n"
            + rules.gap_report(gaps, config.branches.devel)
            + not_in_rc_text,
        )
    try:
        await ctx.gh.post(
            "/repos/{owner}/{repo}/git/refs", ctx.repo_vars, data={"ref": f"refs/heads/{branch}", "sha": devel_sha}
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
        # Someone (or an earlier attempt of this job) made it meanwhile; adopt the branch as it is.
        devel_sha = await _branch_head(ctx, branch) or devel_sha
    reply = await _finish_cut(ctx, config, version, devel_sha, tracking, login, forced=bool(gaps), not_in_rc=not_in_rc, resumed=False)
    if gaps:
        reply = CommandReply(reply.ok, reply.message + f"\n\nCut forced by @{login} despite {len(gaps)} missing forward-port(s):\n" + rules.gap_report(gaps, config.branches.devel, forced=True))
    return CommandReply(reply.ok, reply.message + not_in_rc_text)


async def _finish_cut(
    ctx: Context,
    config: RepoConfig,
    version: str,
    sha: str,
    tracking: dict[str, Any] | None,
    login: str,
    *,
    forced: bool,
    not_in_rc: list[dict[str, Any]],
    resumed: bool,
) -> CommandReply:
    """The cut's steps after the branch exists; each one checks whether it is already done."""
    branch = rc_branch_name(config, version)
    fresh = rules.TrackingState(version, forced_by=login if forced else None, not_in_rc=tuple(i["number"] for i in not_in_rc))
    # A fresh cut of a version cut before (its branch deleted since) starts the old issue over.
    state = fresh if not resumed else (rules.read_state(tracking.get("body")) if tracking else None) or fresh
    if tracking is not None and not resumed and tracking.get("state") != "open":
        tracking = await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}", {**ctx.repo_vars, "issue_number": tracking["number"]}, data={"state": "open"}
        )
    if tracking is None:
        body = rules.splice_dashboard(
            f"Release {version}: RC branch `{branch}`, cut by @{login}.",
            f"<!-- release-train:state {state.to_json()} -->\nPreparing the dashboard…",
        )
        tracking = await ctx.gh.post(
            "/repos/{owner}/{repo}/issues",
            ctx.repo_vars,
            data={
                "title": _fill(config.release.tracking_title, version, sha),
                "body": body,
                "labels": [config.labels.tracking, rc_label(config, version)],
            },
        )
    number = tracking["number"]
    notes: list[str] = []
    dispatched = list(state.dispatched)
    for dispatch in config.release.on_rc_created:
        if dispatch.workflow in dispatched:
            continue
        ref = _fill(dispatch.ref, version, sha) if dispatch.ref else branch
        inputs = {key: _fill(value, version, sha) for key, value in dispatch.inputs}
        try:
            await ctx.gh.post(
                "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
                {**ctx.repo_vars, "workflow_id": dispatch.workflow},
                data={"ref": ref, "inputs": inputs},
            )
            notes.append(f"dispatched `{inline(dispatch.workflow)}` on `{ref}`")
        except gidgethub.BadRequest as exc:
            answer = inline(str(exc) or f"HTTP {int(exc.status_code)}", 500)
            errors = getattr(exc, "errors", None)
            if errors:
                answer += " " + inline(str(errors), 300)
            await reconcile.post_once(
                ctx,
                number,
                f"dispatch:{version}:{dispatch.workflow}",
                f"⚠️ GitHub refused to dispatch workflow `{inline(dispatch.workflow)}` on `{ref}` "
                f"(HTTP {int(exc.status_code)}): {answer}\n\nFix the workflow or `release.on_rc_created`, then run it by hand.",
            )
            notes.append(f"GitHub refused `{inline(dispatch.workflow)}` (see the comment on #{number})")
        dispatched.append(dispatch.workflow)
    state = dataclasses.replace(state, dispatched=tuple(dispatched), cut_complete=True)
    await evaluate_gate(ctx, config, version, head_sha=sha, tracking=tracking, state=state)
    closed = await _close_previous(ctx, config, version, number)
    lines = [
        f"{'Finished the interrupted cut of' if resumed else 'Cut'} `{branch}` at `{sha[:7]}`; tracking issue #{number}.",
        *(f"- {note}" for note in notes),
        f"- posted `{config.checks.gate}` on `{sha[:7]}`",
    ]
    if closed:
        lines.append(f"- closed the previous tracking issue #{closed}")
    return CommandReply(True, "\n".join(lines))


async def _close_previous(ctx: Context, config: RepoConfig, version: str, number: int) -> int | None:
    here = rules.parse_version(version) or (0, 0)
    older = []
    for issue in await _issues(ctx, [config.labels.tracking]):
        other = version_of_tracking(config, issue)
        if issue["number"] != number and other and (rules.parse_version(other) or (0, 0)) < here and "pull_request" not in issue:
            older.append((rules.parse_version(other), issue))
    if not older:
        return None
    _, previous = max(older, key=lambda pair: pair[0])
    await reconcile.post_once(ctx, previous["number"], f"superseded:{version}", f"Release {version} was cut (#{number}); closing this tracking issue.")
    await ctx.gh.patch(
        "/repos/{owner}/{repo}/issues/{issue_number}",
        {**ctx.repo_vars, "issue_number": previous["number"]},
        data={"state": "closed", "state_reason": "completed"},
    )
    return previous["number"]


# commands on the tracking issue --------------------------------------------------------------
async def _tracking_context(ctx: Context, issue: dict[str, Any]) -> tuple[RepoConfig, str, str] | CommandReply:
    config = await ctx.config()
    version = version_of_tracking(config, issue)
    if version is None:
        return CommandReply(False, "I could not tell which RC this tracking issue belongs to (no RC label).")
    head = await _branch_head(ctx, rc_branch_name(config, version))
    if head is None:
        return CommandReply(False, f"The RC branch `{rc_branch_name(config, version)}` does not exist.")
    return config, version, head


@commands.command(
    "regression",
    roles=("qa",),
    usage="/regression pass | /regression fail <summary>",
    summary="record QA's regression result on the RC head; a failure opens a blocker bug",
    where="tracking",
)
async def regression(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    verb = cmd.args[0].lower() if cmd.args else ""
    if verb not in ("pass", "fail"):
        return CommandReply(False, "Usage: `/regression pass` or `/regression fail <summary>`.")
    summary_text = cmd.text[len(cmd.args[0]) :].strip() if verb == "fail" else ""
    if verb == "fail" and not summary_text:
        return CommandReply(False, "Say what failed: `/regression fail <summary>`.")
    found = await _tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    login = comment["user"]["login"]
    short = head[:7]
    if verb == "pass":
        await reconcile.ensure_check_run(
            ctx, name=REGRESSION_CHECK, head_sha=head, status="completed", conclusion="success",
            title=f"Regression passed (QA: @{login})",
            summary=f"Recorded by `/regression pass` from @{login} on #{issue['number']} for `{short}`.",
        )
        message = f"Recorded regression **passed** on `{rc_branch_name(config, version)}` at `{short}`."
    else:
        bug = await _regression_bug(ctx, config, version, head, issue, comment, summary_text)
        await reconcile.ensure_check_run(
            ctx, name=REGRESSION_CHECK, head_sha=head, status="completed", conclusion="failure",
            title=f"Regression failed: {plain_line(summary_text, 120)}",
            summary=f"Recorded by `/regression fail` from @{login} on #{issue['number']} for `{short}`; bug #{bug['number']}.",
        )
        message = f"Recorded regression **failed** at `{short}` and opened blocker bug #{bug['number']}."
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue)
    return CommandReply(verb == "pass", message + _gate_line(evaluation))


async def _regression_bug(
    ctx: Context, config: RepoConfig, version: str, head: str, tracking: dict[str, Any], comment: dict[str, Any], summary: str
) -> dict[str, Any]:
    """The bug a failed regression opens, exactly once per command comment."""
    key = marker(f"regression-bug:{comment['id']}")
    labels = [config.labels.bug, config.labels.blocker, rc_label(config, version)]
    for existing in await _issues(ctx, labels, state="all"):
        # A person's issue may carry a copy of the marker; only the bot's own bug counts.
        if key in (existing.get("body") or "") and (existing.get("user") or {}).get("login") == ctx.bot_login:
            return existing
    login = comment["user"]["login"]
    body = (
        f"{key}\nRegression failed on `{rc_branch_name(config, version)}` at [`{head[:7]}`]({_html(ctx, f'/commit/{head}')}).\n\n"
        f"Found by QA: @{login} ([comment]({comment.get('html_url', '')})) in #{tracking['number']}.\n\n"
        f"{quoted(summary)}\n\nThis bug blocks the RC until it is closed or loses the `{config.labels.blocker}` label."
    )
    return await ctx.gh.post(
        "/repos/{owner}/{repo}/issues",
        ctx.repo_vars,
        data={"title": f"Regression on {rc_branch_name(config, version)}: {plain_line(summary, 120)}", "body": body, "labels": labels},
    )


def _gate_line(evaluation: Evaluation | None) -> str:
    if evaluation is None:
        return ""
    return f"\n\nGate: **{evaluation.verdict.title}**\n\n{rules.gate_table(evaluation.verdict)}"


@commands.command("signoff", roles=("pdm",), usage="/signoff", summary="PdM signs off the RC's current head", where="tracking")
async def signoff(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await _tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    login = comment["user"]["login"]
    await reconcile.ensure_check_run(
        ctx, name=config.checks.signoff, head_sha=head, status="completed", conclusion="success",
        title=f"Signed off by @{login}", summary=f"`/signoff` from @{login} on #{issue['number']} for `{head[:7]}`.",
        external_id=login,
    )
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue)
    return CommandReply(True, f"Signed off `{rc_branch_name(config, version)}` at `{head[:7]}`; a new commit will need a new sign-off." + _gate_line(evaluation))


HOLD_REASON_LIMIT = 1000


@commands.command("hold", roles=("rte", "pdm"), usage="/hold <reason>", summary="stop promotion until /unhold", where="tracking")
async def hold(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    if not cmd.text:
        return CommandReply(False, "Say why: `/hold <reason>`.")
    found = await _tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    login = comment["user"]["login"]
    state = rules.read_state(issue.get("body")) or rules.TrackingState(version)
    # The reason lives in the tracking issue's body, which GitHub caps at 65536 characters.
    reason = cmd.text if len(cmd.text) <= HOLD_REASON_LIMIT else cmd.text[: HOLD_REASON_LIMIT - 1] + "…"
    state = dataclasses.replace(state, hold_reason=reason, hold_by=login)
    await reconcile.add_labels(ctx, issue["number"], [config.labels.hold], present=_labels(issue))
    issue = {**issue, "labels": [*issue.get("labels", []), {"name": config.labels.hold}]}
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue, state=state)
    return CommandReply(True, f"`{rc_branch_name(config, version)}` is on hold: {inline(cmd.text)}. `/unhold` releases it." + _gate_line(evaluation))


@commands.command("unhold", roles=("rte", "pdm"), usage="/unhold", summary="release a hold", where="tracking")
async def unhold(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await _tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    state = rules.read_state(issue.get("body")) or rules.TrackingState(version)
    state = dataclasses.replace(state, hold_reason=None, hold_by=None)
    await reconcile.remove_label(ctx, issue["number"], config.labels.hold)
    issue = {**issue, "labels": [label for label in issue.get("labels", []) if (label.get("name") if isinstance(label, dict) else label) != config.labels.hold]}
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue, state=state)
    return CommandReply(True, f"Hold released on `{rc_branch_name(config, version)}`." + _gate_line(evaluation))


@commands.command("refresh", roles=("write",), usage="/refresh", summary="re-read GitHub and bring checks and comments up to date", where="any")
async def refresh(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    config = await ctx.config()
    if config.labels.tracking not in _labels(issue):
        return CommandReply(True, "")
    version = version_of_tracking(config, issue)
    if version is None:
        return CommandReply(True, "")
    evaluation = await evaluate_gate(ctx, config, version, tracking=issue)
    return CommandReply(True, f"Re-evaluated the gate of `{rc_branch_name(config, version)}`." + _gate_line(evaluation))


# /promote ------------------------------------------------------------------------------------
async def _release_for(ctx: Context, tag: str) -> dict[str, Any] | None:
    try:
        return await ctx.gh.getitem("/repos/{owner}/{repo}/releases/tags/{tag}", {**ctx.repo_vars, "tag": tag})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise


async def _deployment_for(ctx: Context, config: RepoConfig, sha: str, tag: str) -> dict[str, Any] | None:
    async for deployment in ctx.gh.getiter(
        "/repos/{owner}/{repo}/deployments{?sha,environment,per_page}",
        {**ctx.repo_vars, "sha": sha, "environment": config.release.environment, "per_page": 100},
    ):
        if (deployment.get("payload") or {}).get("tag") == tag:
            return deployment
    return None


@commands.command("promote", roles=("rte",), usage="/promote", summary="tag, release, deploy and hand off the RC's head once the gate passes", where="tracking")
async def promote(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await _tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    tracking = issue
    tags = await _tags(ctx, config)
    production = config.branches.production
    production_sha = await _branch_head(ctx, production) if production else None
    can_ff = True
    if production and production_sha and production_sha != head:
        can_ff = await _is_on(ctx, production_sha, head)
    on_head = [t for t in tags if t.sha == head and (rules.parse_tag(config.release.tag, t.name) or ("",))[0] == version]
    done: set[str] = set()
    if on_head:
        tag = max(on_head, key=lambda t: rules.parse_tag(config.release.tag, t.name)[1]).name  # type: ignore[index]
        if await _release_for(ctx, tag):
            done.add("release")
        if production_sha == head:
            done.add("production")
        if await _deployment_for(ctx, config, head, tag):
            done.add("deployment")
        if await reconcile.find_bot_comment(ctx, tracking["number"], f"handoff:{tag}"):
            done.add("handoff")
        if config.labels.released in _labels(tracking):
            done.add("released_label")
        verdict = rules.GateVerdict(head, ())
    else:
        evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
        verdict = evaluation.verdict if evaluation else rules.GateVerdict(head, ())
    plan = rules.promote_plan(
        rules.PromoteFacts(
            version=version, head_sha=head, tag_template=config.release.tag, tags=tags, verdict=verdict,
            production_branch=production, production_sha=production_sha, production_can_ff=can_ff, done=frozenset(done),
        )
    )
    if not plan.ok:
        return CommandReply(
            False,
            f"I did not promote `{rc_branch_name(config, version)}` at `{head[:7]}`; nothing was changed. What is missing:\n\n"
            + rules.refusal_table(plan.refusals),
        )
    if plan.already_promoted and not plan.steps:
        release = await _release_for(ctx, plan.tag)
        link = f" ({release['html_url']})" if release and release.get("html_url") else ""
        return CommandReply(True, f"`{head[:7]}` is already promoted as `{plan.tag}`{link}. Nothing was changed.")
    login = comment["user"]["login"]
    release_url = ""
    for step in plan.steps:
        if step == "tag":
            await _create_tag(ctx, plan, login)
        elif step == "release":
            release = await _release_for(ctx, plan.tag) or await _create_release(ctx, plan)
            release_url = release.get("html_url") or ""
        elif step == "production" and production:
            if production_sha is None:
                await ctx.gh.post("/repos/{owner}/{repo}/git/refs", ctx.repo_vars, data={"ref": f"refs/heads/{production}", "sha": head})
            else:
                await ctx.gh.patch(
                    "/repos/{owner}/{repo}/git/refs/{ref}", {**ctx.repo_vars, "ref": f"heads/{production}"}, data={"sha": head, "force": False}
                )
        elif step == "deployment":
            await ctx.gh.post(
                "/repos/{owner}/{repo}/deployments",
                ctx.repo_vars,
                data={
                    "ref": head,
                    "environment": config.release.environment,
                    "payload": {"version": version, "tag": plan.tag, "sha": head},
                    "description": f"Release {plan.tag}",
                    "auto_merge": False,
                    "required_contexts": [],
                },
            )
        elif step == "handoff":
            teams = " ".join(t if t.startswith("@") else f"@{t}" for t in config.release.handoff)
            release_url = release_url or ((await _release_for(ctx, plan.tag)) or {}).get("html_url", "")
            await reconcile.post_once(
                ctx,
                tracking["number"],
                f"handoff:{plan.tag}",
                f"🚀 `{plan.tag}` is promoted (`{head[:7]}`), released{f' ({release_url})' if release_url else ''} and a "
                f"`{config.release.environment}` deployment is waiting for operations."
                + (f"\n\n{teams}: over to you for the production deployment." if teams else ""),
            )
        elif step == "released_label":
            await reconcile.add_labels(ctx, tracking["number"], [config.labels.released], present=_labels(tracking))
    await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
    done_words = ", ".join(plan.steps)
    return CommandReply(
        True,
        f"{'Finished promoting' if plan.already_promoted else 'Promoted'} `{rc_branch_name(config, version)}` at `{head[:7]}` as `{plan.tag}` ({done_words}).",
    )


async def _create_tag(ctx: Context, plan: rules.PromotePlan, login: str) -> None:
    tag_object = await ctx.gh.post(
        "/repos/{owner}/{repo}/git/tags",
        ctx.repo_vars,
        data={"tag": plan.tag, "message": f"Release {plan.tag} (promoted by {login})", "object": plan.sha, "type": "commit"},
    )
    try:
        await ctx.gh.post("/repos/{owner}/{repo}/git/refs", ctx.repo_vars, data={"ref": f"refs/tags/{plan.tag}", "sha": tag_object["sha"]})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
        # Made by an earlier attempt of this job: fine only when it names the same commit.
        tags = {t.name: t.sha for t in await _tags(ctx, await ctx.config())}
        if tags.get(plan.tag) != plan.sha:
            raise


async def _create_release(ctx: Context, plan: rules.PromotePlan) -> dict[str, Any]:
    notes_request: dict[str, Any] = {"tag_name": plan.tag, "target_commitish": plan.sha}
    if plan.previous_tag:
        notes_request["previous_tag_name"] = plan.previous_tag
    notes = await ctx.gh.post("/repos/{owner}/{repo}/releases/generate-notes", ctx.repo_vars, data=notes_request)
    # The notes repeat PR titles and logins; published by the bot, they must not ping anyone.
    return await ctx.gh.post(
        "/repos/{owner}/{repo}/releases",
        ctx.repo_vars,
        data={"tag_name": plan.tag, "target_commitish": plan.sha, "name": notes.get("name") or plan.tag, "body": no_pings(notes.get("body") or "")},
    )
