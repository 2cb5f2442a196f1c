"""Tables for the RC lifecycle's pure rules: versions, forward-port gaps, the gate, promote plans, the dashboard."""

from __future__ import annotations

import pytest

from bot.config import RequiredCheck
from bot.rules import release as r

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


def res(
    name,
    kind="check_run",
    state="completed",
    conclusion="success",
    app=None,
    by_bot=False,
    at="2026-01-01T00:00:00Z",
    order=1,
):
    return r.CheckResult(name, kind, state, conclusion, app, by_bot, at, order)


CI = RequiredCheck("sanity", app="ci")
ANY = RequiredCheck("nightly")


@pytest.mark.parametrize(
    ("check", "results", "expected"),
    [
        (ANY, (), None),
        (ANY, (res("nightly", "status", "success", None),), r.PASS),
        (ANY, (res("nightly", "status", "failure", None),), r.FAIL),
        (ANY, (res("nightly", state="in_progress", conclusion=None),), r.PENDING),
        (ANY, (res("nightly", conclusion="neutral"),), r.PASS),
        # the latest result of the name counts
        (
            ANY,
            (
                res("nightly", conclusion="failure", at="2026-01-01T00:00:00Z"),
                res("nightly", "status", "success", None, at="2026-01-02T00:00:00Z"),
            ),
            r.PASS,
        ),
        (
            ANY,
            (
                res("nightly", conclusion="success", at="2026-01-02T00:00:00Z"),
                res("nightly", conclusion="failure", at="2026-01-02T00:00:00Z", order=2),
            ),
            r.FAIL,
        ),
        # a check meant to come from CI: a commit status cannot satisfy it, another app neither
        (CI, (res("sanity", "status", "success", None),), None),
        (CI, (res("sanity", app="someone-else"),), None),
        (CI, (res("sanity", app="ci"),), r.PASS),
        (
            CI,
            (
                res("sanity", app="ci", conclusion="failure"),
                res("sanity", "status", "success", None, at="2027-01-01T00:00:00Z"),
            ),
            r.FAIL,
        ),
        # the bot's own record of QA's command counts
        (RequiredCheck("regression", app="ci"), (res("regression", by_bot=True, app="release-train"),), r.PASS),
    ],
)
def test_latest_result(check, results, expected):
    found = r.latest_result(check, results)
    assert (found.outcome if found else None) == expected


def test_regression_cannot_be_forged_by_a_commit_status():
    forged = facts(
        required_checks=(RequiredCheck("regression"),), results=(res("regression", "status", "success", None),)
    )
    assert [row.state for row in r.gate_verdict(forged).rows if row.requirement == "check `regression`"] == [r.PENDING]
    by_ci = facts(required_checks=(RequiredCheck("regression"),), results=(res("regression", app="ci"),))
    assert r.gate_verdict(by_ci).passed
    anyone = facts(required_checks=(RequiredCheck("nightly"),), results=(res("nightly", "status", "success", None),))
    assert r.gate_verdict(anyone).passed


def src(number=9, *, merged=True, closed=True, verified=True, state=None, pick_pr=None):
    return r.SourcePick(r.ItemRef(number, "src", f"http://h/{number}"), merged, closed, verified, state, pick_pr)


@pytest.mark.parametrize(
    ("pick", "standing"),
    [
        (src(merged=False, closed=False, verified=False), r.PICK_WAITING_MERGE),
        (src(merged=False, closed=False, verified=True), r.PICK_WAITING_MERGE),
        (src(merged=False, closed=True, verified=True), r.PICK_DROPPED),
        (src(verified=False), r.PICK_WAITING_QA),
        (src(verified=False, state="waiting-merge"), r.PICK_WAITING_QA),  # the record lags behind the merge
        (src(state="waiting-merge"), r.PICK_OWED),
        (src(state="waiting-qa"), r.PICK_WAITING_QA),  # a verified label from someone outside QA does not count
        (src(), r.PICK_OWED),
        (src(state="missing-rc"), r.PICK_OWED),
        (src(state="opened", pick_pr=12), r.PICK_OPEN),
        (src(state="merged", pick_pr=12), r.PICK_DONE),
        (src(state="present"), r.PICK_DONE),
        (src(state="closed", pick_pr=12), r.PICK_DROPPED),
        (src(state="conflict"), r.PICK_STUCK),
        (src(state="branch-taken"), r.PICK_STUCK),
        (src(state="failed"), r.PICK_STUCK),
    ],
)
def test_pick_standing_reads_the_per_target_state(pick, standing):
    assert r.pick_standing(pick) == standing


def test_gate_and_dashboard_name_each_source_by_its_own_state():
    sources = (
        src(3, state="conflict"),
        src(4, verified=False),
        src(5, merged=False, closed=False, verified=False),
        src(6, state="opened", pick_pr=20),
        src(7, state="present"),
        src(8, merged=False, closed=True, verified=False),
    )
    verdict = r.gate_verdict(facts(source_picks=sources))
    table = r.gate_table(verdict)
    assert "needs a person: [#3](http://h/3) (conflict)" in table
    assert "not verified or merged yet: [#4](http://h/4), [#5](http://h/5)" in table
    into_rc = (r.PickRow(20, "pick", "open"), r.PickRow(19, "older pick", "merged"))
    rows = r.pick_rows(into_rc, sources)
    assert [(row.number, row.state) for row in rows] == [
        (20, "open"),
        (19, "merged"),
        (3, "conflict"),
        (4, "waiting for QA"),
        (5, "waiting for merge"),
        (7, "already on the RC"),
    ]
    assert r.pick_tally(rows) == "merged 1 · open 1 · conflicting 1 · waiting for QA 1"
    state = r.TrackingState("1.5")
    section = r.dashboard(r.DashboardFacts(state, "rc/1.5", A, "http://h/c", verdict, picks=rows))
    assert (
        "merged 1 · open 1 · conflicting 1 · waiting for QA 1" in section
        and "| [#3](http://h/3) src | conflict |" in section
    )


def facts(**kw):
    base = dict(
        version="1.5",
        branch="rc/1.5",
        head_sha=A,
        required_checks=(RequiredCheck("sanity"), RequiredCheck("regression")),
        results=(res("sanity"), res("regression", by_bot=True)),
    )
    base.update(kw)
    return r.GateFacts(**base)


@pytest.mark.parametrize(
    ("kw", "state", "bad"),
    [
        ({}, r.PASS, []),
        ({"results": (res("sanity"),)}, r.PENDING, ["check `regression`"]),
        ({"results": (res("sanity"), res("regression", conclusion="failure"))}, r.FAIL, ["check `regression`"]),
        ({"blockers": (r.ItemRef(7, "crash"),)}, r.FAIL, ["no blocker bugs"]),
        ({"open_picks": (r.ItemRef(8, "pick"),)}, r.PENDING, ["no open PRs into the RC"]),
        ({"source_picks": (src(state="conflict"),)}, r.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(state="branch-taken"),)}, r.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(state="failed"),)}, r.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(merged=False, verified=False),)}, r.PASS, []),  # listed, not blocking
        ({"source_picks": (src(verified=False, state="waiting-qa"),)}, r.PASS, []),
        (
            {"source_picks": (src(state="opened", pick_pr=12),)},
            r.PASS,
            [],
        ),  # the open pick PR is counted as a PR into the RC
        (
            {"source_picks": (src(state="merged", pick_pr=12), src(state="present"), src(state="closed", pick_pr=13))},
            r.PASS,
            [],
        ),
        ({"source_picks": (src(merged=False, closed=True, verified=False),)}, r.PASS, []),  # dropped
        ({"source_picks": (src(),)}, r.PENDING, ["no failed cherry-picks"]),  # merged, verified, nothing picked yet
        ({"source_picks": (src(state="missing-rc"),)}, r.PENDING, ["no failed cherry-picks"]),  # the RC exists now
        ({"hold": "waiting for legal"}, r.FAIL, ["no hold"]),
        ({"require_signoff": True}, r.PENDING, ["PdM sign-off"]),
        ({"require_signoff": True, "signoff_by": "pam"}, r.PASS, []),
        ({"require_signoff": False, "signoff_by": None}, r.PASS, []),
    ],
)
def test_gate_verdict(kw, state, bad):
    verdict = r.gate_verdict(facts(**kw))
    assert verdict.state == state
    assert [row.requirement for row in verdict.rows if row.state in (r.FAIL, r.PENDING)] == bad
    status, conclusion, _title, summary = r.gate_check_output(verdict, "rc/1.5")
    assert (status, conclusion) == {
        r.PASS: ("completed", "success"),
        r.FAIL: ("completed", "failure"),
        r.PENDING: ("in_progress", None),
    }[state]
    assert "| requirement | state | link |" in summary


def test_gate_lists_waiting_picks_and_escapes_hold_reason():
    verdict = r.gate_verdict(facts(source_picks=(src(10, verified=False),), hold="@everyone | stop"))
    table = r.gate_table(verdict)
    assert "[#10](http://h/10)" in table and "picks waiting for QA" in table
    assert "@\u200deveryone \\| stop" in table


PASSING = r.gate_verdict(facts())
FAILING = r.gate_verdict(facts(blockers=(r.ItemRef(7, "crash"),)))
T = "v{version}.{patch}"


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
            {"tags": (r.TagFact("v1.5.0", A), r.TagFact("v1.5.1", B))},
            True,
            "v1.5.1",
            True,
            "v1.5.0",
            ("release", "deployment", "handoff", "released_label"),
        ),
        (
            {"tags": (r.TagFact("v1.5.0", B),), "done": frozenset(r.PROMOTE_STEPS)},
            True,
            "v1.5.0",
            True,
            None,
            (),
        ),
        ({"verdict": FAILING}, False, "v1.5.0", False, "v1.4.1", ()),
        (
            {"production_branch": "prod", "production_sha": C, "production_can_ff": False},
            False,
            "v1.5.0",
            False,
            "v1.4.1",
            (),
        ),
        # already promoted: the gate is not asked again, the missing steps are finished
        (
            {"tags": (r.TagFact("v1.5.0", B),), "verdict": FAILING, "done": frozenset({"release"})},
            True,
            "v1.5.0",
            True,
            None,
            ("deployment", "handoff", "released_label"),
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


def test_promote_refuses_with_table_naming_each_reason():
    decided = plan(verdict=FAILING, production_branch="prod", production_sha=C, production_can_ff=False)
    table = r.refusal_table(decided.refusals)
    assert "no blocker bugs" in table and "production can fast-forward" in table


def test_dashboard_splice_keeps_peoples_text_and_round_trips_state():
    state = r.TrackingState(
        "1.5",
        hold_reason="legal --> review",
        hold_by="pam",
        forced_by="rita",
        dispatched=("build.yml",),
        not_in_rc=(4, 5),
    )
    section = r.dashboard(
        r.DashboardFacts(state, "rc/1.5", A, "http://h/c", PASSING, picks=(r.PickRow(3, "pick", "merged"),))
    )
    body = r.splice_dashboard("Notes from people.\n\nMore notes.", section)
    assert body.startswith("Notes from people.\n\nMore notes.")
    assert r.read_state(body) == state
    edited = "Intro by @pam\n" + body + "\nFooter by people"
    again = r.splice_dashboard(edited, section.replace("Release 1.5", "Release 1.5 (updated)"))
    assert again.startswith("Intro by @pam\n") and again.endswith("\nFooter by people")
    assert "(updated)" in again and again.count(r.DASHBOARD_START) == 1
    assert r.read_state("no section here") is None


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
