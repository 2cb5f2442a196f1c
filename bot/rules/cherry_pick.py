"""What to cherry-pick where (pure): the commits a merge landed, the recorded state, each target's next step and
the facts it needs first, who holds the pick PR, and the words people read about all of it.

A pick's chain of custody: the bot picks only the commits QA verified (the PR's head carries QA's
record), records the head of the pick branch it made, and from then on any other commit on that branch is
someone else's: the pick PR's merge-rules check fails naming it, and the target counts as unfinished
(`PUSHED`) until QA verifies the pick PR itself at its new head.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.rules.names import is_version, pick_branch, version_key
from bot.rules.references import IssueRef, commit_link, plain_references
from bot.rules.text import inline, no_pings

STATE_TAG = "release-train:cherry-pick-state"
_STATE_LINE = re.compile(r"<!-- " + re.escape(STATE_TAG) + r" (\{.*?\}) -->")

# A target's recorded state, as the check run keeps it (see `PickState`).
OPENED = "opened"  # pick PR #pr open
MERGED = "merged"  # pick PR #pr merged into the RC
CLOSED = "closed"  # pick PR #pr closed without merging: stays closed until /cherry-pick asks again
PRESENT = "present"  # the change is already on the RC
CONFLICT = "conflict"  # git would stop; people finish by hand
BRANCH_TAKEN = "branch-taken"  # the pick branch holds people's commits; the bot leaves it alone
MISSING_RC = "missing-rc"  # the RC branch does not exist (yet)
FAILED = "failed"  # GitHub refused a step; tried again on the next event
PUSHED = "pushed-to"  # the pick PR #pr holds commits the bot did not pick; QA verifying it at its head clears it
NO_WORKFLOWS = "workflows"  # the pick changes workflow files, which GitHub lets no app without `workflows` commit
WAIT_MERGE = "waiting-merge"
WAIT_QA = "waiting-qa"

SETTLED = frozenset({OPENED, MERGED, PRESENT})  # nothing left to do for this target
HAS_PICK_PR = frozenset({OPENED, MERGED, PUSHED})  # a pick PR of the bot's stands for the target
STOPPED = frozenset({CLOSED, CONFLICT, BRANCH_TAKEN, NO_WORKFLOWS})  # only a new /cherry-pick asks again
NEEDS_PEOPLE = frozenset({CONFLICT, BRANCH_TAKEN, MISSING_RC, FAILED, PUSHED, NO_WORKFLOWS})
WORKFLOWS_DIR = ".github/workflows/"


def unreadable_target_note(label: str, prefix: str) -> str:
    """What the bot says about a label under the target prefix that names no version.

    The name is shown in code, where it neither renders nor pings.
    """
    shown = "`" + label.replace("`", "'") + "`"
    return (
        f"The label {shown} names no RC, so I ignore it: a target label is `{prefix}` followed by a version "
        f"MAJOR.MINOR without leading zeros, such as `{prefix}1.5`."
    )


TITLE_LIMIT = 256  # GitHub refuses longer issue and PR titles


def pick_title(rc_branch: str, title: str, pr_number: int) -> str:
    """The pick PR's title: the source's, defused since the bot is the one writing it, cut to GitHub's limit."""
    head, tail = f"[{rc_branch}] ", f" (#{pr_number})"
    middle = no_pings(title)
    room = TITLE_LIMIT - len(head) - len(tail)
    if len(middle) > room:
        middle = middle[: max(room - 1, 0)] + "…"
    return head + middle + tail


# -- which commits landed --------------------------------------------------------------------------


@dataclass(frozen=True)
class LandedCommit:
    """A commit on the PR's base, as `GET commits?sha=` lists it."""

    sha: str
    parents: tuple[str, ...]
    message: str
    author_name: str = ""
    author_email: str = ""


@dataclass(frozen=True)
class PickPlan:
    style: str  # "merge" | "squash" | "rebase"
    shas: tuple[str, ...]  # oldest first
    mainline: bool  # True: pick against the first parent (`git cherry-pick -m 1`)


def chain_from(commits: Sequence[LandedCommit], head: str, limit: int) -> tuple[LandedCommit, ...]:
    """Up to limit commits from head down its first-parent chain (newest first), within the listing."""
    by_sha = {c.sha: c for c in commits}
    chain: list[LandedCommit] = []
    sha: str | None = head
    while sha is not None and sha in by_sha and len(chain) < limit:
        commit = by_sha[sha]
        chain.append(commit)
        sha = commit.parents[0] if commit.parents else None
    return tuple(chain)


def plan_commits(
    merge_commit_sha: str,
    pr_commit_count: int,
    landed: Sequence[LandedCommit],
    pr_commits: Sequence[LandedCommit] | None = None,
) -> PickPlan | None:
    """The commits that the PR's merge put on its base, and how to pick them.

    A merge commit has two parents; it is picked alone against its first parent. With one parent,
    one PR commit means squash or a one-commit rebase (the same pick). With N > 1 PR commits the N
    commits down from merge_commit_sha are a rebase when they carry the PR commits' messages and
    authors in order, and otherwise the one squash commit. None: the PR's commits are needed to
    tell (pass pr_commits) or the listing is too short.
    """
    head = next((c for c in landed if c.sha == merge_commit_sha), None)
    if head is None:
        return None
    if len(head.parents) > 1:
        return PickPlan("merge", (head.sha,), True)
    if pr_commit_count <= 1:
        return PickPlan("squash", (head.sha,), False)
    chain = chain_from(landed, merge_commit_sha, pr_commit_count)
    if any(len(c.parents) != 1 for c in chain):
        return PickPlan("squash", (head.sha,), False)
    if pr_commits is None:
        return None
    if len(pr_commits) == pr_commit_count and _same(tuple(reversed(chain)), pr_commits):
        return PickPlan("rebase", tuple(c.sha for c in reversed(chain)), False)
    return PickPlan("squash", (head.sha,), False)


def _same(landed: Sequence[LandedCommit], pr_commits: Sequence[LandedCommit]) -> bool:
    return len(landed) == len(pr_commits) and all(
        (a.message.strip(), a.author_name, a.author_email.lower())
        == (b.message.strip(), b.author_name, b.author_email.lower())
        for a, b in zip(landed, pr_commits, strict=False)
    )


# -- recorded state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickState:
    """One target's state as the `release-train/cherry-pick` check run records it."""

    version: str
    state: str
    rc_branch: str = ""
    pr: int | None = None  # the pick PR (opened, merged, closed, pushed-to)
    detail: str = ""  # why, in words (conflicting files, who pushed ...)
    head: str = ""  # the pick branch's head as the bot made it (or as QA verified it since)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "rc_branch": self.rc_branch}
        if self.pr is not None:
            out["pr"] = self.pr
        if self.detail:
            out["detail"] = self.detail
        if self.head:
            out["head"] = self.head
        return out


def encode_states(states: Mapping[str, PickState]) -> str:
    """The machine-readable line kept in the check run's text (hidden when rendered)."""
    blob = {v: states[v].to_json() for v in sorted(states, key=version_key)}
    return f"<!-- {STATE_TAG} {json.dumps({'targets': blob}, sort_keys=True, separators=(',', ':'))} -->"


def decode_states(text: str | None) -> dict[str, PickState]:
    """Per-target states from a check run's `output.text` ({} when absent or unreadable).

    The format, for readers such as the RC gate: a line
    `<!-- release-train:cherry-pick-state {"targets": {"1.5": {"state": "opened", "rc_branch": "rc/1.5", "pr": 12}}} -->`.
    """
    if not text:
        return {}
    match = _STATE_LINE.search(text)
    if not match:
        return {}
    try:
        blob = json.loads(match.group(1))
    except ValueError:
        return {}
    states: dict[str, PickState] = {}
    for version, entry in (blob.get("targets") or {}).items():
        if not isinstance(entry, dict) or not is_version(str(version)):
            continue
        pr = entry.get("pr")
        states[str(version)] = PickState(
            version=str(version),
            state=str(entry.get("state", "")),
            rc_branch=str(entry.get("rc_branch", "")),
            pr=int(pr) if isinstance(pr, int) else None,
            detail=str(entry.get("detail", "")),
            head=str(entry.get("head", "")),
        )
    return states


def kept_after_withdrawal(recorded: Mapping[str, PickState], decided: Mapping[str, PickState]) -> dict[str, PickState]:
    """The recorded targets no label asks for any more that still have a pick PR, so the gate still sees them."""
    return {
        version: state
        for version, state in recorded.items()
        if version not in decided and state.pr is not None and state.state in HAS_PICK_PR | {CLOSED}
    }


# -- the decision per target ------------------------------------------------------------------------

PICK = "pick"
KEEP = "keep"  # leave the recorded state as it is
WAIT = "wait"
MISSING = "missing-rc"

# Facts a target's decision may need, gathered only when `next_fact` asks for them.
NEED_VERIFIED = "verified"  # whether QA verified the PR at its head (one answer for all its targets)
NEED_RC = "rc"  # whether the RC branch exists (its head, for the pick)


@dataclass(frozen=True)
class TargetFacts:
    version: str
    rc_branch: str
    merged: bool
    recorded: PickState | None = None
    asked_again: bool = False  # a /cherry-pick named this version just now
    verified: bool | None = None  # None: not gathered yet
    rc_exists: bool | None = None  # None: not gathered yet


@dataclass(frozen=True)
class TargetDecision:
    action: str  # PICK | KEEP | WAIT | MISSING
    state: str | None = None  # the state to record for WAIT and MISSING


def _kept(facts: TargetFacts) -> bool:
    recorded = facts.recorded.state if facts.recorded is not None else None
    if recorded in SETTLED or recorded == PUSHED:
        return True  # exactly once: a pick PR (or the change itself) already stands for the target
    return recorded in STOPPED and not facts.asked_again


def next_fact(facts: TargetFacts) -> str | None:
    """The fact `decide_target` needs next (NEED_VERIFIED, then NEED_RC), or None once it can decide.

    Nothing is read for a target that is settled or stopped, or whose PR is not merged yet; the RC branch
    is read only once QA's verification is known to cover the PR's head.
    """
    if _kept(facts) or not facts.merged:
        return None
    if facts.verified is None:
        return NEED_VERIFIED
    if facts.verified and facts.rc_exists is None:
        return NEED_RC
    return None


def decide_target(facts: TargetFacts) -> TargetDecision:
    """The next step for one target; the order in which merge, verify and target arrived never matters."""
    if next_fact(facts) is not None:
        raise ValueError(f"{facts.version}: {next_fact(facts)} is needed before deciding")
    if _kept(facts):
        return TargetDecision(KEEP)
    if not facts.merged:
        return TargetDecision(WAIT, WAIT_MERGE)
    if not facts.verified:
        return TargetDecision(WAIT, WAIT_QA)
    if not facts.rc_exists:
        return TargetDecision(MISSING, MISSING_RC)
    return TargetDecision(PICK)


@dataclass(frozen=True)
class BranchFacts:
    """What is on an existing pick branch, relative to the RC head."""

    exists: bool
    commits_since_rc: tuple[tuple[str, str], ...] = ()  # (sha, committer login or "") ahead of the RC
    open_pr: int | None = None  # an open PR of the bot's from it into the RC
    open_pr_head: str = ""  # that PR's head
    peoples_pr: int | None = None  # an open PR a person opened from it into the RC (never the pick)


@dataclass(frozen=True)
class BranchDecision:
    action: str  # "create" | "reset" | "adopt" (the bot's open PR exists) | "leave" (people's commits or PR)
    pr: int | None = None
    people: tuple[str, ...] = field(default=())


def decide_branch(facts: BranchFacts, bot_login: str) -> BranchDecision:
    """An earlier attempt's branch is reset; a branch with people's commits, or a PR a person opened from it,
    is never overwritten, and only the bot's own PR is ever taken for the pick."""
    if not facts.exists:
        return BranchDecision("create")
    people = tuple(sorted({who or "someone" for _, who in facts.commits_since_rc if who != bot_login}))
    if facts.open_pr is not None and not people:
        return BranchDecision("adopt", pr=facts.open_pr)
    if people or facts.peoples_pr is not None or facts.open_pr is not None:
        return BranchDecision("leave", pr=facts.peoples_pr, people=people)
    return BranchDecision("reset")


# -- who holds the pick PR ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PickCustody:
    """What the bot's pick PR holds beyond what the bot picked."""

    foreign: tuple[tuple[str, str], ...] = ()  # (sha, who made it) of commits the bot did not pick, oldest first
    verified_by: str | None = None  # the QA member who verified the pick PR at its head, if any

    @property
    def held(self) -> bool:
        """The PR holds only what the bot picked, or what QA verified at its head."""
        return not self.foreign or self.verified_by is not None


def custody_state(state: PickState, custody: PickCustody, head: str, merged: bool, closed: bool) -> PickState:
    """A target's state once its pick PR (at head) is read again: pushed-to while it holds commits nobody
    verified; back to opened or merged, at the head QA verified, once QA verified it."""
    if closed and not merged:
        return PickState(state.version, CLOSED, state.rc_branch, state.pr, head=state.head)
    if not custody.held:
        return PickState(state.version, PUSHED, state.rc_branch, state.pr, foreign_words(custody.foreign), state.head)
    settled = MERGED if merged else OPENED
    return PickState(state.version, settled, state.rc_branch, state.pr, head=head if custody.foreign else state.head)


def foreign_words(foreign: Sequence[tuple[str, str]], limit: int = 10) -> str:
    """ "`abc1234` by `dana`, `def5678` by `erin`" (names in code, so nobody is pinged)."""
    shown = [f"`{sha[:7]}` by `{no_pings(who or 'someone')}`" for sha, who in foreign[:limit]]
    if len(foreign) > limit:
        shown.append(f"and {len(foreign) - limit} more")
    return ", ".join(shown)


# -- what the check run says ------------------------------------------------------------------------

_WORDS = {
    OPENED: "opened #{pr}",
    MERGED: "merged in #{pr}",
    CLOSED: "#{pr} was closed without merging; `/cherry-pick {version}` asks again",
    PRESENT: "already present on `{rc}`",
    CONFLICT: "conflict: finish by hand (see the comment), then `/cherry-pick {version}` to retry",
    BRANCH_TAKEN: "`{branch}` holds other people's commits; left alone",
    MISSING_RC: "`{rc}` does not exist",
    FAILED: "GitHub refused a step (see the comment); tried again on the next change or `/refresh`",
    PUSHED: "#{pr} holds commits I did not pick ({detail}): QA verifies it at its head",
    NO_WORKFLOWS: "it changes workflow files, which GitHub lets no app commit without `workflows`: pick it by hand",
    WAIT_MERGE: "waiting for the merge",
    WAIT_QA: "waiting for QA to verify the PR at its head",
}


def describe_state(state: PickState, branch: str = "") -> str:
    template = _WORDS.get(state.state, state.state)
    return template.format(pr=state.pr, version=state.version, rc=state.rc_branch, branch=branch, detail=state.detail)


@dataclass(frozen=True)
class CheckOutput:
    status: str
    conclusion: str | None
    title: str
    summary: str
    text: str


def check_output(states: Mapping[str, PickState], pr_number: int) -> CheckOutput:
    """The check run for the original PR: one row per target, the states as JSON in its text."""
    ordered = [states[v] for v in sorted(states, key=version_key)]
    rows = ["| target | state |", "| --- | --- |"]
    for s in ordered:
        rows.append(f"| `{s.rc_branch}` | {describe_state(s, pick_branch(pr_number, s.rc_branch))} |")
    kinds = {s.state for s in ordered}
    if kinds & NEEDS_PEOPLE:
        status, conclusion = "completed", "action_required"
        needing = [s for s in ordered if s.state in NEEDS_PEOPLE]
        title = "Needs a person: " + ", ".join(f"{s.rc_branch} ({s.state})" for s in needing)
    elif kinds & {WAIT_MERGE, WAIT_QA}:
        status, conclusion = "in_progress", None
        waiting = sorted(kinds & {WAIT_MERGE, WAIT_QA})
        title = "Waiting: " + ", ".join("merge" if w == WAIT_MERGE else "QA" for w in waiting)
    elif not ordered:
        status, conclusion, title = "completed", "neutral", "No cherry-pick targets"
    else:
        status, conclusion = "completed", "success" if kinds - {CLOSED} else "neutral"
        title = "Cherry-picks: " + ", ".join(f"{s.rc_branch} {s.state}" for s in ordered)
    summary = "\n".join(rows)
    return CheckOutput(status, conclusion, title, summary, encode_states(states))


def conflict_commands(
    pr_number: int, rc_branch: str, shas: Sequence[str], mainline: bool, *, resolve: bool = True
) -> str:
    """The exact commands that make a pick by hand (resolve: with the step that finishes a conflict)."""
    # People paste these into a shell, and a configured RC branch name may hold `$(...)`, `;` or quotes.
    branch = shlex.quote(pick_branch(pr_number, rc_branch))
    pick = "git cherry-pick -x " + ("-m 1 " if mainline else "") + " ".join(shas)
    steps = ["git fetch origin", f"git switch -c {branch} {shlex.quote('origin/' + rc_branch)}", pick]
    if resolve:
        steps.append("# resolve the conflicts, `git add` the files, then `git cherry-pick --continue`")
    steps.append(f"git push origin {branch}")
    return "\n".join(steps)


# -- the words people read on the source PR ------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A comment on the source PR: posted once per key, or (kept_current) edited to stay equal to body."""

    key: str
    body: str
    kept_current: bool = False


def missing_rc_notice(number: int, version: str, rc_branch: str) -> Notice:
    return Notice(
        f"cherry-pick-missing:{version}",
        f"#{number} asks for a cherry-pick into `{rc_branch}`, but that branch does not exist. "
        f"I will pick it once `{rc_branch}` exists and something changes on this PR (or on `/refresh`).",
    )


def present_notice(number: int, version: str, rc_branch: str) -> Notice:
    return Notice(
        f"cherry-pick-present:{version}",
        f"The changes of #{number} are already on `{rc_branch}`: picking them changes nothing, so I opened no PR.",
    )


def branch_taken_notice(
    number: int, version: str, rc_branch: str, people: Sequence[str], peoples_pr: int | None
) -> Notice:
    branch = pick_branch(number, rc_branch)
    held = []
    if people:
        held.append("commits by " + ", ".join(no_pings("@" + p) for p in people))
    if peoples_pr is not None:
        held.append(f"a PR of its own (#{peoples_pr}), which I never take for my pick")
    return Notice(
        f"cherry-pick-branch:{version}",
        f"I did not pick #{number} into `{rc_branch}`: the branch `{branch}` already holds {' and '.join(held)}, "
        f"and I never overwrite people's work. A pick made by hand counts once QA verifies its PR; or delete the "
        f"branch and comment `/cherry-pick {version}` to let me pick again.",
        kept_current=True,
    )


def by_hand(number: int, rc_branch: str, shas: Sequence[str], mainline: bool, *, resolve: bool) -> str:
    """The commands to make a pick by hand on the pick branch, and what makes it count."""
    return (
        "```sh\n"
        + conflict_commands(number, rc_branch, shas, mainline, resolve=resolve)
        + f"\n```\n\nThen open a PR from `{pick_branch(number, rc_branch)}` into `{rc_branch}`; it counts as the "
        "pick once QA verifies that PR."
    )


def conflict_notice(
    number: int,
    version: str,
    rc_branch: str,
    conflict_sha: str,
    files: Sequence[str],
    shas: Sequence[str],
    mainline: bool,
    repository: str = "",
) -> Notice:
    """repository: its web address, so the conflicting commit links to its page."""
    file_lines = (
        "\n".join(f"- `{inline(f)}`" for f in files) or "- (GitHub did not list any; see `git status` after the pick)"
    )
    return Notice(
        f"cherry-pick-conflict:{version}",
        f"Picking #{number} into `{rc_branch}` conflicts (at commit {commit_link(conflict_sha, repository)}), so I opened no PR. "
        f"To finish by hand:\n\n{by_hand(number, rc_branch, shas, mainline, resolve=True)} Files changed on both "
        f"sides:\n{file_lines}\n\nOnce a prerequisite has landed on `{rc_branch}`, `/cherry-pick {version}` tries again.",
        kept_current=True,
    )


def failed_notice(number: int, version: str, rc_branch: str, status: int, message: str) -> Notice:
    return Notice(
        f"cherry-pick-failed:{version}",
        f"I could not pick #{number} into `{rc_branch}`: GitHub answered {status} ({inline(message)}). "
        "I will try again on the next change to this PR, or on `/refresh`.",
        kept_current=True,
    )


def workflow_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths under `.github/workflows/`, where GitHub lets an app commit only with the `workflows` permission."""
    return tuple(sorted({p for p in paths if p.startswith(WORKFLOWS_DIR)}))


def workflows_notice(
    number: int, version: str, rc_branch: str, paths: Sequence[str], shas: Sequence[str], mainline: bool
) -> Notice:
    listed = ", ".join(f"`{inline(p)}`" for p in paths[:10]) + (
        f" and {len(paths) - 10} more" if len(paths) > 10 else ""
    )
    return Notice(
        f"cherry-pick-workflows:{version}",
        f"I cannot pick #{number} into `{rc_branch}`: it changes {listed}. GitHub refuses a commit that changes "
        "files under `.github/workflows/` from a GitHub App without the `workflows` permission, and Release Train "
        "does not ask for it: whoever may change workflows could change what CI runs, and how a release is checked. "
        f"Someone with write access can make this pick by hand:\n\n{by_hand(number, rc_branch, shas, mainline, resolve=False)}",
        kept_current=True,
    )


def link_notice(version: str, rc_branch: str, pick_number: int) -> Notice:
    return Notice(f"cherry-pick-opened:{version}:{pick_number}", f"Cherry-pick into `{rc_branch}`: #{pick_number}.")


def auto_merge_refused_notice(pick_number: int, rc_branch: str, method: str, reason: str) -> Notice:
    return Notice(
        f"cherry-pick-auto-merge:{pick_number}",
        f"`cherry_pick.auto_merge` is on, but GitHub refused to turn on auto-merge ({method}) for this pick: "
        f"{inline(reason)}. Please merge it by hand once the checks of `{rc_branch}` pass. Auto-merge needs "
        '"Allow auto-merge" in the repository\'s settings and a required check on the RC branch.',
    )


def pick_body(
    number: int,
    title: str,
    rc_branch: str,
    picked: Sequence[tuple[str, str]],
    skipped: Sequence[str],
    verifier: str | None,
    auto_merge_method: str | None,
    *,
    fixes: Sequence[IssueRef] = (),
    repository: str = "",
) -> str:
    """The pick PR's description: what was picked from which commit, the issues the source PR fixes, who
    verified it, how it merges.

    fixes: the issues the source PR's body closes (references.closed_by). They are named without a closing
    keyword, which would do nothing on a PR into an RC branch. repository: its web address, for commit links.
    """
    lines = [f"Cherry-pick of #{number} ({inline(title)}) into `{rc_branch}`.", ""]
    if fixes:
        lines += [f"Fixes in the source PR: {plain_references(fixes)}", ""]
    lines.append("Picked commits:")
    lines += [
        f"- {commit_link(new, repository)} (cherry picked from commit {commit_link(source, repository)})"
        for source, new in picked
    ]
    if skipped:
        lines += [
            "",
            "Already present on the RC, so not picked: " + ", ".join(commit_link(s, repository) for s in skipped),
        ]
    lines.append("")
    lines.append(f"Verified by {no_pings('@' + verifier)} (QA)." if verifier else "Verified by QA.")
    lines.append(
        "Only the commits above are this pick: a commit anyone else pushes here fails `release-train/merge-rules` "
        "until QA verifies this PR at its new head."
    )
    if auto_merge_method:
        lines.append(
            f"`cherry_pick.auto_merge` is on: I turn on GitHub's auto-merge ({auto_merge_method}), "
            "so GitHub merges it once the RC's required checks pass. If GitHub refuses, I say so on this PR."
        )
    else:
        lines.append("Merge it once the RC's checks pass.")
    return "\n".join(lines)
