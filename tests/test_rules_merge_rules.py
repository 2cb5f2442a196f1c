"""Tables of cases for the pure merge rules (bot/rules/merge_rules.py)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import MergeRules, RepoConfig
from bot.rules import merge_rules as mr
from bot.rules.cherry_pick import PickCustody
from bot.rules.merge_rules import ChildPr, LabelSignoff, PullFacts

DEFAULT = RepoConfig()


def cfg(**merge_rules: object) -> RepoConfig:
    return dataclasses.replace(DEFAULT, merge_rules=dataclasses.replace(MergeRules(), **merge_rules))


def pr(base: str, head: str, title: str = "", body: str = "", *, bot: bool = False, **facts: object) -> PullFacts:
    return PullFacts(
        number=7,
        title=title,
        body=body,
        head_ref=head,
        base_ref=base,
        opened_by_bot=bot,
        html_url="http://x/pull/7",
        **facts,
    )


CHILD = ChildPr(12, "FR-123: half of the login form", "http://x/pull/12")
READY = LabelSignoff(True, "pat")
NOT_READY = LabelSignoff(False)
WRONG_HAND = LabelSignoff(True, None)


@pytest.mark.parametrize(
    "config, facts, states",
    [
        # rule 1: a PR into an FR branch names its ticket
        (DEFAULT, pr("fr/FR-123-login", "feature/x", "FR-123: add form"), ["pass"]),
        (DEFAULT, pr("fr/FR-123-login", "fr-123-form", "add form"), ["pass"]),  # head branch, any case
        (DEFAULT, pr("fr/FR-123-login", "feature/x", "FR-1234: add form"), ["fail"]),  # not a whole ticket
        (DEFAULT, pr("fr/FR-123-login", "feature/x", "XFR-123 add form"), ["fail"]),
        (DEFAULT, pr("fr/FR-123-login", "feature/x", "add form"), ["fail"]),
        (DEFAULT, pr("fr/login", "feature/x", "ABC-9 form"), ["pass"]),  # FR names no ticket: any ticket
        (DEFAULT, pr("fr/login", "feature/x", "form"), ["fail"]),
        (cfg(require_ticket_into_fr=False), pr("fr/FR-123-login", "x", "no ticket"), ["off"]),
        (cfg(fr_ticket_pattern="PROJ_[0-9]+"), pr("fr/PROJ_7-x", "y", "PROJ_7 work"), ["pass"]),
        (cfg(fr_ticket_pattern="(?<=x)y"), pr("fr/FR-1-x", "y", "FR-1"), ["fail"]),  # not RE2: says so
        # rule 2: an FR branch into devel
        (DEFAULT, pr("devel", "fr/FR-123-login", open_children=(), behind_by=0, ready=READY), ["pass"] * 3),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(CHILD,), behind_by=0, ready=READY),
            ["fail", "pass", "pass"],
        ),
        (DEFAULT, pr("devel", "fr/FR-123-login", open_children=(), behind_by=3, ready=READY), ["pass", "fail", "pass"]),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(), behind_by=0, ready=NOT_READY),
            ["pass", "pass", "fail"],
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(), behind_by=0, ready=WRONG_HAND),
            ["pass", "pass", "fail"],
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=None, behind_by=0, ready=READY),
            ["unknown", "pass", "pass"],
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(), behind_by=None, ready=None),
            ["pass", "unknown", "unknown"],
        ),
        (
            cfg(require_up_to_date=False, require_ready_label=False),
            pr("devel", "fr/FR-1-a", open_children=()),
            ["pass", "off", "off"],
        ),
        # rule 3: into an RC branch
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix crash", "Fixes #41", verified=READY), ["pass"] * 3),
        (
            DEFAULT,
            pr("rc/1.5", "fix/crash", "Fix crash", "see http://gh/acme/app/issues/41", verified=READY),
            ["pass"] * 3,
        ),
        (DEFAULT, pr("rc/1.5", "fix/crash", "BUG-77 crash", verified=READY), ["pass"] * 3),  # ticket pattern
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix crash", "acme/app#41", verified=READY), ["pass"] * 3),
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix crash", "no reference", verified=READY), ["pass", "pass", "fail"]),
        (
            DEFAULT,
            pr("rc/1.5", "fix/crash", "Fix crash", "&#41; is not a reference", verified=READY),
            ["pass", "pass", "fail"],
        ),
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix #41", verified=NOT_READY), ["pass", "fail", "pass"]),
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix #41", verified=WRONG_HAND), ["pass", "fail", "pass"]),
        (DEFAULT, pr("rc/1.5", "fix/crash", "Fix #41", verified=None), ["pass", "unknown", "pass"]),
        (DEFAULT, pr("rc/1.5", "fr/FR-9-x", "FR-9 #3", verified=READY), ["fail", "fail", "pass"]),
        (DEFAULT, pr("rc/1.5", "release-train/pick-12-rc-1.5", "Pick", bot=True), ["pass"]),  # bot's own PR
        (DEFAULT, pr("rc/1.5", "fr/FR-9-x", "Pick", bot=True), ["fail"]),
        (
            cfg(require_verified_into_rc=False, require_bug_reference_into_rc=False),
            pr("rc/1.5", "fix/a", "x"),
            ["pass", "off", "off"],
        ),
        # rule 4: devel from a branch that is not an FR branch (off by default)
        (DEFAULT, pr("devel", "fix/crash", "Fix crash"), ["off"]),
        (cfg(require_ticket_into_devel=True), pr("devel", "fix/crash", "Fix crash"), ["fail"]),
        (cfg(require_ticket_into_devel=True), pr("devel", "fix/BUG-4-crash", "Fix crash"), ["pass"]),
        (cfg(require_ticket_into_devel=True), pr("devel", "fix/crash", "Fix crash (#4)"), ["pass"]),
        # no rule applies
        (DEFAULT, pr("main", "devel", "Sync"), []),
        (DEFAULT, pr("rc/next", "fix/a", "x"), []),  # not MAJOR.MINOR: not an RC branch
    ],
)
def test_rule_states(config: RepoConfig, facts: PullFacts, states: list[str]) -> None:
    verdict = mr.evaluate(config, facts)
    assert [r.state for r in verdict.results] == states


@pytest.mark.parametrize(
    "config, facts, status, conclusion, title",
    [
        (DEFAULT, pr("main", "devel"), "completed", "success", "No merge rule applies to PRs into main"),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(CHILD,), behind_by=0, ready=READY),
            "completed",
            "failure",
            "2 of 3 rules pass: 1 open PR into fr/FR-123-login",
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(CHILD, CHILD), behind_by=2, ready=READY),
            "completed",
            "failure",
            "1 of 3 rules pass: 2 open PRs into fr/FR-123-login (+1 more)",
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(), behind_by=None, ready=READY),
            "in_progress",
            None,
            "2 of 3 rules pass: behind devel unknown",
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(CHILD,), behind_by=None, ready=READY),
            "completed",
            "failure",
            "1 of 3 rules pass: 1 open PR into fr/FR-123-login (+1 more)",
        ),
        (
            DEFAULT,
            pr("devel", "fr/FR-123-login", open_children=(), behind_by=0, ready=READY),
            "completed",
            "success",
            "3 of 3 rules pass",
        ),
        (DEFAULT, pr("devel", "fix/x"), "completed", "success", "Every merge rule that applies is turned off"),
        (
            DEFAULT,
            pr("rc/1.5", "fr/FR-9-x", "x #3"),
            "completed",
            "failure",
            "1 of 3 rules pass: an FR branch cannot go into an RC (+1 more)",
        ),
    ],
)
def test_check_output(config: RepoConfig, facts: PullFacts, status: str, conclusion: str | None, title: str) -> None:
    out = mr.check_output(mr.evaluate(config, facts))
    assert (out.status, out.conclusion, out.title) == (status, conclusion, title)


def test_summary_is_a_table_with_links_and_update_commands() -> None:
    facts = pr("devel", "fr/FR-123-login", open_children=(CHILD,), behind_by=4, ready=WRONG_HAND)
    summary = mr.check_output(mr.evaluate(DEFAULT, facts)).summary
    assert "| rule | state | how to fix |" in summary
    assert "[#12](http://x/pull/12)" in summary
    assert "behind `devel` by 4 commits" in summary
    assert "git merge origin/devel" in summary and "git push origin fr/FR-123-login" in summary
    assert "`fr/ready` was not applied by a PdM or RTE member" in summary


def test_fr_into_rc_says_why() -> None:
    summary = mr.check_output(mr.evaluate(DEFAULT, pr("rc/1.5", "fr/FR-9-x", "x"))).summary
    assert "features reach an RC only through `devel` and a new cut" in summary


def test_off_rules_are_listed_not_skipped() -> None:
    summary = mr.check_output(mr.evaluate(DEFAULT, pr("devel", "fix/x"))).summary
    assert "merge_rules.require_ticket_into_devel: false" in summary


def test_many_children_are_counted_beyond_the_listed_ones() -> None:
    children = tuple(ChildPr(n, f"c{n}", f"http://x/pull/{n}") for n in range(100, 180))
    out = mr.check_output(
        mr.evaluate(DEFAULT, pr("devel", "fr/FR-1-a", open_children=children, behind_by=0, ready=READY))
    )
    assert "80 open PRs into fr/FR-1-a" in out.title
    assert "and 30 more" in out.summary and "[#149]" in out.summary and "[#150]" not in out.summary


@pytest.mark.parametrize(
    "base, head, bot, needed",
    [
        ("devel", "fr/FR-1-a", False, {"children", "behind", "ready"}),
        ("devel", "fix/a", False, set()),
        ("fr/FR-1-a", "x", False, set()),
        ("rc/1.5", "fix/a", False, {"verified"}),
        ("rc/1.5", "fix/a", True, set()),
        ("rc/1.5", "cherry-pick/12-to-rc-1.5", True, {"pick"}),  # the bot's pick: what it holds
        ("rc/1.5", "cherry-pick/12-to-rc-1.5", False, {"verified"}),  # a person's: like any PR into an RC
        ("rc/1.5", "fr/FR-1-a", False, set()),  # blocked anyway: no need to ask who verified it
        ("main", "x", False, set()),
    ],
)
def test_facts_needed(base: str, head: str, bot: bool, needed: set[str]) -> None:
    assert mr.facts_needed(DEFAULT, base, head, bot) == needed


PICK = "cherry-pick/12-to-rc-1.5"


def test_the_bots_pick_pr_holds_only_what_it_picked_or_what_qa_verified() -> None:
    picked = mr.evaluate(DEFAULT, pr("rc/1.5", PICK, "Pick", bot=True, pick=PickCustody()))
    assert [r.state for r in picked.results] == ["pass", "pass"]
    pushed = PickCustody((("abc1234def", "dana"), ("0123456789", "erin")))
    failing = mr.evaluate(DEFAULT, pr("rc/1.5", PICK, "Pick", bot=True, pick=pushed))
    out = mr.check_output(failing)
    assert out.conclusion == "failure" and "commits pushed to the pick" in out.title
    assert "`abc1234` by `dana`" in out.summary and "`0123456` by `erin`" in out.summary
    verified = dataclasses.replace(pushed, verified_by="quinn")
    assert mr.check_output(mr.evaluate(DEFAULT, pr("rc/1.5", PICK, "Pick", bot=True, pick=verified))).conclusion == (
        "success"
    )
    unknown = mr.evaluate(DEFAULT, pr("rc/1.5", PICK, "Pick", bot=True))
    assert mr.check_output(unknown).status == "in_progress"
    # the chain of custody has no off switch
    off = cfg(require_verified_into_rc=False, require_bug_reference_into_rc=False, block_fr_into_rc=False)
    assert mr.check_output(mr.evaluate(off, pr("rc/1.5", PICK, "Pick", bot=True, pick=pushed))).conclusion == "failure"


def test_facts_needed_follow_the_toggles() -> None:
    config = cfg(require_children_merged=False, require_ready_label=False)
    assert mr.facts_needed(config, "devel", "fr/FR-1-a", False) == {"behind"}


@pytest.mark.parametrize(
    "branch, version",
    [("rc/1.5", "1.5"), ("rc/10.22", "10.22"), ("rc/1.5.1", None), ("rc/next", None), ("xrc/1.5", None)],
)
def test_rc_version_of(branch: str, version: str | None) -> None:
    assert DEFAULT.names.rc_version_of(branch) == version


def test_check_names_and_combined_verdict() -> None:
    assert mr.check_name("release-train/merge-rules", "devel", shared_head=False) == "release-train/merge-rules"
    assert (
        mr.check_name("release-train/merge-rules", "rc/1.5", shared_head=True) == "release-train/merge-rules (rc/1.5)"
    )
    good = mr.evaluate(DEFAULT, pr("devel", "fr/FR-1-a", open_children=(), behind_by=0, ready=READY))
    bad = dataclasses.replace(mr.evaluate(DEFAULT, pr("rc/1.5", "fr/FR-1-a")), number=8)
    out = mr.combined_output([(good, "http://x/pull/7"), (bad, "http://x/pull/8")])
    assert (out.conclusion, out.title) == ("failure", "Blocked by #8 into rc/1.5")
    assert "[#7](http://x/pull/7)" in out.summary
    assert mr.combined_output([(good, "u"), (good, "v")]).conclusion == "success"
    waiting = mr.evaluate(DEFAULT, pr("devel", "fr/FR-1-a", open_children=(), behind_by=None, ready=READY))
    assert mr.combined_output([(good, "u"), (waiting, "v")]).status == "in_progress"


def test_a_retired_per_base_check_is_neutral() -> None:
    out = mr.retired_output("rc/1.5")
    assert (out.status, out.conclusion, out.title) == ("completed", "neutral", "No open PR into rc/1.5 on this commit")
