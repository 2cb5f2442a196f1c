"""What to cherry-pick where: the commits a merge landed, the recorded state and each target's next step (pure)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.rules.names import is_version, pick_branch, version_key
from bot.rules.text import no_pings

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
WAIT_MERGE = "waiting-merge"
WAIT_QA = "waiting-qa"

SETTLED = frozenset({OPENED, MERGED, PRESENT})  # nothing left to do for this target
STOPPED = frozenset({CLOSED, CONFLICT, BRANCH_TAKEN})  # only a new /cherry-pick asks again
NEEDS_PEOPLE = frozenset({CONFLICT, BRANCH_TAKEN, MISSING_RC, FAILED})


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
    pr: int | None = None  # the pick PR (opened, merged, closed)
    detail: str = ""  # why, in words (conflicting files, who pushed ...)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "rc_branch": self.rc_branch}
        if self.pr is not None:
            out["pr"] = self.pr
        if self.detail:
            out["detail"] = self.detail
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
        )
    return states


# -- the decision per target ------------------------------------------------------------------------

PICK = "pick"
CHECK_RC = "check-rc"  # read the RC branch, then decide again
KEEP = "keep"  # leave the recorded state as it is
WAIT = "wait"
MISSING = "missing-rc"


@dataclass(frozen=True)
class TargetFacts:
    version: str
    rc_branch: str
    merged: bool
    verified: bool
    recorded: PickState | None = None
    asked_again: bool = False  # a /cherry-pick named this version just now
    rc_checked: bool = False
    rc_exists: bool = False


@dataclass(frozen=True)
class TargetDecision:
    action: str  # PICK | CHECK_RC | KEEP | WAIT | MISSING
    state: str | None = None  # the state to record for WAIT and MISSING


def decide_target(facts: TargetFacts) -> TargetDecision:
    """The next step for one target; the order in which merge, verify and target arrived never matters."""
    recorded = facts.recorded.state if facts.recorded is not None else None
    if recorded in SETTLED:
        return TargetDecision(KEEP)
    if recorded in STOPPED and not facts.asked_again:
        return TargetDecision(KEEP)
    if not facts.merged:
        return TargetDecision(WAIT, WAIT_MERGE)
    if not facts.verified:
        return TargetDecision(WAIT, WAIT_QA)
    if not facts.rc_checked:
        return TargetDecision(CHECK_RC)
    if not facts.rc_exists:
        return TargetDecision(MISSING, MISSING_RC)
    return TargetDecision(PICK)


@dataclass(frozen=True)
class BranchFacts:
    """What is on an existing pick branch, relative to the RC head."""

    exists: bool
    commits_since_rc: tuple[tuple[str, str], ...] = ()  # (sha, committer login or "") ahead of the RC
    open_pr: int | None = None  # an open PR from it into the RC


@dataclass(frozen=True)
class BranchDecision:
    action: str  # "create" | "reset" | "adopt" (an open PR exists) | "leave" (people's commits)
    pr: int | None = None
    people: tuple[str, ...] = field(default=())


def decide_branch(facts: BranchFacts, bot_login: str) -> BranchDecision:
    """An earlier attempt's branch is reset; a branch with people's commits is never overwritten."""
    if not facts.exists:
        return BranchDecision("create")
    if facts.open_pr is not None:
        return BranchDecision("adopt", pr=facts.open_pr)
    people = tuple(sorted({who or "someone" for _, who in facts.commits_since_rc if who != bot_login}))
    if people:
        return BranchDecision("leave", people=people)
    return BranchDecision("reset")


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
    WAIT_MERGE: "waiting for the merge",
    WAIT_QA: "waiting for QA's verified label",
}


def describe_state(state: PickState, branch: str = "") -> str:
    template = _WORDS.get(state.state, state.state)
    return template.format(pr=state.pr, version=state.version, rc=state.rc_branch, branch=branch)


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


def conflict_commands(pr_number: int, rc_branch: str, shas: Sequence[str], mainline: bool) -> str:
    """The exact commands that finish a conflicting pick by hand."""
    # People paste these into a shell, and a configured RC branch name may hold `$(...)`, `;` or quotes.
    branch = shlex.quote(pick_branch(pr_number, rc_branch))
    pick = "git cherry-pick -x " + ("-m 1 " if mainline else "") + " ".join(shas)
    return "\n".join(
        [
            "git fetch origin",
            f"git switch -c {branch} {shlex.quote('origin/' + rc_branch)}",
            pick,
            "# resolve the conflicts, `git add` the files, then `git cherry-pick --continue`",
            f"git push origin {branch}",
        ]
    )
