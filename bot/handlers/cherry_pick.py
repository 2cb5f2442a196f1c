"""QA-verified fixes picked into their RC branches, through the API, exactly once."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.github.cherry_pick import BranchExists, Picker, PickOutcome, SourceCommit
from bot.github.repo import CheckRun
from bot.handlers import guards
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.rules import cherry_pick as rules
from bot.rules import names
from bot.rules.commands import Command
from bot.rules.text import inline, marker, no_pings

log = logging.getLogger("release_train.cherry_pick")

router = routing.Router()
# The installation permissions this concern's jobs need: it commits the pick and its branch, opens the pick PR, labels and comments, posts cherry-pick.
PERMISSIONS = {"contents": "write", "pull_requests": "write", "issues": "write", "checks": "write"}
commands = CommandSet()


# -- gathering facts ---------------------------------------------------------------------------------


async def _verified_by(ctx: Context, number: int, labels: Collection[str], config: RepoConfig) -> str | None:
    """Who (a QA member) applied the verified label, or None."""
    if config.labels.verified not in labels:
        return None
    return await guards.verified_by(ctx, number, labels)


async def _rc_head(ctx: Context, rc_branch: str) -> tuple[str, str] | None:
    """(head sha, tree sha) of the RC branch, or None when it does not exist."""
    try:
        branch = await ctx.gh.getitem("/repos/{owner}/{repo}/branches/{branch}", {**ctx.repo_vars, "branch": rc_branch})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise
    commit = branch["commit"]
    return commit["sha"], commit["commit"]["tree"]["sha"]


def _landed(listed: dict[str, Any]) -> rules.LandedCommit:
    author = (listed.get("commit") or {}).get("author") or {}
    return rules.LandedCommit(
        sha=listed["sha"],
        parents=tuple(p["sha"] for p in listed.get("parents", [])),
        message=(listed.get("commit") or {}).get("message", ""),
        author_name=author.get("name", ""),
        author_email=author.get("email", ""),
    )


async def _plan(ctx: Context, pr: dict[str, Any]) -> tuple[rules.PickPlan, dict[str, SourceCommit]]:
    """The commits the PR's merge landed on its base: one listing, plus the PR's commits for N > 1."""
    count = max(1, int(pr.get("commits") or 1))
    listing = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/commits{?sha,per_page}",
        {**ctx.repo_vars, "sha": pr["merge_commit_sha"], "per_page": min(count, 100)},
    )
    landed = [_landed(c) for c in listing]
    plan = rules.plan_commits(pr["merge_commit_sha"], count, landed)
    if plan is None:
        pr_commits = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}/commits{?per_page}",
            {**ctx.repo_vars, "pull_number": pr["number"], "per_page": 100},
        )
        plan = rules.plan_commits(pr["merge_commit_sha"], count, landed, [_landed(c) for c in pr_commits])
    if plan is None:
        raise RuntimeError(f"cannot tell which commits PR #{pr['number']} landed")
    sources = {c["sha"]: SourceCommit.from_listing(c) for c in listing}
    return plan, sources


def _made_by(listed: dict[str, Any]) -> str:
    """Who made a listed commit: its committer, or for a commit GitHub made on someone's request (web-flow), its author."""
    commit = listed.get("commit") or {}
    committer = (listed.get("committer") or {}).get("login") or (commit.get("committer") or {}).get("name", "")
    if committer in ("web-flow", "GitHub"):
        return (listed.get("author") or {}).get("login") or (commit.get("author") or {}).get("name", "") or committer
    return str(committer)


async def _branch_facts(ctx: Context, branch: str, rc_branch: str, source_sha: str | None = None) -> rules.BranchFacts:
    """What the pick branch holds beyond the RC; with source_sha (what is being picked), beyond that too.

    An attempt cut short (a 502 after the merge step) leaves the branch on a sibling of the picked
    commit, so the branch then also holds the source's history: those commits are nobody's work on
    this branch, and only the commits on neither side count.
    """
    open_prs = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/pulls{?head,base,state}",
        {**ctx.repo_vars, "head": f"{ctx.owner}:{branch}", "base": rc_branch, "state": "open"},
    )
    if open_prs:
        return rules.BranchFacts(True, open_pr=int(open_prs[0]["number"]))
    try:
        compare = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/compare/{basehead}", {**ctx.repo_vars, "basehead": f"{rc_branch}...{branch}"}
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return rules.BranchFacts(False)
        raise
    ahead = [(listed["sha"], _made_by(listed)) for listed in compare.get("commits", [])]
    if source_sha and any(who != ctx.bot_login for _, who in ahead):
        beyond_source = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/compare/{basehead}", {**ctx.repo_vars, "basehead": f"{source_sha}...{branch}"}
        )
        on_neither = {listed["sha"] for listed in beyond_source.get("commits", [])}
        ahead = [(sha, who) for sha, who in ahead if sha in on_neither]
    return rules.BranchFacts(True, tuple(ahead))


async def _files_both_sides_changed(ctx: Context, source: SourceCommit, rc_head: str) -> list[str]:
    def names(compare: dict[str, Any]) -> set[str]:
        found: set[str] = set()
        for f in compare.get("files", []):
            found.add(f["filename"])
            if f.get("previous_filename"):
                found.add(f["previous_filename"])
        return found

    async def changed(basehead: str) -> set[str]:
        return names(
            await ctx.gh.getitem("/repos/{owner}/{repo}/compare/{basehead}", {**ctx.repo_vars, "basehead": basehead})
        )

    # compare is three-dot (from the merge base), so the target side is read in both directions:
    # what the RC changed since the fork, and what the picked commit's base changed since then.
    base = source.parents[0]
    picked = await changed(f"{base}...{source.sha}")
    target = await changed(f"{base}...{rc_head}") | await changed(f"{rc_head}...{base}")
    return sorted(picked & target)


# -- acting ------------------------------------------------------------------------------------------


def _pick_body(
    pr: dict[str, Any], rc_branch: str, outcome: PickOutcome, verifier: str | None, config: RepoConfig
) -> str:
    lines = [
        f"Cherry-pick of #{pr['number']} ({inline(pr.get('title') or '')}) into `{rc_branch}`.",
        "",
        "Picked commits:",
    ]
    lines += [f"- {new} (cherry picked from commit {source})" for source, new in outcome.picked]
    if outcome.skipped:
        lines.append("")
        lines.append("Already present on the RC, so not picked: " + ", ".join(outcome.skipped))
    lines.append("")
    lines.append(f"Verified by {no_pings('@' + verifier)} (QA)." if verifier else "Verified by QA.")
    if config.cherry_pick.auto_merge:
        lines.append(
            f"`cherry_pick.auto_merge` is on: I turn on GitHub's auto-merge ({config.cherry_pick.auto_merge_method}), "
            "so GitHub merges it once the RC's required checks pass. If GitHub refuses, I say so on this PR."
        )
    else:
        lines.append("Merge it once the RC's checks pass.")
    return "\n".join(lines)


ENABLE_AUTO_MERGE = """
mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}
"""


async def _ensure_auto_merge(
    ctx: Context, pick_number: int, rc_branch: str, config: RepoConfig, pick: dict[str, Any] | None = None
) -> None:
    """GitHub's auto-merge on the pick PR when `cherry_pick.auto_merge` asks for it; a refusal is told on the PR, once.

    pick: the pick PR as GitHub last answered it (read here when not given), to skip one whose auto-merge is on.
    """
    if not config.cherry_pick.auto_merge:
        return
    if pick is None:
        pick = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": pick_number}
        )
    if pick.get("auto_merge") or pick.get("state", "open") != "open":
        return
    method = config.cherry_pick.auto_merge_method
    try:
        await ctx.gh.graphql(ENABLE_AUTO_MERGE, pullRequestId=pick["node_id"], mergeMethod=method.upper())
    except gidgethub.GraphQLException as exc:
        # GraphQL refusals come with HTTP 200 and the reason in the body (a repository that does not allow
        # auto-merge, a PR with no required check left to wait for, a missing permission).
        log.warning("auto-merge of pick #%s refused: %s", pick_number, exc)
        await ctx.api.post_once(
            pick_number,
            f"cherry-pick-auto-merge:{pick_number}",
            f"`cherry_pick.auto_merge` is on, but GitHub refused to turn on auto-merge ({method}) for this pick: "
            f"{inline(str(exc))}. Please merge it by hand once the checks of `{rc_branch}` pass. Auto-merge needs "
            '"Allow auto-merge" in the repository\'s settings and a required check on the RC branch.',
        )


async def _open_pick_pr(
    ctx: Context,
    pr: dict[str, Any],
    rc_branch: str,
    branch: str,
    outcome: PickOutcome,
    verifier: str | None,
    config: RepoConfig,
) -> tuple[int, bool]:
    """(number, fresh): the pick PR, created or, when GitHub says it exists, found."""
    try:
        created = await ctx.gh.post(
            "/repos/{owner}/{repo}/pulls",
            ctx.repo_vars,
            data={
                "title": rules.pick_title(rc_branch, pr.get("title") or "", pr["number"]),
                "head": branch,
                "base": rc_branch,
                "body": _pick_body(pr, rc_branch, outcome, verifier, config),
                "maintainer_can_modify": True,
            },
        )
    except gidgethub.BadRequest as exc:
        if (
            int(exc.status_code) != 422
            or "already exists" not in str(exc).lower() + str(getattr(exc, "errors", "")).lower()
        ):
            raise
        facts = await _branch_facts(ctx, branch, rc_branch)
        if facts.open_pr is None:
            raise
        await _ensure_auto_merge(ctx, facts.open_pr, rc_branch, config)
        return facts.open_pr, False
    number = int(created["number"])
    author = (pr.get("user") or {}).get("login")
    update: dict[str, Any] = {"labels": [config.labels.picked]}
    if author and not ctx.is_bot(author):
        update["assignees"] = [author]
    try:
        await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}", {**ctx.repo_vars, "issue_number": number}, data=update
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422 or "assignees" not in update:
            raise
        # The author cannot be assigned (no access to the repository): label only.
        await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}",
            {**ctx.repo_vars, "issue_number": number},
            data={"labels": [config.labels.picked]},
        )
    await _ensure_auto_merge(ctx, number, rc_branch, config, created)
    return number, True


async def _pick_target(
    ctx: Context,
    pr: dict[str, Any],
    version: str,
    rc_branch: str,
    rc: tuple[str, str],
    plan: rules.PickPlan,
    sources: dict[str, SourceCommit],
    verifier: str | None,
    config: RepoConfig,
) -> rules.PickState:
    number = pr["number"]
    branch = names.pick_branch(number, rc_branch)
    picker = Picker(
        ctx.gh,
        ctx.owner,
        ctx.repo,
        committer={
            "name": ctx.bot_login,
            "email": f"{ctx.services.github.app_id}+{ctx.bot_login}@users.noreply.github.com",
        },
    )
    commits = [sources[sha] for sha in plan.shas]
    state = rules.PickState(version, "", rc_branch)
    try:
        outcome = await picker.pick(commits, onto_sha=rc[0], onto_tree=rc[1], branch=branch, mainline=plan.mainline)
    except BranchExists:
        facts = await _branch_facts(ctx, branch, rc_branch, pr.get("merge_commit_sha"))
        decision = rules.decide_branch(facts, ctx.bot_login)
        if decision.action == "adopt" and decision.pr is not None:
            await _ensure_auto_merge(ctx, decision.pr, rc_branch, config)
            await _link_pick(ctx, number, version, rc_branch, decision.pr, fresh=False)
            return replace(state, state=rules.OPENED, pr=decision.pr)
        if decision.action == "leave":
            people = ", ".join(no_pings("@" + p) for p in decision.people)
            await ctx.api.ensure_comment(
                number,
                f"cherry-pick-branch:{version}",
                f"I did not pick #{number} into `{rc_branch}`: the branch `{branch}` already holds commits by "
                f"{people}, and I never overwrite people's work. Open a PR from it into `{rc_branch}`, or delete "
                f"the branch and comment `/cherry-pick {version}` to let me pick again.",
            )
            return replace(state, state=rules.BRANCH_TAKEN, detail=", ".join(decision.people))
        try:
            outcome = await picker.pick(
                commits, onto_sha=rc[0], onto_tree=rc[1], branch=branch, mainline=plan.mainline, reuse_branch=True
            )
        except BranchExists:
            return replace(state, state=rules.BRANCH_TAKEN, detail="pushed to while picking")
    if outcome.outcome == "empty":
        await ctx.api.post_once(
            number,
            f"cherry-pick-present:{version}",
            f"The changes of #{number} are already on `{rc_branch}`: picking them changes nothing, so I opened no PR.",
        )
        return replace(state, state=rules.PRESENT)
    if outcome.outcome == "conflict":
        source = sources[outcome.conflict_sha or plan.shas[0]]
        files = await _files_both_sides_changed(ctx, source, rc[0])
        await ctx.api.add_labels(number, [config.labels.conflict], present=names.label_names(pr))
        file_lines = (
            "\n".join(f"- `{inline(f)}`" for f in files)
            or "- (GitHub did not list any; see `git status` after the pick)"
        )
        body = (
            f"Picking #{number} into `{rc_branch}` conflicts (at commit {source.sha}), so I opened no PR. "
            "To finish by hand:\n\n```sh\n"
            + rules.conflict_commands(number, rc_branch, plan.shas, plan.mainline)
            + f"\n```\n\nThen open a PR from `{branch}` into `{rc_branch}`. Files changed on both sides:\n{file_lines}\n\n"
            f"Once a prerequisite has landed on `{rc_branch}`, `/cherry-pick {version}` tries again."
        )
        await ctx.api.ensure_comment(number, f"cherry-pick-conflict:{version}", body)
        return replace(state, state=rules.CONFLICT, detail=", ".join(files))
    pick_number, fresh = await _open_pick_pr(ctx, pr, rc_branch, branch, outcome, verifier, config)
    await _link_pick(ctx, number, version, rc_branch, pick_number, fresh=fresh)
    return replace(state, state=rules.OPENED, pr=pick_number)


async def _link_pick(ctx: Context, number: int, version: str, rc_branch: str, pick_number: int, *, fresh: bool) -> None:
    """The comment on the original PR that links its pick (looked for first unless the PR is brand new)."""
    key = f"cherry-pick-opened:{version}:{pick_number}"
    link = f"Cherry-pick into `{rc_branch}`: #{pick_number}."
    if fresh:
        await ctx.gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            {**ctx.repo_vars, "issue_number": number},
            data={"body": f"{marker(key)}\n{link}"},
        )
    else:
        await ctx.api.post_once(number, key, link)


async def reconcile_picks(
    ctx: Context,
    pr: dict[str, Any],
    *,
    verifier: str | None = None,
    asked_again: Collection[str] = (),
    extra_targets: Iterable[str] = (),
    refresh: bool = False,
    withdrawn: bool = False,
) -> dict[str, rules.PickState]:
    """Bring every target of the PR to its next state, and the check run up to date with them.

    verifier: the QA member whose `labeled` event triggered this (no need to ask who applied it).
    withdrawn: a target label was just removed, so the recorded states are read even with no target left.
    """
    config = await ctx.config()
    labels = names.label_names(pr)
    targets = sorted(
        set(config.names.targets_of(labels)) | set(extra_targets),
        key=names.version_key,
    )
    if not targets and not withdrawn:
        return {}
    head_sha = pr["head"]["sha"]
    existing = await ctx.api.latest_check_run(head_sha, config.checks.cherry_pick)
    recorded = rules.decode_states(existing.output.text if existing else None)
    merged = bool(pr.get("merged"))
    verified: bool | None = True if verifier else None
    plan: tuple[rules.PickPlan, dict[str, SourceCommit]] | None = None
    states: dict[str, rules.PickState] = {}
    for version in targets:
        rc_branch = config.names.rc_branch(version)
        previous = recorded.get(version)
        if refresh and previous is not None and previous.state == rules.OPENED and previous.pr is not None:
            previous = await _pick_pr_state(ctx, previous)
        facts = rules.TargetFacts(version, rc_branch, merged, bool(verified), previous, version in asked_again)
        decision = rules.decide_target(facts)
        if decision.state == rules.WAIT_QA and verified is None:
            # Who applied the verified label is asked only once a pick could follow.
            verifier = await _verified_by(ctx, pr["number"], labels, config)
            verified = verifier is not None
            facts = replace(facts, verified=verified)
            decision = rules.decide_target(facts)
        rc = None
        if decision.action == rules.CHECK_RC:
            rc = await _rc_head(ctx, rc_branch)
            decision = rules.decide_target(replace(facts, rc_checked=True, rc_exists=rc is not None))
        if decision.action == rules.KEEP:
            assert previous is not None
            states[version] = previous
        elif decision.action in (rules.WAIT, rules.MISSING):
            states[version] = rules.PickState(version, decision.state or "", rc_branch)
            if decision.action == rules.MISSING:
                await ctx.api.post_once(
                    pr["number"],
                    f"cherry-pick-missing:{version}",
                    f"#{pr['number']} asks for a cherry-pick into `{rc_branch}`, but that branch does not exist. "
                    f"I will pick it once `{rc_branch}` exists and something changes on this PR (or on `/refresh`).",
                )
        elif decision.action == rules.PICK:
            assert rc is not None
            try:
                if plan is None:
                    plan = await _plan(ctx, pr)
                states[version] = await _pick_target(
                    ctx, pr, version, rc_branch, rc, plan[0], plan[1], verifier, config
                )
            except gidgethub.BadRequest as exc:
                # A permanent refusal (a protected branch, a permission): say so rather than retry forever.
                if int(exc.status_code) >= 500:
                    raise
                log.warning("cherry-pick of #%s into %s refused: %s", pr["number"], rc_branch, exc)
                states[version] = rules.PickState(version, rules.FAILED, rc_branch, detail=inline(str(exc)))
                await ctx.api.ensure_comment(
                    pr["number"],
                    f"cherry-pick-failed:{version}",
                    f"I could not pick #{pr['number']} into `{rc_branch}`: GitHub answered "
                    f"{int(exc.status_code)} ({inline(str(exc))}). I will try again on the next change to this PR, "
                    f"or on `/refresh`.",
                )
    # A withdrawn target keeps its state only when a pick PR exists, so the gate still sees it.
    for version, state in recorded.items():
        if version not in states and state.pr is not None and state.state in (rules.OPENED, rules.MERGED, rules.CLOSED):
            states[version] = state
    if not states and existing is None:
        return states
    if config.labels.conflict in labels and not any(s.state == rules.CONFLICT for s in states.values()):
        await ctx.api.remove_label(pr["number"], config.labels.conflict)
    await _write_check(ctx, config, head_sha, pr["number"], states, existing)
    return states


async def _pick_pr_state(ctx: Context, state: rules.PickState) -> rules.PickState:
    pick = await ctx.gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": state.pr})
    if pick.get("merged"):
        return replace(state, state=rules.MERGED)
    if pick.get("state") == "closed":
        return replace(state, state=rules.CLOSED)
    return state


async def _write_check(
    ctx: Context,
    config: RepoConfig,
    head_sha: str,
    number: int,
    states: dict[str, rules.PickState],
    existing: CheckRun | None,
) -> None:
    output = rules.check_output(states, number)
    await ctx.api.ensure_check_run(
        name=config.checks.cherry_pick,
        head_sha=head_sha,
        status=output.status,
        conclusion=output.conclusion,
        title=output.title,
        summary=output.summary,
        text=output.text,
        existing=existing,
        existing_known=True,
    )


# -- triggers ----------------------------------------------------------------------------------------


async def sweep(ctx: Context) -> None:
    """The periodic catch-up: PRs merged within the look-back, verified and with targets, whose pick a lost webhook left undone.

    One paginated listing of the repository's PRs (newest update first, stopping at the look-back) shows
    both the candidates and the pick PRs already opened, so a PR whose every target has its pick PR
    costs no further call; the others run the webhook handler's path (which keeps recorded states).
    """
    config = await ctx.config()
    horizon = datetime.now(UTC) - timedelta(hours=ctx.settings.sweep_lookback_hours)
    candidates: list[dict[str, Any]] = []
    pick_heads: set[str] = set()
    async for listed in ctx.gh.getiter(
        "/repos/{owner}/{repo}/pulls{?state,sort,direction,per_page}",
        {**ctx.repo_vars, "state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
    ):
        if _parse_time(listed.get("updated_at")) < horizon:
            break
        head_ref = (listed.get("head") or {}).get("ref") or ""
        if names.pick_source(head_ref) is not None:
            pick_heads.add(head_ref)
            continue
        merged_at = listed.get("merged_at")
        labels = names.label_names(listed)
        if not merged_at or _parse_time(merged_at) < horizon or config.labels.verified not in labels:
            continue
        if config.names.targets_of(labels):
            candidates.append(listed)
    for listed in candidates:
        labels = names.label_names(listed)
        targets = config.names.targets_of(labels)
        branches = {names.pick_branch(listed["number"], config.names.rc_branch(v)) for v in targets}
        if branches <= pick_heads:
            continue
        await reconcile_picks(ctx, await _pull_of(ctx, listed))


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@router.register("pull_request", action="closed")
async def on_closed(event: Event, ctx: Context) -> None:
    pr = event.data["pull_request"]
    source = names.pick_source((pr.get("head") or {}).get("ref") or "")
    if source is not None and ctx.is_bot((pr.get("user") or {}).get("login")):
        await _record_pick_closed(ctx, pr, source)
        return
    if pr.get("merged"):
        await reconcile_picks(ctx, pr)


async def _record_pick_closed(ctx: Context, pick: dict[str, Any], original_number: int) -> None:
    """A pick PR merged or closed: the original PR's check run says so (the RC gate reads it)."""
    config = await ctx.config()
    original = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": original_number}
    )
    head_sha = original["head"]["sha"]
    existing = await ctx.api.latest_check_run(head_sha, config.checks.cherry_pick)
    states = rules.decode_states(existing.output.text if existing else None)
    changed = False
    for version, state in list(states.items()):
        if state.pr == pick["number"]:
            states[version] = replace(state, state=rules.MERGED if pick.get("merged") else rules.CLOSED)
            changed = True
    if changed:
        await _write_check(ctx, config, head_sha, original_number, states, existing)


@router.register("create")
async def on_branch_created(event: Event, ctx: Context) -> None:
    """An RC branch that PRs were waiting for now exists: pick the merged ones into it."""
    if event.data.get("ref_type") != "branch":
        return
    config = await ctx.config()
    version = config.names.rc_version_of(event.data.get("ref") or "")
    if version is None:
        return
    waiting = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/issues{?labels,state,per_page}",
        {**ctx.repo_vars, "labels": config.names.target_label(version), "state": "closed", "per_page": 100},
    )
    for issue in waiting:
        if "pull_request" in issue and (issue["pull_request"] or {}).get("merged_at"):
            await reconcile_picks(ctx, await _pull_of(ctx, issue))


@router.register("pull_request", action="unlabeled")
async def on_unlabeled(event: Event, ctx: Context) -> None:
    label = event.data["label"]["name"]
    config = await ctx.config()
    if config.names.target_version_of(label) is not None:
        await reconcile_picks(ctx, event.data["pull_request"], withdrawn=True)


@router.register("pull_request", action="labeled")
async def on_labeled(event: Event, ctx: Context) -> None:
    label = event.data["label"]["name"]
    sender = (event.data.get("sender") or {}).get("login") or ""
    config = await ctx.config()
    pr = event.data["pull_request"]
    if label == config.labels.verified:
        if ctx.is_bot(sender) or not await ctx.has_role(sender, "qa"):
            return  # the guard removes it and says who may apply it
        await reconcile_picks(ctx, pr, verifier=sender)
    elif config.names.target_version_of(label) is not None:
        if ctx.is_bot(sender):
            return  # /cherry-pick labelled it and picks itself
        await reconcile_picks(ctx, pr)
    elif config.names.names_no_target(label) and not ctx.is_bot(sender):
        # The key is a digest: a label name may hold `-->`, which would end the hidden marker early.
        key = "target-label:" + hashlib.sha256(label.encode()).hexdigest()[:16]
        await ctx.api.post_once(
            pr["number"], key, rules.unreadable_target_note(label, config.labels.cherry_pick_prefix)
        )


async def _pull_of(ctx: Context, issue: dict[str, Any]) -> dict[str, Any]:
    return await ctx.gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", {**ctx.repo_vars, "pull_number": issue["number"]}
    )


def _state_words(states: dict[str, rules.PickState], versions: Iterable[str], number: int) -> str:
    lines = []
    for version in versions:
        state = states.get(version)
        if state is not None:
            lines.append(
                f"- `{state.rc_branch}`: {rules.describe_state(state, names.pick_branch(number, state.rc_branch))}"
            )
    return "\n".join(lines)


@commands.command(
    "cherry-pick",
    roles=("write",),
    usage="/cherry-pick <version> [<version> ...]",
    summary="pick this PR into those RC branches once it is merged and QA-verified (asks again after a conflict or a closed pick)",
    where="pr",
)
async def cherry_pick_command(
    ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]
) -> CommandReply:
    config = await ctx.config()
    versions, rejected = config.names.command_versions(cmd.args)
    if not versions:
        return CommandReply(
            False,
            "Usage: `/cherry-pick <version> [<version> ...]`, with versions as MAJOR.MINOR (e.g. `/cherry-pick 1.5`).",
        )
    present = names.label_names(issue)
    await ctx.api.add_labels(issue["number"], [config.names.target_label(v) for v in versions], present=present)
    pr = await _pull_of(ctx, issue)
    states = await reconcile_picks(ctx, pr, asked_again=versions, extra_targets=versions)
    message = f"Cherry-pick targets of #{issue['number']}:\n" + _state_words(states, versions, issue["number"])
    if rejected:
        message += "\n\nNot versions (MAJOR.MINOR), ignored: " + ", ".join(f"`{inline(w)}`" for w in rejected)
    ok = not any(states[v].state in rules.NEEDS_PEOPLE for v in versions if v in states)
    return CommandReply(ok, message)


@commands.command(
    "refresh",
    roles=("write",),
    usage="/refresh",
    summary="re-read GitHub and bring the bot's checks and picks up to date",
)
async def refresh_command(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    config = await ctx.config()
    labels = names.label_names(issue)
    if "pull_request" not in issue or not config.names.targets_of(labels):
        return CommandReply(True, "")
    pr = await _pull_of(ctx, issue)
    states = await reconcile_picks(ctx, pr, refresh=True)
    if not states:
        return CommandReply(True, "")
    return CommandReply(
        True, "Cherry-picks:\n" + _state_words(states, sorted(states, key=names.version_key), issue["number"])
    )
