"""Tables of cases for the pure cherry-pick rules: targets, commits to pick, branch names, decisions."""

from __future__ import annotations

import pytest

from bot.github.cherry_pick import cherry_picked_message
from bot.rules import cherry_pick as rules
from bot.rules.cherry_pick import (
    BranchFacts,
    LandedCommit,
    PickState,
    TargetFacts,
    decide_branch,
    decide_target,
    plan_commits,
)


def test_pick_title() -> None:
    assert rules.pick_title("rc/1.5", "Fix login", 12) == "[rc/1.5] Fix login (#12)"


def _c(sha: str, parents: tuple[str, ...], message: str = "m", name: str = "Ann", email: str = "ann@x") -> LandedCommit:
    return LandedCommit(sha, parents, message, name, email)


LINEAR = [_c("c3", ("c2",), "third"), _c("c2", ("c1",), "second"), _c("c1", ("c0",), "first"), _c("c0", ("b",), "base")]
PR_COMMITS = [_c("p1", ("b",), "first"), _c("p2", ("p1",), "second"), _c("p3", ("p2",), "third")]


@pytest.mark.parametrize(
    "head, count, landed, pr_commits, expected",
    [
        # merge commit: picked alone, against its first parent
        ("m", 3, [_c("m", ("d", "p3"))], None, rules.PickPlan("merge", ("m",), True)),
        # one PR commit: squash and rebase are the same pick
        ("c3", 1, LINEAR[:1], None, rules.PickPlan("squash", ("c3",), False)),
        # N commits rebased: the N commits in order, oldest first
        ("c3", 3, LINEAR, PR_COMMITS, rules.PickPlan("rebase", ("c1", "c2", "c3"), False)),
        # N commits squashed: the messages below are other people's commits
        (
            "c3",
            3,
            [_c("c3", ("x",), "Fix (#9)"), _c("x", ("y",), "other"), _c("y", ("z",), "else")],
            PR_COMMITS,
            rules.PickPlan("squash", ("c3",), False),
        ),
        # N commits, the PR's list not yet read: ask for it
        ("c3", 3, LINEAR, None, None),
        # same messages, another author: not the rebased commits
        (
            "c3",
            3,
            [_c(c.sha, c.parents, c.message, "Bob") for c in LINEAR],
            PR_COMMITS,
            rules.PickPlan("squash", ("c3",), False),
        ),
        # the listing does not reach the head: cannot tell
        ("zz", 1, LINEAR, None, None),
    ],
)
def test_plan_commits(
    head: str,
    count: int,
    landed: list[LandedCommit],
    pr_commits: list[LandedCommit] | None,
    expected: rules.PickPlan | None,
) -> None:
    assert plan_commits(head, count, landed, pr_commits) == expected


def _facts(**kw: object) -> TargetFacts:
    base: dict[str, object] = {"version": "1.5", "rc_branch": "rc/1.5", "merged": True, "verified": True}
    base.update(kw)
    return TargetFacts(**base)  # type: ignore[arg-type]


def _rec(state: str, pr: int | None = None) -> PickState:
    return PickState("1.5", state, "rc/1.5", pr)


@pytest.mark.parametrize(
    "facts, action, state",
    [
        (_facts(merged=False, verified=False), rules.WAIT, rules.WAIT_MERGE),
        (_facts(merged=False, verified=True), rules.WAIT, rules.WAIT_MERGE),
        (_facts(verified=False), rules.WAIT, rules.WAIT_QA),
        (_facts(rc_exists=False), rules.MISSING, rules.MISSING_RC),
        (_facts(rc_exists=True), rules.PICK, None),
        # exactly once: an opened, merged, pushed-to or present target is left alone, even when asked again
        (_facts(recorded=_rec(rules.OPENED, 9)), rules.KEEP, None),
        (_facts(recorded=_rec(rules.OPENED, 9), asked_again=True), rules.KEEP, None),
        (_facts(recorded=_rec(rules.MERGED, 9)), rules.KEEP, None),
        (_facts(recorded=_rec(rules.PUSHED, 9), asked_again=True), rules.KEEP, None),
        (_facts(recorded=_rec(rules.PRESENT)), rules.KEEP, None),
        # closed, conflict, taken branches and workflow changes stay until /cherry-pick asks again
        (_facts(recorded=_rec(rules.CLOSED, 9)), rules.KEEP, None),
        (_facts(recorded=_rec(rules.CLOSED, 9), asked_again=True, rc_exists=True), rules.PICK, None),
        (_facts(recorded=_rec(rules.CONFLICT)), rules.KEEP, None),
        (_facts(recorded=_rec(rules.CONFLICT), asked_again=True, rc_exists=True), rules.PICK, None),
        (_facts(recorded=_rec(rules.BRANCH_TAKEN)), rules.KEEP, None),
        (_facts(recorded=_rec(rules.NO_WORKFLOWS)), rules.KEEP, None),
        # waiting and missing states are looked at again on every event
        (_facts(recorded=_rec(rules.WAIT_QA), rc_exists=True), rules.PICK, None),
        (_facts(recorded=_rec(rules.MISSING_RC), rc_exists=True), rules.PICK, None),
        (_facts(recorded=_rec(rules.FAILED), rc_exists=True), rules.PICK, None),
    ],
)
def test_decide_target(facts: TargetFacts, action: str, state: str | None) -> None:
    decision = decide_target(facts)
    assert (decision.action, decision.state) == (action, state)


@pytest.mark.parametrize(
    "facts, needed",
    [
        # nothing is read for a settled, stopped or unmerged target
        (_facts(verified=None, recorded=_rec(rules.OPENED, 9)), None),
        (_facts(verified=None, recorded=_rec(rules.CONFLICT)), None),
        (_facts(verified=None, merged=False), None),
        # QA's verification first; the RC only once it covers the head
        (_facts(verified=None), rules.NEED_VERIFIED),
        (_facts(verified=False), None),
        (_facts(verified=True), rules.NEED_RC),
        (_facts(verified=None, recorded=_rec(rules.CONFLICT), asked_again=True), rules.NEED_VERIFIED),
        (_facts(rc_exists=False), None),
    ],
)
def test_next_fact(facts: TargetFacts, needed: str | None) -> None:
    assert rules.next_fact(facts) == needed


def test_a_decision_waits_for_the_facts_it_needs() -> None:
    with pytest.raises(ValueError):
        decide_target(_facts(verified=None))


BOT = "release-train[bot]"


@pytest.mark.parametrize(
    "facts, expected",
    [
        (BranchFacts(False), rules.BranchDecision("create")),
        (BranchFacts(True, (("a", BOT),), open_pr=7), rules.BranchDecision("adopt", pr=7)),
        # a PR a person opened from the pick branch is never the pick
        (BranchFacts(True, (("a", "dana"),), peoples_pr=8), rules.BranchDecision("leave", pr=8, people=("dana",))),
        (BranchFacts(True, (), peoples_pr=8), rules.BranchDecision("leave", pr=8)),
        (BranchFacts(True, (("a", "dana"),), open_pr=7), rules.BranchDecision("leave", people=("dana",))),
        (BranchFacts(True, (("a", BOT), ("b", BOT))), rules.BranchDecision("reset")),
        (BranchFacts(True, ()), rules.BranchDecision("reset")),
        (BranchFacts(True, (("a", BOT), ("b", "carol"))), rules.BranchDecision("leave", people=("carol",))),
        (BranchFacts(True, (("a", ""),)), rules.BranchDecision("leave", people=("someone",))),
    ],
)
def test_decide_branch(facts: BranchFacts, expected: rules.BranchDecision) -> None:
    assert decide_branch(facts, BOT) == expected


def test_states_round_trip_through_check_text() -> None:
    states = {
        "1.5": PickState("1.5", rules.OPENED, "rc/1.5", 12),
        "1.4": PickState("1.4", rules.CONFLICT, "rc/1.4", detail="a.txt"),
    }
    output = rules.check_output(states, 3)
    assert rules.decode_states("Some words\n" + output.text + "\nmore") == states
    assert rules.decode_states(None) == {}
    assert rules.decode_states("<!-- release-train:cherry-pick-state {broken -->") == {}
    assert (output.status, output.conclusion) == ("completed", "action_required")
    assert "opened #12" in output.summary and "rc/1.4" in output.title


@pytest.mark.parametrize(
    "kinds, status, conclusion",
    [
        ([rules.OPENED], "completed", "success"),
        ([rules.OPENED, rules.PRESENT], "completed", "success"),
        ([rules.OPENED, rules.WAIT_QA], "in_progress", None),
        ([rules.WAIT_MERGE], "in_progress", None),
        ([rules.MISSING_RC, rules.WAIT_QA], "completed", "action_required"),
        ([rules.CLOSED], "completed", "neutral"),
        ([rules.OPENED, rules.FAILED], "completed", "action_required"),
        ([], "completed", "neutral"),
    ],
)
def test_check_conclusion(kinds: list[str], status: str, conclusion: str | None) -> None:
    states = {f"1.{i}": PickState(f"1.{i}", k, f"rc/1.{i}", 5) for i, k in enumerate(kinds)}
    output = rules.check_output(states, 3)
    assert (output.status, output.conclusion) == (status, conclusion)


def test_conflict_commands() -> None:
    text = rules.conflict_commands(42, "rc/1.5", ["abc", "def"], False)
    assert text.splitlines()[:3] == [
        "git fetch origin",
        "git switch -c cherry-pick/42-to-rc-1.5 origin/rc/1.5",
        "git cherry-pick -x abc def",
    ]
    assert "git cherry-pick -x -m 1 abc" in rules.conflict_commands(42, "rc/1.5", ["abc"], True)
    assert "git push origin cherry-pick/42-to-rc-1.5" in text


@pytest.mark.parametrize(
    "message, expected",
    [
        ("Fix login", "Fix login\n\n(cherry picked from commit abc)"),
        ("Fix login\n", "Fix login\n\n(cherry picked from commit abc)"),
        ("Fix login\n\nLonger why.", "Fix login\n\nLonger why.\n\n(cherry picked from commit abc)"),
        ("Fix\n\nSigned-off-by: A <a@x>", "Fix\n\nSigned-off-by: A <a@x>\n(cherry picked from commit abc)"),
    ],
)
def test_cherry_picked_message_matches_git_x(message: str, expected: str) -> None:
    assert cherry_picked_message(message, "abc") == expected
