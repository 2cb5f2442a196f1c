"""QA-verified fixes picked into their RC branches, through the API, exactly once, and kept in the bot's custody.

For each PR: gather each target's facts only as far as `rules.next_fact` asks, decide once per target
(`rules.decide_target`), act, and publish the `release-train/cherry-pick` check run when it changed. The
words people read come from `bot/rules/cherry_pick.py`, next to the decisions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.github import events
from bot.github.cherry_pick import BranchExists, Picker, PickOutcome, SourceCommit
from bot.github.repo import Branch, CheckRun, Comment, Commit, Comparison, Issue, PullRequest, read
from bot.handlers import guards
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context, as_pull
from bot.rules import cherry_pick as rules
from bot.rules import names
from bot.rules.commands import Command
from bot.rules.references import closed_by, repository_url
from bot.rules.text import inline

log = logging.getLogger("release_train.cherry_pick")

router = routing.Router()
# The installation permissions this concern's jobs need: it commits the pick and its branch, opens the pick PR, labels and comments, posts cherry-pick.
PERMISSIONS = {"contents": "write", "pull_requests": "write", "issues": "write", "checks": "write"}
commands = CommandSet()


class CherryPickAPI(Protocol):
    """What the picks do to GitHub: read branches, commits and compares, make the pick through git objects,
    open and read pick PRs, comment and label on the source PR, and keep its check run."""

    async def branch(self, name: str) -> Branch | None: ...

    async def commits(self, sha: str, *, per_page: int = ...) -> tuple[Commit, ...]: ...

    async def pull_commits(self, number: int) -> tuple[Commit, ...]: ...

    async def compare(self, base: str, head: str, *, per_page: int | None = ...) -> Comparison | None: ...

    async def pull(self, number: int) -> PullRequest: ...

    async def open_pulls(self, *, head: str | None = ..., base: str | None = ...) -> list[PullRequest]: ...

    def pulls(
        self,
        *,
        state: str = ...,
        head: str | None = ...,
        base: str | None = ...,
        sort: str | None = ...,
        direction: str | None = ...,
    ) -> AsyncIterator[PullRequest]: ...

    async def create_pull(
        self, *, title: str, head: str, base: str, body: str, maintainer_can_modify: bool = ...
    ) -> PullRequest: ...

    async def enable_auto_merge(self, node_id: str, method: str) -> None: ...

    async def issues(
        self, *, labels: Iterable[str] = ..., state: str = ..., milestone: int | None = ...
    ) -> list[Issue]: ...

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

    async def post_once(self, number: int, key: str, body: str) -> Comment: ...

    async def post_keyed(self, number: int, key: str, body: str) -> Comment: ...

    async def ensure_comment(self, number: int, key: str, body: str) -> Comment: ...

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

    def picker(self, committer: Mapping[str, str] | None = ...) -> Picker: ...


def _api(ctx: Context) -> CherryPickAPI:
    return ctx.api


# -- gathering facts ---------------------------------------------------------------------------------


def _landed(commit: Commit) -> rules.LandedCommit:
    author = commit.commit.author
    return rules.LandedCommit(
        sha=commit.sha,
        parents=commit.parent_shas,
        message=commit.message,
        author_name=author.name if author is not None else "",
        author_email=author.email if author is not None else "",
    )


def _source(commit: Commit) -> SourceCommit:
    author = commit.commit.author
    fields = {"name": author.name, "email": author.email, "date": author.date or ""} if author is not None else {}
    return SourceCommit(commit.sha, commit.parent_shas, commit.message, {k: v for k, v in fields.items() if v})


async def _plan(api: CherryPickAPI, pr: PullRequest) -> tuple[rules.PickPlan, dict[str, SourceCommit]]:
    """The commits the PR's merge landed on its base: one listing, plus the PR's commits for N > 1."""
    count = max(1, pr.commits or 1)
    merge_sha = pr.merge_commit_sha or ""
    listing = await api.commits(merge_sha, per_page=min(count, 100))
    landed = [_landed(c) for c in listing]
    plan = rules.plan_commits(merge_sha, count, landed)
    if plan is None:
        pr_commits = await api.pull_commits(pr.number)
        plan = rules.plan_commits(merge_sha, count, landed, [_landed(c) for c in pr_commits])
    if plan is None:
        raise RuntimeError(f"cannot tell which commits PR #{pr.number} landed")
    return plan, {c.sha: _source(c) for c in listing}


class PickRound:
    """The facts of one reconcile of a PR's picks, each read at most once and only when a target's
    decision asks for it (`rules.next_fact`)."""

    def __init__(self, ctx: Context, config: RepoConfig, pr: PullRequest, verifier: str | None) -> None:
        self.ctx = ctx
        self.api = _api(ctx)
        self.config = config
        self.pr = pr
        self.labels = pr.label_names
        self.verifier = verifier  # QA's labeled event vouches for the head in its payload
        self._verified: bool | None = True if verifier else None
        self._rc: dict[str, Branch | None] = {}
        self._plan: tuple[rules.PickPlan, dict[str, SourceCommit]] | None = None

    async def verified(self) -> bool:
        """QA verified the PR at its head: the label is on, a QA member applied it, the record is on the head."""
        if self._verified is None:
            if self.config.labels.verified.lower() in {name.lower() for name in self.labels}:
                self.verifier = await guards.verified_by(self.ctx, self.pr.number, self.labels, self.pr.head.sha)
            self._verified = self.verifier is not None
        return self._verified

    async def rc_head(self, rc_branch: str) -> Branch | None:
        if rc_branch not in self._rc:
            self._rc[rc_branch] = await self.api.branch(rc_branch)
        return self._rc[rc_branch]

    async def plan(self) -> tuple[rules.PickPlan, dict[str, SourceCommit]]:
        if self._plan is None:
            self._plan = await _plan(self.api, self.pr)
        return self._plan

    async def facts(self, version: str, recorded: rules.PickState | None, asked_again: bool) -> rules.TargetFacts:
        """A target's facts, gathered as far as its decision needs them."""
        rc_branch = self.config.names.rc_branch(version)
        facts = rules.TargetFacts(version, rc_branch, self.pr.is_merged, recorded, asked_again)
        while (need := rules.next_fact(facts)) is not None:
            if need == rules.NEED_VERIFIED:
                facts = replace(facts, verified=await self.verified())
            elif need == rules.NEED_RC:
                facts = replace(facts, rc_exists=await self.rc_head(rc_branch) is not None)
            else:
                raise ValueError(f"no way to gather {need}")
        return facts


def _made_by(commit: Commit) -> str:
    """Who made a listed commit: its committer, or for a commit GitHub made on someone's request (web-flow), its author."""
    git_committer = commit.commit.committer.name if commit.commit.committer is not None else ""
    committer = (commit.committer.login if commit.committer is not None else "") or git_committer
    if committer in ("web-flow", "GitHub"):
        git_author = commit.commit.author.name if commit.commit.author is not None else ""
        return (commit.author.login if commit.author is not None else "") or git_author or committer
    return committer


async def _branch_facts(ctx: Context, branch: str, rc_branch: str, source_sha: str | None = None) -> rules.BranchFacts:
    """What the pick branch holds beyond the RC; with source_sha (what is being picked), beyond that too.

    Only the bot's own open PR from the branch can be the pick; a person's is reported, never taken. An
    attempt cut short (a 502 after the merge step) leaves the branch on a sibling of the picked commit, so
    the branch then also holds the source's history: those commits are nobody's work on this branch, and
    only the commits on neither side count.
    """
    api = _api(ctx)
    open_prs = await api.open_pulls(head=f"{ctx.owner}:{branch}", base=rc_branch)
    bots = [p for p in open_prs if ctx.is_bot(p.author)]
    peoples = [p for p in open_prs if not ctx.is_bot(p.author)]
    compare = await api.compare(rc_branch, branch)
    if compare is None:
        return rules.BranchFacts(False)
    ahead = [(c.sha, _made_by(c)) for c in compare.commits]
    if source_sha and any(who != ctx.bot_login for _, who in ahead):
        beyond_source = await api.compare(source_sha, branch)
        on_neither = {c.sha for c in (beyond_source.commits if beyond_source is not None else ())}
        ahead = [(sha, who) for sha, who in ahead if sha in on_neither]
    return rules.BranchFacts(
        True,
        tuple(ahead),
        open_pr=bots[0].number if bots else None,
        open_pr_head=bots[0].head.sha if bots else "",
        peoples_pr=peoples[0].number if peoples else None,
    )


def _paths(compare: Comparison | None) -> set[str]:
    found: set[str] = set()
    for changed in compare.files if compare is not None else ():
        found.add(changed.filename)
        if changed.previous_filename:
            found.add(changed.previous_filename)
    return found


async def _files_both_sides_changed(api: CherryPickAPI, source: SourceCommit, rc_head: str) -> list[str]:
    # compare is three-dot (from the merge base), so the target side is read in both directions:
    # what the RC changed since the fork, and what the picked commit's base changed since then.
    base = source.parents[0]
    picked = _paths(await api.compare(base, source.sha))
    target = _paths(await api.compare(base, rc_head)) | _paths(await api.compare(rc_head, base))
    return sorted(picked & target)


async def _workflow_paths(api: CherryPickAPI, commits: Iterable[SourceCommit]) -> tuple[str, ...]:
    """The workflow files the picked commits change (each against the parent it is picked against)."""
    paths: set[str] = set()
    for source in commits:
        paths |= _paths(await api.compare(source.parents[0], source.sha))
    return rules.workflow_paths(paths)


async def _source_record(
    api: CherryPickAPI, config: RepoConfig, source_number: int
) -> tuple[PullRequest, CheckRun | None, dict[str, rules.PickState]]:
    """The source PR, its cherry-pick check run and the states that run records."""
    source = await api.pull(source_number)
    existing = await api.latest_check_run(source.head.sha, config.checks.cherry_pick)
    return source, existing, rules.decode_states(existing.output.text if existing is not None else None)


async def pick_custody(
    ctx: Context, pull: PullRequest, recorded: rules.PickState | None = None, *, known: bool = False
) -> rules.PickCustody:
    """What the bot's pick PR holds beyond what the bot picked: the commits past the head it recorded when it
    made the pick (past the RC, by anyone but the bot, when nothing is recorded), and who of QA verified the
    PR at its head. recorded (with known): the target's recorded state, when the caller has read it."""
    api = _api(ctx)
    config = await ctx.config()
    if not known:
        source_number = names.pick_source(pull.head.ref)
        version = config.names.rc_version_of(pull.base.ref)
        if source_number is not None and version is not None:
            _, _, states = await _source_record(api, config, source_number)
            recorded = states.get(version)
    picked_head = recorded.head if recorded is not None and recorded.pr == pull.number else ""
    if picked_head == pull.head.sha:
        return rules.PickCustody()
    compare = await api.compare(picked_head or pull.base.ref, pull.head.sha)
    if compare is None:
        foreign: tuple[tuple[str, str], ...] = ((pull.head.sha, ""),)  # nothing to tell it by: nobody verified it
    else:
        foreign = tuple((c.sha, _made_by(c)) for c in compare.commits if picked_head or _made_by(c) != ctx.bot_login)
    if not foreign:
        return rules.PickCustody()
    return rules.PickCustody(foreign, await guards.verified_by(ctx, pull.number, pull.label_names, pull.head.sha))


# -- acting ------------------------------------------------------------------------------------------


async def say(api: CherryPickAPI, number: int, notice: rules.Notice, *, fresh: bool = False) -> None:
    """Post a notice on the PR: once, kept equal to its words, or (fresh: the PR it links was just made) at once."""
    if fresh:
        await api.post_keyed(number, notice.key, notice.body)
    elif notice.kept_current:
        await api.ensure_comment(number, notice.key, notice.body)
    else:
        await api.post_once(number, notice.key, notice.body)


async def _ensure_auto_merge(
    api: CherryPickAPI, pick_number: int, rc_branch: str, config: RepoConfig, pick: PullRequest | None = None
) -> None:
    """GitHub's auto-merge on the pick PR when `cherry_pick.auto_merge` asks for it; a refusal is told on the PR, once.

    pick: the pick PR as GitHub last answered it (read here when not given), to skip one whose auto-merge is on.
    """
    if not config.cherry_pick.auto_merge:
        return
    if pick is None:
        pick = await api.pull(pick_number)
    if pick.auto_merge is not None or pick.state != "open":
        return
    method = config.cherry_pick.auto_merge_method
    try:
        await api.enable_auto_merge(pick.node_id, method)
    except gidgethub.GraphQLException as exc:
        # GraphQL refusals come with HTTP 200 and the reason in the body (a repository that does not allow
        # auto-merge, a PR with no required check left to wait for, a missing permission).
        log.warning("auto-merge of pick #%s refused: %s", pick_number, exc)
        await say(api, pick_number, rules.auto_merge_refused_notice(pick_number, rc_branch, method, str(exc)))


async def _open_pick_pr(
    ctx: Context,
    pr: PullRequest,
    rc_branch: str,
    branch: str,
    outcome: PickOutcome,
    verifier: str | None,
    config: RepoConfig,
) -> tuple[int, bool] | None:
    """(number, fresh): the pick PR, created or, when GitHub says the bot's exists, found.

    None: GitHub says a PR from the branch exists, and it is a person's, which is never the pick.
    """
    api = _api(ctx)
    body = rules.pick_body(
        pr.number,
        pr.title,
        rc_branch,
        outcome.picked,
        outcome.skipped,
        verifier,
        config.cherry_pick.auto_merge_method if config.cherry_pick.auto_merge else None,
        fixes=closed_by(pr.body, ctx.full_name),
        repository=repository_url(pr.html_url),
    )
    try:
        created = await api.create_pull(
            title=rules.pick_title(rc_branch, pr.title, pr.number), head=branch, base=rc_branch, body=body
        )
    except gidgethub.BadRequest as exc:
        if (
            int(exc.status_code) != 422
            or "already exists" not in str(exc).lower() + str(getattr(exc, "errors", "")).lower()
        ):
            raise
        facts = await _branch_facts(ctx, branch, rc_branch)
        if facts.open_pr is None:
            if facts.peoples_pr is not None:
                return None
            raise
        await _ensure_auto_merge(api, facts.open_pr, rc_branch, config)
        return facts.open_pr, False
    assignees = [pr.author] if pr.author and not ctx.is_bot(pr.author) else None
    try:
        await api.update_issue(created.number, labels=[config.labels.picked], assignees=assignees)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422 or assignees is None:
            raise
        # The author cannot be assigned (no access to the repository): label only.
        await api.update_issue(created.number, labels=[config.labels.picked])
    await _ensure_auto_merge(api, created.number, rc_branch, config, created)
    return created.number, True


async def _pick_target(round_: PickRound, facts: rules.TargetFacts) -> rules.PickState:
    """Make the pick for one target, and say on the source PR what became of it."""
    ctx, api, config, pr = round_.ctx, round_.api, round_.config, round_.pr
    number, version, rc_branch = pr.number, facts.version, facts.rc_branch
    rc = await round_.rc_head(rc_branch)
    assert rc is not None and rc.tree_sha is not None
    plan, sources = await round_.plan()
    branch = names.pick_branch(number, rc_branch)
    picker = api.picker(
        {"name": ctx.bot_login, "email": f"{ctx.services.github.app_id}+{ctx.bot_login}@users.noreply.github.com"}
    )
    commits = [sources[sha] for sha in plan.shas]
    state = rules.PickState(version, "", rc_branch)
    try:
        outcome = await picker.pick(
            commits, onto_sha=rc.sha, onto_tree=rc.tree_sha, branch=branch, mainline=plan.mainline
        )
    except BranchExists:
        branch_facts = await _branch_facts(ctx, branch, rc_branch, pr.merge_commit_sha)
        decision = rules.decide_branch(branch_facts, ctx.bot_login)
        if decision.action == "adopt" and decision.pr is not None:
            await _ensure_auto_merge(api, decision.pr, rc_branch, config)
            await say(api, number, rules.link_notice(version, rc_branch, decision.pr))
            return replace(state, state=rules.OPENED, pr=decision.pr, head=branch_facts.open_pr_head)
        if decision.action == "leave":
            await say(api, number, rules.branch_taken_notice(number, version, rc_branch, decision.people, decision.pr))
            held = list(decision.people) + ([f"#{decision.pr}"] if decision.pr is not None else [])
            return replace(state, state=rules.BRANCH_TAKEN, detail=", ".join(held))
        try:
            outcome = await picker.pick(
                commits,
                onto_sha=rc.sha,
                onto_tree=rc.tree_sha,
                branch=branch,
                mainline=plan.mainline,
                reuse_branch=True,
            )
        except BranchExists:
            return replace(state, state=rules.BRANCH_TAKEN, detail="pushed to while picking")
    except gidgethub.BadRequest as exc:
        # GitHub answers a change to workflow files, from an app without `workflows`, with 404.
        if int(exc.status_code) != 404:
            raise
        paths = await _workflow_paths(api, commits)
        if not paths:
            raise
        await say(api, number, rules.workflows_notice(number, version, rc_branch, paths, plan.shas, plan.mainline))
        return replace(state, state=rules.NO_WORKFLOWS, detail=", ".join(paths))
    if outcome.outcome == "empty":
        await say(api, number, rules.present_notice(number, version, rc_branch))
        return replace(state, state=rules.PRESENT)
    if outcome.outcome == "conflict":
        source = sources[outcome.conflict_sha or plan.shas[0]]
        files = await _files_both_sides_changed(api, source, rc.sha)
        await api.add_labels(number, [config.labels.conflict], present=pr.label_names)
        await say(
            api,
            number,
            rules.conflict_notice(
                number, version, rc_branch, source.sha, files, plan.shas, plan.mainline, repository_url(pr.html_url)
            ),
        )
        return replace(state, state=rules.CONFLICT, detail=", ".join(files))
    opened = await _open_pick_pr(ctx, pr, rc_branch, branch, outcome, round_.verifier, config)
    if opened is None:
        peoples = await _branch_facts(ctx, branch, rc_branch)
        await say(api, number, rules.branch_taken_notice(number, version, rc_branch, (), peoples.peoples_pr))
        return replace(state, state=rules.BRANCH_TAKEN, detail=f"#{peoples.peoples_pr}")
    pick_number, fresh = opened
    await say(api, number, rules.link_notice(version, rc_branch, pick_number), fresh=fresh)
    return replace(state, state=rules.OPENED, pr=pick_number, head=outcome.head_sha or "")


async def _act(round_: PickRound, facts: rules.TargetFacts, decision: rules.TargetDecision) -> rules.PickState:
    """Carry out one target's decision; what people are told is said as it happens."""
    api, number = round_.api, round_.pr.number
    if decision.action == rules.KEEP:
        assert facts.recorded is not None
        return facts.recorded
    if decision.action == rules.WAIT:
        return rules.PickState(facts.version, decision.state or "", facts.rc_branch)
    if decision.action == rules.MISSING:
        await say(api, number, rules.missing_rc_notice(number, facts.version, facts.rc_branch))
        return rules.PickState(facts.version, rules.MISSING_RC, facts.rc_branch)
    try:
        return await _pick_target(round_, facts)
    except gidgethub.BadRequest as exc:
        # A permanent refusal (a protected branch, a permission): say so rather than retry forever.
        if int(exc.status_code) >= 500:
            raise
        log.warning("cherry-pick of #%s into %s refused: %s", number, facts.rc_branch, exc)
        notice = rules.failed_notice(number, facts.version, facts.rc_branch, int(exc.status_code), str(exc))
        await say(api, number, notice)
        return rules.PickState(facts.version, rules.FAILED, facts.rc_branch, detail=inline(str(exc)))


def _pull(pr: PullRequest | Mapping[str, Any]) -> PullRequest:
    """A PR as a record, from a webhook payload's pull_request or an API answer."""
    return pr if isinstance(pr, PullRequest) else read(PullRequest, pr)


async def reconcile_picks(
    ctx: Context,
    pr: PullRequest | Mapping[str, Any],
    *,
    verifier: str | None = None,
    asked_again: Collection[str] = (),
    extra_targets: Iterable[str] = (),
    refresh: bool = False,
    withdrawn: bool = False,
) -> dict[str, rules.PickState]:
    """Bring every target of the PR to its next state, and the check run up to date with them.

    verifier: the QA member whose `labeled` event triggered this (the payload's head is what QA verified).
    withdrawn: a target label was just removed, so the recorded states are read even with no target left.
    """
    config = await ctx.config()
    round_ = PickRound(ctx, config, _pull(pr), verifier)
    api, pull = round_.api, round_.pr
    targets = names.sorted_versions({*config.names.targets_of(round_.labels), *extra_targets})
    if not targets and not withdrawn:
        return {}
    existing = await api.latest_check_run(pull.head.sha, config.checks.cherry_pick)
    recorded = rules.decode_states(existing.output.text if existing is not None else None)
    states: dict[str, rules.PickState] = {}
    for version in targets:
        previous = recorded.get(version)
        if refresh and previous is not None and previous.state in rules.HAS_PICK_PR and previous.pr is not None:
            previous = await _pick_pr_state(ctx, previous)
        facts = await round_.facts(version, previous, version in asked_again)
        states[version] = await _act(round_, facts, rules.decide_target(facts))
    states |= rules.kept_after_withdrawal(recorded, states)
    if not states and existing is None:
        return states
    if config.labels.conflict in round_.labels and not any(s.state == rules.CONFLICT for s in states.values()):
        await api.remove_label(pull.number, config.labels.conflict)
    await _write_check(api, config, pull.head.sha, pull.number, states, existing)
    return states


async def _pick_pr_state(ctx: Context, state: rules.PickState) -> rules.PickState:
    """A recorded pick PR read again (on /refresh): merged, closed, or still held by what the bot picked."""
    assert state.pr is not None
    pick = await _api(ctx).pull(state.pr)
    if pick.state == "closed" and not pick.is_merged:
        return replace(state, state=rules.CLOSED)
    custody = await pick_custody(ctx, pick, state, known=True)
    return rules.custody_state(state, custody, pick.head.sha, pick.is_merged, False)


async def _write_check(
    api: CherryPickAPI,
    config: RepoConfig,
    head_sha: str,
    number: int,
    states: dict[str, rules.PickState],
    existing: CheckRun | None,
) -> None:
    output = rules.check_output(states, number)
    await api.ensure_check_run(
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


async def review_custody(ctx: Context, pick: PullRequest, *, closed: bool = False) -> None:
    """The bot's pick PR changed (pushed to, labelled, merged or closed): the source's recorded state for its
    target follows what the PR now holds, so the RC gate counts a pick someone pushed to as unfinished."""
    api = _api(ctx)
    config = await ctx.config()
    source_number = names.pick_source(pick.head.ref)
    version = config.names.rc_version_of(pick.base.ref)
    if source_number is None or version is None:
        return
    source, existing, states = await _source_record(api, config, source_number)
    state = states.get(version)
    if state is None or state.pr != pick.number:
        return  # not the pick the source's record names
    if closed and not pick.is_merged:
        updated = replace(state, state=rules.CLOSED)
    else:
        custody = await pick_custody(ctx, pick, state, known=True)
        updated = rules.custody_state(state, custody, pick.head.sha, pick.is_merged, False)
    if updated != state:
        states[version] = updated
        await _write_check(api, config, source.head.sha, source_number, states, existing)


# -- triggers ----------------------------------------------------------------------------------------


async def sweep(ctx: Context) -> None:
    """The periodic catch-up: PRs merged within the look-back, verified and with targets, whose pick a lost webhook left undone.

    One paginated listing of the repository's PRs (newest update first, stopping at the look-back) shows
    both the candidates and the bot's pick PRs already opened, so a PR whose every target has its pick PR
    costs no further call; the others run the webhook handler's path (which keeps recorded states).
    """
    api = _api(ctx)
    config = await ctx.config()
    horizon = datetime.now(UTC) - timedelta(hours=ctx.settings.sweep_lookback_hours)
    candidates: list[PullRequest] = []
    pick_heads: set[str] = set()
    async for listed in api.pulls(state="all", sort="updated", direction="desc"):
        if _parse_time(listed.updated_at) < horizon:
            break
        if _is_bots_pick(ctx, listed):
            pick_heads.add(listed.head.ref)
            continue
        labels = listed.label_names
        if not listed.merged_at or _parse_time(listed.merged_at) < horizon or config.labels.verified not in labels:
            continue
        if config.names.targets_of(labels):
            candidates.append(listed)
    for listed in candidates:
        targets = config.names.targets_of(listed.label_names)
        branches = {names.pick_branch(listed.number, config.names.rc_branch(v)) for v in targets}
        if branches <= pick_heads:
            continue
        await reconcile_picks(ctx, await api.pull(listed.number))


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _is_bots_pick(ctx: Context, pull: PullRequest) -> bool:
    """A PR the bot opened from a pick branch (a person's PR from that branch name is never the pick)."""
    return names.pick_source(pull.head.ref) is not None and ctx.is_bot(pull.author)


@router.register("pull_request", action="closed")
async def on_closed(event: Event, ctx: Context) -> None:
    pr = as_pull(ctx.payload_of(events.PullRequestClosed).pull_request)
    if _is_bots_pick(ctx, pr):
        await review_custody(ctx, pr, closed=True)
        return
    if pr.is_merged:
        await reconcile_picks(ctx, pr)


@router.register("pull_request", action="synchronize")
async def on_pushed(event: Event, ctx: Context) -> None:
    """A push to the bot's pick PR: unless QA verifies it at its new head, the pick is unfinished."""
    pr = as_pull(ctx.payload_of(events.PullRequestSynchronize).pull_request)
    if _is_bots_pick(ctx, pr):
        await review_custody(ctx, pr)


@router.register("create")
async def on_branch_created(event: Event, ctx: Context) -> None:
    """An RC branch that PRs were waiting for now exists: pick the merged ones into it."""
    created = ctx.payload_of(events.Create)
    if created.ref_type != "branch":
        return
    api = _api(ctx)
    config = await ctx.config()
    version = config.names.rc_version_of(created.ref)
    if version is None:
        return
    for issue in await api.issues(labels=[config.names.target_label(version)], state="closed"):
        if issue.pull_request is not None and issue.pull_request.merged_at:
            await reconcile_picks(ctx, await api.pull(issue.number))


@router.register("pull_request", action="unlabeled")
async def on_unlabeled(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.PullRequestUnlabeled)
    label = payload.label.name if isinstance(payload.label, events.Label) else ""
    config = await ctx.config()
    if config.names.target_version_of(label) is not None:
        await reconcile_picks(ctx, as_pull(payload.pull_request), withdrawn=True)


@router.register("pull_request", action="labeled")
async def on_labeled(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.PullRequestLabeled)
    label = payload.label.name if isinstance(payload.label, events.Label) else ""
    sender = payload.sender.login
    config = await ctx.config()
    pr = as_pull(payload.pull_request)
    if label == config.labels.verified:
        if ctx.is_bot(sender) or not await ctx.has_role(sender, "qa"):
            return  # the guard removes it and says who may apply it
        if _is_bots_pick(ctx, pr):
            await review_custody(ctx, pr)  # QA verified the pick PR itself, at its head
            return
        await reconcile_picks(ctx, pr, verifier=sender)
    elif config.names.target_version_of(label) is not None:
        if ctx.is_bot(sender) or not await ctx.has_role(sender, "write"):
            return  # /cherry-pick labelled it and picks itself; or the guard removes it (it needs write access)
        await reconcile_picks(ctx, pr)
    elif config.names.names_no_target(label) and not ctx.is_bot(sender):
        # The key is a digest: a label name may hold `-->`, which would end the hidden marker early.
        key = "target-label:" + hashlib.sha256(label.encode()).hexdigest()[:16]
        await _api(ctx).post_once(pr.number, key, rules.unreadable_target_note(label, config.labels.cherry_pick_prefix))


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
    api = _api(ctx)
    config = await ctx.config()
    versions, rejected = config.names.command_versions(cmd.args)
    if not versions:
        return CommandReply(
            False,
            "Usage: `/cherry-pick <version> [<version> ...]`, with versions as MAJOR.MINOR (e.g. `/cherry-pick 1.5`).",
        )
    present = names.label_names(issue)
    await api.add_labels(issue["number"], [config.names.target_label(v) for v in versions], present=present)
    pr = await api.pull(issue["number"])
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
    states = await reconcile_picks(ctx, await _api(ctx).pull(issue["number"]), refresh=True)
    if not states:
        return CommandReply(True, "")
    return CommandReply(
        True, "Cherry-picks:\n" + _state_words(states, sorted(states, key=names.version_key), issue["number"])
    )
