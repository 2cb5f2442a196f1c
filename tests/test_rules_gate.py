"""Tables for the gate's pure decision: which results answer for a check, the rows, the texts, the hold label."""

from __future__ import annotations

import pytest

from bot.config import RequiredCheck
from bot.rules import gate as g
from bot.rules.release_state import Cut, Hold, ReleaseRecord, ReleaseState, Signal

A = "a" * 40


def res(
    name, kind="check_run", state="completed", conclusion="success", app="ci", creator="", at="2026-01-01", order=1
):
    return g.CheckResult(name, kind, state, conclusion, app if kind == "check_run" else None, creator, at, order)


def status(name, state="success", creator="dana", at="2026-01-01", order=1):
    return res(name, "status", state, None, creator=creator, at=at, order=order)


CI = RequiredCheck("sanity", app="ci")
ANY = RequiredCheck("nightly")


@pytest.mark.parametrize(
    ("check", "results", "expected"),
    [
        (ANY, (), g.PENDING),
        (ANY, (status("nightly"),), g.PASS),
        (ANY, (status("nightly", "failure"),), g.FAIL),
        (ANY, (status("nightly", "error"),), g.FAIL),
        (ANY, (res("nightly", state="in_progress", conclusion=None),), g.PENDING),
        (ANY, (res("nightly", conclusion="neutral"),), g.PASS),
        # within one source the latest counts: a re-run clears a failure
        (ANY, (res("nightly", conclusion="failure", at="1"), res("nightly", at="2")), g.PASS),
        (ANY, (res("nightly", at="2"), res("nightly", conclusion="failure", at="2", order=2)), g.FAIL),
        (ANY, (status("nightly", "failure", at="1"), status("nightly", at="2")), g.PASS),
        # across sources every one must pass: a later success elsewhere hides nothing
        (ANY, (res("nightly", conclusion="failure", at="1"), status("nightly", at="2")), g.FAIL),
        (ANY, (res("nightly", conclusion="failure"), res("nightly", app="github-actions", at="3")), g.FAIL),
        (ANY, (status("nightly", "failure", creator="ci-bot"), status("nightly", creator="dana", at="3")), g.FAIL),
        (ANY, (res("nightly"), res("nightly", app="other", state="queued", conclusion=None)), g.PENDING),
        (ANY, (res("nightly"), res("nightly", app="other"), status("nightly")), g.PASS),
        # pinned: only that app's check runs, never a status, never another app (nor this one)
        (CI, (status("sanity"),), g.PENDING),
        (CI, (res("sanity", app="someone-else"),), g.PENDING),
        (CI, (res("sanity", app="release-train"),), g.PENDING),
        (CI, (res("sanity", app="CI"),), g.PASS),
        (CI, (res("sanity", conclusion="failure", at="1"), res("sanity", at="2")), g.PASS),
        (
            CI,
            (res("sanity", conclusion="failure"), res("sanity", app="other", at="3"), status("sanity", at="4")),
            g.FAIL,
        ),
        (CI, (res("sanity"), res("sanity", app="other", conclusion="failure"), status("sanity", "failure")), g.PASS),
    ],
)
def test_which_results_answer_for_a_required_check(check, results, expected):
    verdict = g.gate_verdict(facts(required_checks=(check,), results=results))
    [row] = [row for row in verdict.rows if row.requirement == f"check `{check.name}`"]
    assert row.state == expected


def test_an_unpinned_row_names_each_source_and_says_any_writer_can_post_it():
    verdict = g.gate_verdict(
        facts(
            required_checks=(ANY, CI, RequiredCheck("regression")),
            results=(res("nightly", conclusion="failure"), status("nightly", creator="@dana"), res("sanity")),
        )
    )
    rows = {row.requirement: row for row in verdict.rows}
    nightly = rows["check `nightly`"].detail
    assert "failed (failure) (`ci`)" in nightly and "succeeded (a status by @\u200ddana)" in nightly
    assert "any writer can post it" in nightly
    assert "any writer" not in rows["check `sanity`"].detail and "any writer" not in rows["check `regression`"].detail
    assert g.unpinned_checks((ANY, CI, RequiredCheck("regression"))) == ("nightly",)
    text = g.gate_check_output(verdict, "rc/1.5", ("nightly",)).summary
    assert "Required checks with no `app:` (`nightly`): any writer can post them" in text
    assert g.unpinned_warning(()) == ""


@pytest.mark.parametrize(
    ("regression", "expected"),
    [(None, g.PENDING), (Signal(True, "quinn"), g.PASS), (Signal(False, "quinn"), g.FAIL)],
)
def test_the_regression_row_is_the_bots_record_and_nothing_else(regression, expected):
    # Other sources posting `regression` change nothing, whatever they say and however it is pinned.
    forged = (res("regression", app="github-actions"), status("regression"), res("regression", app="ci"))
    for check in (RequiredCheck("regression"), RequiredCheck("regression", app="ci")):
        verdict = g.gate_verdict(facts(required_checks=(check,), results=forged, regression=regression))
        [row] = [row for row in verdict.rows if row.requirement == "check `regression`"]
        assert row.state == expected


def src(number=9, *, merged=True, closed=True, verified=True, state=None, pick_pr=None):
    return g.SourcePick(g.ItemRef(number, "src", f"http://h/{number}"), merged, closed, verified, state, pick_pr)


@pytest.mark.parametrize(
    ("pick", "standing"),
    [
        (src(merged=False, closed=False, verified=False), g.PICK_WAITING_MERGE),
        (src(merged=False, closed=False, verified=True), g.PICK_WAITING_MERGE),
        (src(merged=False, closed=True, verified=True), g.PICK_DROPPED),
        (src(verified=False), g.PICK_WAITING_QA),
        (src(verified=False, state="waiting-merge"), g.PICK_WAITING_QA),  # the record lags behind the merge
        (src(state="waiting-merge"), g.PICK_OWED),
        (src(state="waiting-qa"), g.PICK_WAITING_QA),  # a verified label from someone outside QA does not count
        (src(), g.PICK_OWED),
        (src(state="missing-rc"), g.PICK_OWED),
        (src(state="opened", pick_pr=12), g.PICK_OPEN),
        (src(state="merged", pick_pr=12), g.PICK_DONE),
        (src(state="present"), g.PICK_DONE),
        (src(state="closed", pick_pr=12), g.PICK_DROPPED),
        (src(state="conflict"), g.PICK_STUCK),
        (src(state="branch-taken"), g.PICK_STUCK),
        (src(state="failed"), g.PICK_STUCK),
    ],
)
def test_pick_standing_reads_the_per_target_state(pick, standing):
    assert g.pick_standing(pick) == standing


def test_gate_and_dashboard_name_each_source_by_its_own_state():
    sources = (
        src(3, state="conflict"),
        src(4, verified=False),
        src(5, merged=False, closed=False, verified=False),
        src(6, state="opened", pick_pr=20),
        src(7, state="present"),
        src(8, merged=False, closed=True, verified=False),
    )
    into_rc = (g.PickRow(20, "pick", "open"), g.PickRow(19, "older pick", "merged"))
    decision = g.decide(facts(source_picks=sources, into_rc=into_rc))
    table = g.gate_table(decision.verdict)
    assert "needs a person: [#3](http://h/3) (conflict)" in table
    assert "not verified or merged yet: [#4](http://h/4), [#5](http://h/5)" in table
    rows = g.pick_rows(into_rc, sources)
    assert [(row.number, row.state) for row in rows] == [
        (20, "open"),
        (19, "merged"),
        (3, "conflict"),
        (4, "waiting for QA"),
        (5, "waiting for merge"),
        (7, "already on the RC"),
    ]
    assert g.pick_tally(rows) == "merged 1 · open 1 · conflicting 1 · waiting for QA 1"
    assert "merged 1 · open 1 · conflicting 1 · waiting for QA 1" in decision.dashboard
    assert "| [#3](http://h/3) src | conflict |" in decision.dashboard


RECORD = ReleaseRecord("1.5", tracking=3, cut=Cut("rita", A, complete=True))
QA_PASSED = Signal(True, "quinn")


def facts(*, record=RECORD, regression=QA_PASSED, signoff=None, hold=None, hold_label=None, **kw):
    if hold is not None:
        record = record.held(hold, "pam")
    base = dict(
        release=ReleaseState("1.5", "rc/1.5", A, record, A, regression, signoff),
        required_checks=(RequiredCheck("sanity"), RequiredCheck("regression")),
        results=(res("sanity"),),
        hold_label=hold_label,
    )
    base.update(kw)
    return g.GateFacts(**base)


@pytest.mark.parametrize(
    ("kw", "state", "bad"),
    [
        ({}, g.PASS, []),
        ({"regression": None}, g.PENDING, ["check `regression`"]),
        ({"regression": Signal(False, "quinn")}, g.FAIL, ["check `regression`"]),
        ({"results": ()}, g.PENDING, ["check `sanity`"]),
        ({"record": None}, g.FAIL, ["release record"]),
        ({"record": ReleaseRecord("1.5", cut=Cut("rita", A))}, g.PENDING, ["release record"]),
        ({"blockers": (g.ItemRef(7, "crash"),)}, g.FAIL, ["no blocker bugs"]),
        ({"open_picks": (g.ItemRef(8, "pick"),)}, g.PENDING, ["no open PRs into the RC"]),
        ({"source_picks": (src(state="conflict"),)}, g.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(state="branch-taken"),)}, g.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(state="failed"),)}, g.FAIL, ["no failed cherry-picks"]),
        ({"source_picks": (src(merged=False, verified=False),)}, g.PASS, []),  # listed, not blocking
        ({"source_picks": (src(verified=False, state="waiting-qa"),)}, g.PASS, []),
        ({"source_picks": (src(state="opened", pick_pr=12),)}, g.PASS, []),  # counted as a PR into the RC
        (
            {"source_picks": (src(state="merged", pick_pr=12), src(state="present"), src(state="closed", pick_pr=13))},
            g.PASS,
            [],
        ),
        ({"source_picks": (src(merged=False, closed=True, verified=False),)}, g.PASS, []),  # dropped
        ({"source_picks": (src(),)}, g.PENDING, ["no failed cherry-picks"]),  # merged, verified, nothing picked yet
        ({"source_picks": (src(state="missing-rc"),)}, g.PENDING, ["no failed cherry-picks"]),  # the RC exists now
        ({"hold": "waiting for legal"}, g.FAIL, ["no hold"]),
        ({"require_signoff": True}, g.PENDING, ["PdM sign-off"]),
        ({"require_signoff": True, "signoff": Signal(True, "pam")}, g.PASS, []),
        ({"require_signoff": True, "signoff": Signal(False, "pam")}, g.PENDING, ["PdM sign-off"]),
        ({"require_signoff": False}, g.PASS, []),
    ],
)
def test_gate_verdict(kw, state, bad):
    decision = g.decide(facts(**kw))
    verdict = decision.verdict
    assert verdict.state == state
    assert [row.requirement for row in verdict.rows if row.state in (g.FAIL, g.PENDING)] == bad
    assert (decision.check.status, decision.check.conclusion) == {
        g.PASS: ("completed", "success"),
        g.FAIL: ("completed", "failure"),
        g.PENDING: ("in_progress", None),
    }[state]
    assert "| requirement | state | link |" in decision.check.summary
    assert decision.hold_label == ("hold" in kw)


def test_gate_lists_waiting_picks_and_escapes_hold_reason():
    verdict = g.gate_verdict(facts(source_picks=(src(10, verified=False),), hold="@everyone | stop"))
    table = g.gate_table(verdict)
    assert "[#10](http://h/10)" in table and "picks waiting for QA" in table
    assert "@\u200deveryone \\| stop" in table


@pytest.mark.parametrize(
    ("hold", "label", "wanted", "note"),
    [
        (None, None, False, None),  # no tracking issue
        (None, g.HoldLabel(False), False, None),
        ("legal", g.HoldLabel(True), True, None),
        ("legal", g.HoldLabel(False), True, None),  # /hold itself: the label follows, nothing to explain
        ("legal", g.HoldLabel(False, "dana"), True, "only `/unhold`"),
        (None, g.HoldLabel(True, "dana"), False, "only `/hold <reason>`"),
        (None, g.HoldLabel(False, "dana"), False, None),  # the label gone with no hold: as it should be
        ("legal", g.HoldLabel(True, "dana"), True, None),
    ],
)
def test_the_hold_label_shows_the_record(hold, label, wanted, note):
    decision = g.decide(facts(hold=hold, hold_label=label))
    assert decision.hold_label is wanted
    if note is None:
        assert decision.note is None
    else:
        # The note answers the person whose change it undid: it mentions them, and nobody else.
        assert decision.note is not None and note in decision.note and decision.note.startswith("@dana, you ")
        assert decision.note.count("@") == 1


def test_the_dashboard_is_a_view_people_edit_around():
    record = ReleaseRecord(
        "1.5",
        tracking=3,
        cut=Cut("rita", A, forced=True, complete=True, not_in_rc=(4, 5)),
        hold=Hold("legal --> review", "pam"),
    )
    section = g.decide(facts(record=record, into_rc=(g.PickRow(3, "pick", "merged"),))).dashboard
    assert "**Cut forced by** rita" in section and "**On hold:** legal --&gt; review (by pam)" in section
    assert "#4, #5" in section and "release-train:state" not in section
    body = g.splice_dashboard("Notes from people.\n\nMore notes.", section)
    assert body.startswith("Notes from people.\n\nMore notes.")
    assert g.dashboard_section(body).strip() == section.strip()
    edited = "Intro by @pam\n" + body + "\nFooter by people"
    again = g.splice_dashboard(edited, section.replace("Release 1.5", "Release 1.5 (updated)"))
    assert again.startswith("Intro by @pam\n") and again.endswith("\nFooter by people")
    assert "(updated)" in again and again.count(g.DASHBOARD_START) == 1
    assert g.dashboard_section("no section here") is None


def test_the_protection_row_fails_only_when_required_and_links_to_the_setup():
    from bot.rules.protection import SETUP_URL, Finding

    missing = (Finding("`rc/1.5` takes pull requests only", True, "ok"), Finding("tags", False, "no tag ruleset"))
    for required, state in ((True, g.FAIL), (False, g.INFO)):
        decision = g.decide(facts(protection=missing, require_protection=required))
        [row] = [r for r in decision.verdict.rows if r.requirement == "branch and tag protection"]
        assert row.state == state and "tags: not so, no tag ruleset" in row.detail and row.link == SETUP_URL
        assert decision.verdict.passed is (not required)
        assert SETUP_URL in decision.dashboard
    met = (Finding("`rc/1.5` takes pull requests only", True, "ok"),)
    [row] = [r for r in g.gate_verdict(facts(protection=met)).rows if r.requirement == "branch and tag protection"]
    assert row.state == g.PASS
    assert "branch and tag protection" not in g.gate_table(g.gate_verdict(facts()))  # not read: no row


NIGHTLY = RequiredCheck("nightly", app="ci")


@pytest.mark.parametrize(
    ("kw", "title"),
    [
        ({}, "Ready to promote"),
        # What fails is named as failing; what is only missing is what the gate waits for.
        ({"results": (res("sanity", conclusion="failure"),)}, "Blocked: sanity failed"),
        ({"blockers": (g.ItemRef(7, "crash"),)}, "Blocked: blocker #7 open"),
        ({"blockers": (g.ItemRef(7, "a"), g.ItemRef(9, "b"))}, "Blocked: blockers #7, #9 open"),
        ({"blockers": tuple(g.ItemRef(n, "x") for n in range(1, 6))}, "Blocked: 5 blockers open"),
        (
            {"results": (res("sanity", conclusion="failure"),), "blockers": (g.ItemRef(7, "crash"),)},
            "Blocked: sanity failed, blocker #7 open",
        ),
        ({"results": ()}, "Waiting for sanity"),
        ({"results": (res("sanity", state="in_progress", conclusion=None),)}, "Waiting for sanity (running)"),
        ({"regression": None}, "Waiting for regression"),
        ({"regression": Signal(False, "quinn")}, "Blocked: regression failed"),
        (
            {"required_checks": (CI, NIGHTLY, RequiredCheck("regression")), "regression": None, "results": ()},
            "Waiting for sanity, nightly, regression",
        ),
        (
            {"results": (res("sanity", conclusion="failure"),), "regression": None, "require_signoff": True},
            "Blocked: sanity failed; waiting for regression, PdM sign-off",
        ),
        ({"record": None}, "Blocked: no release record"),
        ({"record": ReleaseRecord("1.5", cut=Cut("rita", A))}, "Waiting for the cut to finish"),
        ({"open_picks": (g.ItemRef(8, "pick"),)}, "Waiting for PR #8 into the RC"),
        ({"source_picks": (src(state="conflict"),)}, "Blocked: the pick of #9 needs a person"),
        (
            {"source_picks": (src(9, state="conflict"), src(10, state="failed"))},
            "Blocked: the picks of #9, #10 need a person",
        ),
        ({"source_picks": (src(state=None),)}, "Waiting for the pick of #9"),
        ({"hold": "legal review"}, "Blocked: on hold"),
    ],
)
def test_the_gate_title_names_what_fails_and_what_it_waits_for(kw, title):
    verdict = g.gate_verdict(facts(**kw))
    assert verdict.title == title
    check = g.gate_check_output(verdict, "rc/1.5")
    assert check.title == title
    assert f"### Gate: {title}" in g.dashboard(facts(**kw), verdict)


def test_the_gate_title_stays_plain_and_short():
    long_name = RequiredCheck("x" * 300, app="ci")
    verdict = g.gate_verdict(facts(required_checks=(long_name,), results=()))
    assert len(verdict.title) <= g.TITLE_LIMIT and verdict.title.endswith("…")
    # Check names come from the config: a mention there pings nobody from the title either.
    verdict = g.gate_verdict(facts(required_checks=(RequiredCheck("@acme/ci", app="ci"),), results=()))
    assert verdict.title == "Waiting for @\u200dacme/ci"


@pytest.mark.parametrize(
    ("repository", "blocker", "rc_label", "branch", "blockers", "picks"),
    [
        (
            "https://github.com/acme/app",
            "release-blocker",
            "rc/1.5",
            "rc/1.5",
            "https://github.com/acme/app/issues?q=is%3Aissue+is%3Aopen+label%3Arelease-blocker+label%3Arc%2F1.5",
            "https://github.com/acme/app/pulls?q=is%3Apr+is%3Aopen+base%3Arc%2F1.5",
        ),
        (
            "https://ghe.example.com/acme/app/",
            "release blocker",
            "RC 2.0",
            "release/2.0",
            "https://ghe.example.com/acme/app/issues?q=is%3Aissue+is%3Aopen+label%3A%22release+blocker%22+label%3A%22RC+2.0%22",
            "https://ghe.example.com/acme/app/pulls?q=is%3Apr+is%3Aopen+base%3Arelease%2F2.0",
        ),
        # A quote in a label name cannot be searched inside quotes; it is left out.
        (
            "https://github.com/acme/app",
            'say "no"',
            "rc/1.5",
            "rc/1.5",
            "https://github.com/acme/app/issues?q=is%3Aissue+is%3Aopen+label%3A%22say+no%22+label%3Arc%2F1.5",
            "https://github.com/acme/app/pulls?q=is%3Apr+is%3Aopen+base%3Arc%2F1.5",
        ),
        ("", "release-blocker", "rc/1.5", "rc/1.5", "", ""),
    ],
)
def test_the_gate_links_filter_by_the_rc(repository, blocker, rc_label, branch, blockers, picks):
    links = g.gate_links(repository, blocker=blocker, rc_label=rc_label, rc_branch=branch)
    assert links == {"blockers": blockers, "picks": picks}
