"""Tables for the RC lifecycle's pure rules: versions, forward-port gaps and promote plans."""

from __future__ import annotations

import pytest

from bot.rules import release as r
from bot.rules.gate import FAIL, PASS, GateRow, GateVerdict
from bot.rules.release_state import Promotion

A = "a" * 40
B = "b" * 40
C = "c" * 40
D = "d" * 40


def line(version, head, promoted, *missing):
    return r.RcLine(version, f"rc/{version}", head, promoted, tuple(missing))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((), ()),
        ((line("1.5", A, A),), ("1.5",)),  # newest counts even when promoted and quiet
        ((line("1.4", A, A), line("1.5", B, None)), ("1.5",)),  # older, promoted, quiet: done
        ((line("1.4", A, C), line("1.5", B, None)), ("1.4", "1.5")),  # older with commits since promotion
        ((line("1.4", A, None), line("1.5", B, None)), ("1.4", "1.5")),  # older never promoted
        ((line("1.10", A, A), line("1.9", B, B)), ("1.10",)),  # numeric order
    ],
)
def test_lines_in_use(lines, expected):
    assert tuple(x.version for x in r.lines_in_use(lines)) == expected


FIX_ON_RC = r.CommitFact(C, "Fix crash on login (#12)\n\nbody", change_id="chg1")
PICK_BY_BOT = r.CommitFact(D, "Fix crash on login\n\n(cherry picked from commit " + A + ")")


@pytest.mark.parametrize(
    ("commit", "devel", "devel_shas", "expected"),
    [
        # the bot's own cherry-pick names a commit that is on devel
        (PICK_BY_BOT, (r.CommitFact(A, "Fix crash on login (#12)"),), frozenset(), "picked"),
        (PICK_BY_BOT, (), frozenset({A}), "picked"),
        (PICK_BY_BOT, (), frozenset(), None),  # names a commit devel does not have
        # a forward-port with -x on devel names the RC commit (short sha too)
        (
            FIX_ON_RC,
            (r.CommitFact(B, "Fix crash\n\n(cherry picked from commit " + C[:12] + ")"),),
            frozenset(),
            "picked",
        ),
        # the same PR number
        (FIX_ON_RC, (r.CommitFact(B, "[1.5] Fix crash on login (#12) (#40)"),), frozenset(), "pr"),
        (FIX_ON_RC, (r.CommitFact(B, "Fix crash (#13)"),), frozenset(), None),
        # the same change, found by diff
        (FIX_ON_RC, (r.CommitFact(B, "Port the login fix", change_id="chg1"),), frozenset(), "change"),
        (FIX_ON_RC, (r.CommitFact(B, "Port the login fix", change_id="other"),), frozenset(), None),
        # a PR number mentioned in the body only does not count
        (r.CommitFact(C, "Fix\n\nsee (#12)"), (r.CommitFact(B, "Other (#12)"),), frozenset(), None),
    ],
)
def test_equivalent_on_devel(commit, devel, devel_shas, expected):
    assert r.equivalent_on_devel(commit, devel, devel_shas) == expected


def test_forward_port_gaps_skip_merges_and_lines_not_in_use():
    merge = r.CommitFact(B, "Merge pull request #41 from acme/pick", parents=2)
    missing = r.CommitFact(C, "Hotfix straight on the RC")
    old_quiet = line("1.3", A, A, r.CommitFact("e" * 40, "old fix never ported"))
    gaps = r.forward_port_gaps(
        [old_quiet, line("1.4", D, None, merge, missing, PICK_BY_BOT)],
        [r.CommitFact(A, "Fix crash on login (#12)")],
    )
    assert [(g.version, g.commit.sha) for g in gaps] == [("1.4", C)]
    report = r.gap_report(gaps, "devel")
    assert "Hotfix straight on the RC" in report and "git cherry-pick -x" in report and "--force" in report


def test_same_change_id_ignores_line_numbers_and_whitespace():
    one = [("app.py", "@@ -1,3 +1,3 @@\n context\n-old = 1\n+new = 2")]
    moved = [("app.py", "@@ -40,3 +41,3 @@ def f():\n other context\n-old  = 1\n+new = 2")]
    different = [("app.py", "@@ -1,3 +1,3 @@\n context\n-old = 1\n+new = 3")]
    other_file = [("lib.py", "@@ -1,3 +1,3 @@\n context\n-old = 1\n+new = 2")]
    assert r.same_change_id(one) == r.same_change_id(moved)
    assert r.same_change_id(one) != r.same_change_id(different)
    assert r.same_change_id(one) != r.same_change_id(other_file)


PASSING = GateVerdict(A, (GateRow("no blocker bugs", PASS, "none open"),))
FAILING = GateVerdict(A, (GateRow("no blocker bugs", FAIL, "open: #7"),))
T = "v{version}.{patch}"
MINE = "d" * 40  # the annotated tag object the bot made for v1.5.x
THEIRS = "e" * 40  # one someone else made


def ours(name: str, sha: str, *done: str) -> dict:
    """The bot's own tag `name` at sha: the ref names the object its recorded promotion made."""
    return {
        "tags": (r.TagFact(name, sha, MINE),),
        "promotions": (Promotion(name, sha, "rita", done=tuple(done), tag_object=MINE),),
    }


def plan(**kw):
    base = dict(
        version="1.5",
        head_sha=B,
        tag_template=T,
        tags=(r.TagFact("v1.4.0", A), r.TagFact("v1.4.1", C)),
        verdict=PASSING,
    )
    base.update(kw)
    return r.promote_plan(r.PromoteFacts(**base))


@pytest.mark.parametrize(
    ("kw", "ok", "tag", "already", "previous", "steps"),
    [
        ({}, True, "v1.5.0", False, "v1.4.1", ("tag", "release", "deployment", "handoff", "released_label")),
        ({"production_branch": "prod", "production_sha": A}, True, "v1.5.0", False, "v1.4.1", r.PROMOTE_STEPS),
        (
            {"tags": (r.TagFact("v1.5.0", A),)},
            True,
            "v1.5.1",
            False,
            "v1.5.0",
            ("tag", "release", "deployment", "handoff", "released_label"),
        ),
        (
            {
                "tags": (r.TagFact("v1.5.0", A), r.TagFact("v1.5.1", B, MINE)),
                "promotions": (Promotion("v1.5.1", B, "rita", tag_object=MINE),),
            },
            True,
            "v1.5.1",
            True,
            "v1.5.0",
            ("release", "deployment", "handoff", "released_label"),
        ),
        ({**ours("v1.5.0", B), "done": frozenset(r.PROMOTE_STEPS)}, True, "v1.5.0", True, None, ()),
        # complete: reported as it is, whatever the gate says now
        ({**ours("v1.5.0", B), "done": frozenset(r.PROMOTE_STEPS), "verdict": FAILING}, True, "v1.5.0", True, None, ()),
        ({"verdict": FAILING}, False, "v1.5.0", False, "v1.4.1", ()),
        (
            {"production_branch": "prod", "production_sha": C, "production_can_ff": False},
            False,
            "v1.5.0",
            False,
            "v1.4.1",
            (),
        ),
        # a resumed promotion weighs the gate again
        ({**ours("v1.5.0", B), "verdict": FAILING, "done": frozenset({"release"})}, False, "v1.5.0", True, None, ()),
        (
            {**ours("v1.5.0", B), "done": frozenset({"release"})},
            True,
            "v1.5.0",
            True,
            None,
            ("deployment", "handoff", "released_label"),
        ),
        # a tag at head that the bot did not make is never taken for a promotion of its own
        ({"tags": (r.TagFact("v1.5.0", B, THEIRS),)}, False, "v1.5.1", False, "v1.5.0", ()),
        ({"tags": (r.TagFact("v1.5.0", B, B),)}, False, "v1.5.1", False, "v1.5.0", ()),  # a lightweight one
        # ...nor one with the bot's name but another object (deleted and made again at the same commit)
        (
            {
                "tags": (r.TagFact("v1.5.0", B, THEIRS),),
                "promotions": (Promotion("v1.5.0", B, "rita", tag_object=MINE),),
            },
            False,
            "v1.5.0",
            False,
            None,
            (),
        ),
        # a tag elsewhere takes its number: the next one is made
        (
            {"tags": (r.TagFact("v1.5.0", A, THEIRS),)},
            True,
            "v1.5.1",
            False,
            "v1.5.0",
            ("tag", "release", "deployment", "handoff", "released_label"),
        ),
    ],
)
def test_promote_plan(kw, ok, tag, already, previous, steps):
    decided = plan(**kw)
    assert (decided.ok, decided.tag, decided.already_promoted, decided.previous_tag, decided.steps) == (
        ok,
        tag,
        already,
        previous,
        steps,
    )
    if not ok:
        assert decided.refusals


def test_a_foreign_tag_is_named_with_who_made_it_without_a_ping():
    decided = plan(tags=(r.TagFact("v1.5.0", B, THEIRS),), made_by={"v1.5.0": "dana"})
    table = r.refusal_table(decided.refusals)
    assert "`v1.5.0` already exists" in table and "@\u200ddana" in table and "@dana" not in table
    unseen = r.refusal_table(plan(tags=(r.TagFact("v1.5.0", B, THEIRS),)).refusals)
    assert "I did not see who made it" in unseen


def test_promotion_words_name_no_internal_steps():
    said = r.promotion_words(r.PROMOTE_STEPS, "v1.5.0", release_url="u", production="prod", environment="production")
    assert said == (
        "tagged it `v1.5.0`, published the release (u), moved `prod` to it, created the `production` deployment, "
        "handed it over to operations and labelled this issue released"
    )
    assert not any(step in said for step in ("released_label", "handoff", "(tag"))


def test_promote_refuses_with_table_naming_each_reason():
    decided = plan(verdict=FAILING, production_branch="prod", production_sha=C, production_can_ff=False)
    table = r.refusal_table(decided.refusals)
    assert "no blocker bugs" in table and "production can fast-forward" in table


@pytest.mark.parametrize(
    ("message", "numbers"),
    [
        ("Fix login (#12)", {12}),
        ("Merge pull request #7 from acme/fix", {7}),
        ("Fix (#12) and (#13)\n\nbody (#14)", {12, 13}),
        ("Fix login (#\u0664\u0662)", set()),  # Arabic-Indic digits, which int() would read as 42
        ("Fix login #12", set()),
    ],
)
def test_pr_numbers_a_subject_names(message: str, numbers: set[int]) -> None:
    assert r.pr_numbers(message) == frozenset(numbers)
