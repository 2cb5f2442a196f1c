"""The release-train/merge-rules check on PRs into devel, FR and RC branches: gather facts, decide, write only changes.

One evaluation round gathers each fact once: the open PRs (one paginated listing in a sweep, or
narrow `head=`/`base=` listings for one PR's event), one compare per FR branch, one read of this
app's check runs per head commit (conditional through the client's ETag cache), and the sign-off
only for PRs that carry the label. Check names and the combined verdict on a shared head are
described in `bot/rules/merge_rules.py`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import CONFIG_PATH, RepoConfig, is_feature_branch
from bot.github import events
from bot.github.repo import CheckRun, Comparison, PullRequest
from bot.handlers import cherry_pick, guards
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context, as_pull
from bot.repo_config import push_touches_config
from bot.rules import merge_rules as rules
from bot.rules.commands import Command
from bot.rules.merge_rules import ChildPr, LabelSignoff, PullFacts, Verdict
from bot.rules.text import inline

log = logging.getLogger("release_train.merge_rules")

router = routing.Router()
# The installation permissions this concern's jobs need: it reads PRs and compares branches, posts merge-rules.
PERMISSIONS = {"checks": "write", "pull_requests": "read", "contents": "read"}
commands = CommandSet()

_QUEUE_PR = re.compile(r"/pr-([0-9]+)-[0-9a-f]+$")
PR_ACTIONS = ("opened", "edited", "synchronize", "reopened", "labeled", "unlabeled", "ready_for_review", "closed")


class MergeRulesAPI(Protocol):
    """What the merge rules do to GitHub: list and read PRs, compare with devel, read and write their checks."""

    owner: str

    @property
    def full_name(self) -> str: ...

    def pulls(
        self,
        *,
        state: str = ...,
        head: str | None = ...,
        base: str | None = ...,
        sort: str | None = ...,
        direction: str | None = ...,
    ) -> AsyncIterator[PullRequest]: ...

    async def open_pulls(self, *, head: str | None = ..., base: str | None = ...) -> list[PullRequest]: ...

    async def pull(self, number: int) -> PullRequest: ...

    async def compare(self, base: str, head: str, *, per_page: int | None = ...) -> Comparison | None: ...

    async def my_check_runs(self, sha: str) -> dict[str, CheckRun]: ...

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


class Round:
    """The facts of one evaluation, each fetched at most once."""

    def __init__(
        self, ctx: Context, config: RepoConfig, open_pulls: list[PullRequest] | None = None, notice: str = ""
    ) -> None:
        self.ctx = ctx  # for who signed off (the guards' answer)
        self.api: MergeRulesAPI = ctx.api
        self.config = config
        self.open_pulls = open_pulls  # every open PR, when a sweep listed them
        self.notice = notice  # said on top of every check of this round (a broken config)
        self._behind: dict[str, int | None] = {}
        self._children: dict[str, tuple[ChildPr, ...] | None] = {}
        self._runs: dict[str, dict[str, CheckRun]] = {}
        self._by_head: dict[str, list[PullRequest]] = {}
        self.verdicts: dict[int, Verdict] = {}

    async def _from_head(self, label: str) -> list[PullRequest]:
        """The open PRs from one head branch ("owner:branch"), listed once per round."""
        if self.open_pulls is not None:
            return self.open_pulls
        if label not in self._by_head:
            self._by_head[label] = await self.api.open_pulls(head=label)
        return self._by_head[label]

    async def head_group(self, pull: PullRequest) -> list[PullRequest]:
        """Every open PR whose head is this PR's head commit (fresh copies, this one included when open)."""
        candidates = await self._from_head(pull.head.label or f"{self.api.owner}:{pull.head.ref}")
        return sorted((p for p in candidates if p.head.sha == pull.head.sha), key=lambda p: p.number)

    async def fr_into_devel(self, fr_branch: str) -> list[PullRequest]:
        """The open PRs that take this FR branch into devel (a child PR's parents)."""
        devel = self.config.branches.devel
        found = await self._from_head(f"{self.api.owner}:{fr_branch}")
        return [p for p in found if p.head.ref == fr_branch and p.base.ref == devel and p.head_in(self.api.full_name)]

    async def children(self, fr_branch: str) -> tuple[ChildPr, ...] | None:
        if fr_branch not in self._children:
            if self.open_pulls is not None:
                found = [p for p in self.open_pulls if p.base.ref == fr_branch]
            else:
                found = await self.api.open_pulls(base=fr_branch)
            self._children[fr_branch] = tuple(
                ChildPr(p.number, p.title, p.html_url) for p in sorted(found, key=lambda p: p.number)
            )
        return self._children[fr_branch]

    async def behind_by(self, pull: PullRequest) -> int | None:
        """How many commits of devel the PR's head branch lacks; None when git cannot say (branch gone)."""
        head = pull.head.ref if pull.head_in(self.api.full_name) else pull.head.label
        if head not in self._behind:
            comparison = await self.api.compare(self.config.branches.devel, head, per_page=1)
            self._behind[head] = comparison.behind_by if comparison is not None else None
        return self._behind[head]

    async def check_runs(self, head_sha: str) -> dict[str, CheckRun]:
        """This app's newest check run per name on the commit (one read, conditional via ETag)."""
        if head_sha not in self._runs:
            self._runs[head_sha] = await self.api.my_check_runs(head_sha)
        return self._runs[head_sha]

    async def signoff(self, pull: PullRequest, label: str) -> LabelSignoff:
        """Whether the label is on the PR and which role holder applied it (the guard's own answer)."""
        if label.lower() not in {name.lower() for name in pull.label_names}:
            return LabelSignoff(False)
        if label == self.config.labels.fr_ready:
            return LabelSignoff(True, await guards.ready_by(self.ctx, pull.number, pull.label_names))
        # QA verifies commits: the label counts for the PR's head only when QA's record is on that commit.
        return LabelSignoff(True, await guards.verified_by(self.ctx, pull.number, pull.label_names, pull.head.sha))

    async def facts(self, pull: PullRequest) -> PullFacts:
        base, head = pull.base.ref, pull.head.ref
        by_bot = pull.author == self.ctx.bot_login
        needed = rules.facts_needed(self.config, base, head, by_bot)
        facts = PullFacts(
            number=pull.number,
            title=pull.title,
            body=pull.body or "",
            head_ref=head,
            base_ref=base,
            opened_by_bot=by_bot,
            html_url=pull.html_url,
        )
        extra: dict[str, Any] = {}
        if rules.NEED_CHILDREN in needed:
            extra["open_children"] = await self.children(head)
        if rules.NEED_BEHIND in needed:
            extra["behind_by"] = await self.behind_by(pull)
        if rules.NEED_READY in needed:
            extra["ready"] = await self.signoff(pull, self.config.labels.fr_ready)
        if rules.NEED_VERIFIED in needed:
            extra["verified"] = await self.signoff(pull, self.config.labels.verified)
        if rules.NEED_PICK in needed:
            extra["pick"] = await cherry_pick.pick_custody(self.ctx, pull)
        return dataclasses.replace(facts, **extra)

    async def evaluate_group(self, group: list[PullRequest]) -> None:
        """Decide every open PR on one head commit and write the checks that changed."""
        if not group:
            return
        head_sha = group[0].head.sha
        name = self.config.checks.merge_rules
        shared = len(group) > 1
        wanted: list[tuple[str, rules.CheckOutput]] = []
        entries: list[tuple[Verdict, str]] = []
        for pull in group:
            verdict = rules.evaluate(self.config, await self.facts(pull))
            self.verdicts[pull.number] = verdict
            entries.append((verdict, pull.html_url))
            wanted.append((rules.check_name(name, verdict.base_ref, shared_head=shared), rules.check_output(verdict)))
        if shared:
            wanted.append((name, rules.combined_output(entries)))
        if self.notice:
            wanted = [
                (check, dataclasses.replace(out, summary=f"{self.notice}\n\n{out.summary}")) for check, out in wanted
            ]
        existing = await self.check_runs(head_sha)
        # A per-base check left from when this head had PRs into several bases: say it no longer applies.
        names = {check for check, _ in wanted}
        for check in sorted(existing):
            if check.startswith(f"{name} (") and check not in names:
                wanted.append((check, rules.retired_output(check[len(name) + 2 : -1])))
        for check, output in wanted:
            await write_check(self.api, head_sha, check, output, existing.get(check))


async def write_check(
    api: MergeRulesAPI, head_sha: str, name: str, output: rules.CheckOutput, existing: CheckRun | None
) -> CheckRun:
    return await api.ensure_check_run(
        name=name,
        head_sha=head_sha,
        status=output.status,
        conclusion=output.conclusion,
        title=output.title,
        summary=output.summary,
        existing=existing,
        existing_known=True,
        update_completed=True,
    )


# --- what to re-evaluate ----------------------------------------------------------------------


async def new_round(ctx: Context, open_pulls: list[PullRequest] | None = None) -> Round:
    """A round on the config to act on; a broken config is said on every check, never passed over."""
    loaded = await ctx.loaded_config()
    notice = ""
    if loaded.errors:
        problems = "; ".join(inline(str(e)) for e in loaded.errors[:3])
        basis = "the last valid configuration" if loaded.stale else "the default configuration"
        notice = f"> ⚠️ `{CONFIG_PATH}` is invalid ({problems}); these rules follow {basis} until it is fixed."
    return Round(ctx, await ctx.config(), open_pulls, notice)


async def evaluate_pulls(ctx: Context, pulls: Iterable[PullRequest], round_: Round | None = None) -> Round:
    """Re-evaluate these PRs (and every open PR sharing a head with one of them)."""
    round_ = round_ or await new_round(ctx)
    done: set[str] = set()
    for pull in pulls:
        if pull.head.sha in done:
            continue
        done.add(pull.head.sha)
        await round_.evaluate_group(await round_.head_group(pull))
    return round_


async def refresh_fr_into_devel(ctx: Context) -> Round:
    """Every open FR → devel PR (devel moved, so "behind" may have changed)."""
    open_pulls = await ctx.api.open_pulls()
    round_ = await new_round(ctx, open_pulls)
    config = round_.config
    chosen = [p for p in open_pulls if rules.kind_of(config, p.base.ref, p.head.ref) == rules.FR_INTO_DEVEL]
    return await evaluate_pulls(ctx, chosen, round_)


async def refresh_all(ctx: Context) -> Round:
    """Every open PR (the config changed, or someone asked)."""
    open_pulls = await ctx.api.open_pulls()
    round_ = await new_round(ctx, open_pulls)
    return await evaluate_pulls(ctx, open_pulls, round_)


async def sweep(ctx: Context) -> None:
    """The periodic catch-up: open FR → devel PRs, whose verdict changes without an event on the PR."""
    await refresh_fr_into_devel(ctx)


# --- events -----------------------------------------------------------------------------------


async def on_pull_request(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.PullRequestEvent)
    action = payload.action
    changes = payload.changes if isinstance(payload, events.PullRequestEdited) else {}
    pull = as_pull(payload.pull_request)
    round_ = await new_round(ctx)
    config = round_.config
    if action == "edited" and not ({"title", "body", "base"} & set(changes)):
        return
    # The PR itself and every open PR on its head (its closing changes whether the head is shared).
    await evaluate_pulls(ctx, [pull], round_)
    # A child PR into an FR branch changes its parents' "no open child PRs".
    child_moves = action in ("opened", "closed", "reopened") or (action == "edited" and "base" in changes)
    if not child_moves:
        return
    fr_branches = {pull.base.ref}
    old_ref = changes.get("base", {}).get("ref")
    old_base = old_ref.get("from") if isinstance(old_ref, dict) else None
    if isinstance(old_base, str) and old_base:
        fr_branches.add(old_base)
    for fr_branch in sorted(b for b in fr_branches if is_feature_branch(config, b)):
        await evaluate_pulls(ctx, await round_.fr_into_devel(fr_branch), round_)


# Registered per action, so the door can tell an action no rule reads (assigned, ...) from one it does.
for _action in PR_ACTIONS:
    router.add(on_pull_request, "pull_request", action=_action)


@router.register("push")
async def on_push(event: Event, ctx: Context) -> None:
    push = ctx.payload_of(events.Push)
    if not push.ref.startswith("refs/heads/") or push.deleted:
        return
    branch = push.ref[len("refs/heads/") :]
    if branch == push.repository.default_branch and push_touches_config(event.data) is not False:
        await refresh_all(ctx)  # the processor dropped the cached config before dispatch
        return
    config = await ctx.config()
    if branch == config.branches.devel:
        await refresh_fr_into_devel(ctx)


@router.register("merge_group", action="checks_requested")
async def on_merge_group(event: Event, ctx: Context) -> None:
    """A merge queue's group commit gets the verdict of the PR it adds, so the queue never waits on us."""
    group = ctx.payload_of(events.MergeGroupChecksRequested).merge_group
    config = await ctx.config()
    name = config.checks.merge_rules
    match = _QUEUE_PR.search(group.head_ref)
    output: rules.CheckOutput
    if match is None:
        output = rules.CheckOutput(
            "completed",
            "failure",
            "Could not tell which PR this merge group adds",
            f"The merge group's ref `{group.head_ref}` names no `pr-<number>`, so its merge rules "
            "cannot be checked. Re-queue the PR.",
        )
    else:
        number = int(match.group(1))
        pull = await ctx.api.pull(number)
        if pull.state != "open":
            output = rules.CheckOutput(
                "completed",
                "failure",
                f"#{number} is not open",
                f"The merge group adds #{number}, which is {pull.state}.",
            )
        else:
            round_ = await evaluate_pulls(ctx, [pull])
            # The listing may already show a newer head than this read did: decide on what was read.
            verdict = round_.verdicts.get(number) or rules.evaluate(round_.config, await round_.facts(pull))
            own = rules.check_output(verdict)
            output = rules.CheckOutput(
                own.status,
                own.conclusion,
                f"#{number}: {own.title}",
                f"Merge group for [#{number}]({pull.html_url}).\n\n{own.summary}",
            )
    existing = await ctx.api.latest_check_run(group.head_sha, name)
    await write_check(ctx.api, group.head_sha, name, output, existing)


@commands.command(
    "refresh",
    roles=("write",),
    usage="/refresh",
    summary="re-evaluate the checks and state of this PR (on an issue: every open PR)",
    where="any",
)
async def refresh_command(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    if "pull_request" not in issue:
        round_ = await refresh_all(ctx)
        return CommandReply(True, f"Merge rules re-evaluated on {len(round_.verdicts)} open PRs.")
    pull = await ctx.api.pull(issue["number"])
    if pull.state != "open":
        return CommandReply(True, "")
    round_ = await evaluate_pulls(ctx, [pull])
    verdict = round_.verdicts.get(pull.number)
    if verdict is None:
        return CommandReply(True, "")
    out = rules.check_output(verdict)
    return CommandReply(True, f"Merge rules: {out.title}.")
