"""QA's verification of a PR's commits (pure): the record the bot keeps of it, and what a later push does to it.

When QA applies the verified label, the bot records the PR's head commit in an app-owned check run on
that commit, which no person and no other app can change. A push to the PR drops the verification
(policy-bot's `invalidate_on_push`): the bot removes the label and says why. The one push that keeps it
is an update from the base (policy-bot's `ignore_update_merges`), told from git's facts, never from a
commit message: a merge commit whose first parent is the verified head, whose second parent is already
on the base, and which brings in exactly the base's changes. Every path it changes from the verified
head then holds the base side's content and is one the PR left alone, and every path it changes from
the base side holds the PR's content and is one the base left alone. An update that had to merge a path
both sides changed cannot be told from a hand-made merge that slipped in a change of its own, so it
drops the verification too, as does any listing GitHub cut short (it lists at most 300 files).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.rules.text import addressed, no_pings

STATE_TAG = "release-train:verified"
_STATE_LINE = re.compile(r"<!-- " + re.escape(STATE_TAG) + r" (\{.*?\}) -->")
FILES_LISTED = 300  # GitHub's compare lists at most this many files


def short(sha: str) -> str:
    return sha[:7]


@dataclass(frozen=True)
class Verification:
    """QA's verification of one commit, as the bot's check run on that commit records it."""

    sha: str  # the verified commit (the check run's head)
    by: str  # the QA member who applied the label
    pr: int  # the PR QA verified
    carried_from: str = ""  # for an update from the base: the verified head the update merged onto


def encode(verification: Verification) -> str:
    blob = {"by": verification.by, "pr": verification.pr}
    if verification.carried_from:
        blob["from"] = verification.carried_from
    return f"<!-- {STATE_TAG} {json.dumps(blob, sort_keys=True, separators=(',', ':'))} -->"


def decode(text: str | None, sha: str) -> Verification | None:
    """The verification a check run's `output.text` records for its commit sha (None when absent or unreadable)."""
    match = _STATE_LINE.search(text or "")
    if match is None:
        return None
    try:
        blob = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(blob, dict) or not isinstance(blob.get("by"), str) or not isinstance(blob.get("pr"), int):
        return None
    carried = blob.get("from")
    return Verification(sha, blob["by"], blob["pr"], carried if isinstance(carried, str) else "")


@dataclass(frozen=True)
class CheckOutput:
    title: str
    summary: str
    text: str


def check_output(verification: Verification, label: str) -> CheckOutput:
    """The check run on the verified commit: completed, success; the record in its text."""
    who = f"`{no_pings(verification.by)}`"
    if verification.carried_from:
        title = f"Verified by QA ({no_pings(verification.by)}), kept through an update from the base"
        summary = (
            f"QA ({who}) verified #{verification.pr} at `{short(verification.carried_from)}`; this commit only "
            f'merges the base into it (GitHub\'s "Update branch"), so the verification still holds.'
        )
    else:
        title = f"Verified by QA ({no_pings(verification.by)})"
        summary = (
            f"QA ({who}) applied `{no_pings(label)}` to #{verification.pr} with this commit as its head: "
            "the verification covers exactly this commit. A push to the PR drops it, but for an update "
            "from the base."
        )
    return CheckOutput(title, summary, encode(verification))


# -- what a push does to a verification ----------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """One path a compare lists: its blob on the head side, or None when the head side removed it."""

    path: str
    blob: str | None


@dataclass(frozen=True)
class UpdateFacts:
    """What git says about a commit pushed onto a verified head."""

    verified_head: str
    pushed: str
    parents: tuple[str, ...]  # the pushed commit's parents, in order
    second_parent_on_base: bool  # the base branch contains the second parent
    from_verified: tuple[FileChange, ...] = ()  # the pushed commit against the verified head
    from_base_side: tuple[FileChange, ...] = ()  # the pushed commit against its second parent
    base_changes: tuple[FileChange, ...] = ()  # the second parent against the merge base: what the base brings
    pr_changes: tuple[FileChange, ...] = ()  # the verified head against the merge base: the PR's own changes
    complete: bool = True  # no listing was cut short


def is_update_merge(facts: UpdateFacts) -> bool:
    """True when the pushed commit is an update of the verified head from the base, and nothing else."""
    if not facts.complete or len(facts.parents) != 2 or facts.parents[0] != facts.verified_head:
        return False
    if not facts.second_parent_on_base:
        return False
    base = {c.path: c.blob for c in facts.base_changes}
    pr = {c.path: c.blob for c in facts.pr_changes}
    # A path both sides changed the same way merges trivially; one they changed differently needed a real merge.
    if any(base[path] != pr[path] for path in base.keys() & pr.keys()):
        return False
    base_only = {path: blob for path, blob in base.items() if path not in pr}
    pr_only = {path: blob for path, blob in pr.items() if path not in base}
    return {c.path: c.blob for c in facts.from_verified} == base_only and {
        c.path: c.blob for c in facts.from_base_side
    } == pr_only


KEEP, CARRY, DROP = "keep", "carry", "drop"


@dataclass(frozen=True)
class PushFacts:
    number: int
    label: str
    pushed: str  # the PR's new head
    pusher: str  # who pushed (the event's sender)
    before: str  # the PR's head before the push
    verified: Verification | None  # the record on the head before the push
    pushed_is_verified: bool  # the new head already carries a record (the push was handled before)
    update: bool  # the push is an update from the base of the verified head (is_update_merge)


@dataclass(frozen=True)
class PushDecision:
    action: str  # KEEP | CARRY (record the verification on the new head) | DROP (remove the label and say why)
    note: str = ""
    carried: Verification | None = None


def decide_push(facts: PushFacts) -> PushDecision:
    """A push to a PR carrying the verified label: keep it, carry it to the new head, or drop it with a note."""
    if facts.pushed_is_verified:
        return PushDecision(KEEP)
    if facts.verified is not None and facts.update:
        carried = Verification(facts.pushed, facts.verified.by, facts.number, carried_from=facts.verified.sha)
        return PushDecision(CARRY, carried=carried)
    label, pusher = f"`{no_pings(facts.label)}`", f"`{no_pings(facts.pusher)}`"
    pushed = f"`{short(facts.pushed)}`"
    if facts.verified is not None:
        why = (
            f"QA (`{no_pings(facts.verified.by)}`) verified this PR at `{short(facts.verified.sha)}`, and "
            f"{pusher} pushed {pushed} after that"
        )
    else:
        why = f"{pusher} pushed {pushed} (on top of `{short(facts.before)}`), and no QA verification covers it"
    note = (
        f"I removed {label}: {why}, so the label no longer stands for the commits QA saw. "
        f"QA verifies the PR again by applying {label} to it as it is now. (An update from the base "
        'made with GitHub\'s "Update branch" keeps a verification.)'
    )
    # The note answers the QA member whose label it removed; a label with no record of QA behind it is nobody's.
    return PushDecision(DROP, note=addressed(facts.verified.by, note) if facts.verified is not None else note)
