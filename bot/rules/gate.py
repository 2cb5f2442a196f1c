"""The promotion gate, decided (pure): an RC's gathered facts in, the verdict and every text people read out.

`decide(GateFacts) -> GateDecision`: the verdict's rows, the `release-train/gate` check run's
output, the tracking issue's dashboard section, whether the hold label belongs on the tracking
issue, and the note for a person who changed that label by hand. The handler
(`bot/handlers/release/gate.py`) gathers the facts and publishes only what differs.

Which results answer for a required check:
- `regression` is this app's own record of QA's `/regression` on the head (`ReleaseState.regression`);
  no other check run or status of that name counts.
- with `app:`, only that app's check runs (no commit status), the latest per (app, name);
- without it, every source that posts the name on the commit (each app's latest check run, each
  poster's latest status) must pass, so one source's success never hides another's failure. Any
  writer can post a status, so the row says the check is unpinned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from bot.config import RequiredCheck
from bot.rules import cherry_pick as picks
from bot.rules.protection import SETUP_URL, Finding
from bot.rules.release_state import REGRESSION_CHECK, ReleaseState
from bot.rules.text import addressed, inline, plain_line

DASHBOARD_START = "<!-- release-train:dashboard:start -->"
DASHBOARD_END = "<!-- release-train:dashboard:end -->"

PASS, FAIL, PENDING, INFO = "pass", "fail", "pending", "info"
TITLE_LIMIT = 200
NUMBERS_IN_TITLE = 3  # more blockers or PRs are counted in the title, not listed
_OK_CONCLUSIONS = {"success", "neutral", "skipped"}


# -- results of required checks ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check run or commit status on the head commit."""

    name: str
    kind: str  # "check_run" | "status"
    state: str  # check run: queued|in_progress|completed; status: pending|success|failure|error
    conclusion: str | None = None  # check runs only
    app_slug: str | None = None  # check runs: the app that made it
    creator: str = ""  # statuses: who posted it
    at: str = ""  # ISO time of the result (completed_at, started_at, or the status's updated_at)
    order: int = 0  # tie-break: the id
    url: str = ""

    @property
    def outcome(self) -> str:
        if self.kind == "status":
            return {"success": PASS, "pending": PENDING}.get(self.state, FAIL)
        if self.state != "completed":
            return PENDING
        return PASS if self.conclusion in _OK_CONCLUSIONS else FAIL

    @property
    def source(self) -> str:
        """Who posted it, as the gate's row names it."""
        if self.kind == "check_run":
            return f"`{self.app_slug or 'an app'}`"
        return f"a status by {inline(self.creator)}" if self.creator else "a status"


def _source_key(result: CheckResult) -> tuple[str, str]:
    if result.kind == "check_run":
        return ("check_run", (result.app_slug or "").lower())
    return ("status", result.creator.lower())


def check_sources(check: RequiredCheck, results: Iterable[CheckResult]) -> tuple[CheckResult, ...]:
    """The latest result of each source that may answer for the check (pinned: that app's check runs only)."""
    latest: dict[tuple[str, str], CheckResult] = {}
    for result in results:
        if result.name != check.name:
            continue
        if check.app is not None and not (
            result.kind == "check_run" and (result.app_slug or "").lower() == check.app.lower()
        ):
            continue
        key = _source_key(result)
        if key not in latest or (result.at, result.order) > (latest[key].at, latest[key].order):
            latest[key] = result
    return tuple(sorted(latest.values(), key=_source_key))


def unpinned_checks(required: Iterable[RequiredCheck]) -> tuple[str, ...]:
    """Required checks that any writer can satisfy: no app named (QA's regression is the bot's own)."""
    return tuple(c.name for c in required if c.app is None and c.name != REGRESSION_CHECK)


def unpinned_warning(names: Iterable[str]) -> str:
    """The plain words for unpinned required checks (the gate, check-config and the config check say them)."""
    listed = ", ".join(f"`{n}`" for n in names)
    if not listed:
        return ""
    return (
        f"Required checks with no `app:` ({listed}): any writer can post them, as a commit status or from "
        "any app, so the gate cannot tell CI's result from a forged one. Pin each to the app that runs it: "
        "`{name: nightly, app: my-ci-app}`."
    )


# -- cherry-picks into the RC ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    number: int
    title: str
    url: str = ""


# Where a source PR's pick into this RC stands (pick_standing).
PICK_DONE = "done"  # merged into the RC, or the change was already there
PICK_OPEN = "open"  # the pick PR is open (the open-PRs row counts it)
PICK_STUCK = "stuck"  # a person must act: conflict, a taken branch, GitHub refused a step
PICK_OWED = "owed"  # merged and verified, but no pick recorded for this RC yet
PICK_WAITING_QA = "waiting-qa"
PICK_WAITING_MERGE = "waiting-merge"
PICK_DROPPED = "dropped"  # the source or its pick PR was closed without merging

_STUCK_WORDS = {
    picks.CONFLICT: "conflict",
    picks.BRANCH_TAKEN: "pick branch taken",
    picks.FAILED: "GitHub refused",
    picks.PUSHED: "pick PR pushed to, not verified by QA",
    picks.NO_WORKFLOWS: "changes workflows: pick by hand",
}


@dataclass(frozen=True)
class SourcePick:
    """A PR labelled `cherry-pick/X.Y` for this RC, and what its cherry-pick check run records for X.Y."""

    item: ItemRef
    merged: bool
    closed: bool  # closed (merged or not)
    verified: bool
    state: str | None = None  # the recorded PickState.state for this version; None: nothing recorded
    pick_pr: int | None = None


def pick_standing(pick: SourcePick) -> str:
    """This RC's view of one source PR: the recorded per-target state, checked against the PR as it is now.

    Waiting for the merge is judged from the PR itself (the check run may lag behind a merge); a pick
    the bot has not recorded for an existing RC is owed.
    """
    if pick.closed and not pick.merged:
        return PICK_DROPPED
    if pick.state in (picks.MERGED, picks.PRESENT):
        return PICK_DONE
    if pick.state == picks.OPENED:
        return PICK_OPEN
    if pick.state == picks.CLOSED:
        return PICK_DROPPED
    if pick.state in _STUCK_WORDS:
        return PICK_STUCK
    if pick.state == picks.WAIT_QA and pick.merged:
        return PICK_WAITING_QA  # the record knows whether the verified label came from QA
    if not pick.merged:
        return PICK_WAITING_MERGE
    if not pick.verified:
        return PICK_WAITING_QA
    return PICK_OWED


@dataclass(frozen=True)
class PickRow:
    number: int
    title: str
    state: str  # a PR into the RC: merged | open | closed; a source PR: one of _SOURCE_WORDS
    url: str = ""


_SOURCE_WORDS = {
    PICK_WAITING_QA: "waiting for QA",
    PICK_WAITING_MERGE: "waiting for merge",
    PICK_OWED: "not picked yet",
}


def pick_rows(into_rc: Iterable[PickRow], sources: Iterable[SourcePick]) -> tuple[PickRow, ...]:
    """The dashboard's cherry-picks: every PR into the RC, then each source PR whose pick is not one of them."""
    rows = list(into_rc)
    for pick in sources:
        where = pick_standing(pick)
        if where == PICK_STUCK:
            word = _STUCK_WORDS[pick.state or ""]
        elif where == PICK_DONE and pick.state == picks.PRESENT:
            word = "already on the RC"
        else:
            word = _SOURCE_WORDS.get(where, "")
        if word:
            rows.append(PickRow(pick.item.number, pick.item.title, word, pick.item.url))
    return tuple(rows)


def pick_tally(rows: Iterable[PickRow]) -> str:
    """ "merged 2 · open 1 · conflicting 1 · waiting for QA 0" for the dashboard's cherry-picks."""
    states = [row.state for row in rows]
    stuck = sum(1 for s in states if s in _STUCK_WORDS.values())
    return (
        f"merged {states.count('merged')} · open {states.count('open')} · "
        f"conflicting {stuck} · waiting for QA {states.count(_SOURCE_WORDS[PICK_WAITING_QA])}"
    )


# -- links to GitHub's lists -------------------------------------------------------------------


def _qualifier(name: str, value: str) -> str:
    """One search qualifier (`label:rc/1.5`); a value with spaces or punctuation in quotes, as GitHub reads it."""
    if re.fullmatch(r"[A-Za-z0-9._/+-]+", value):
        return f"{name}:{value}"
    return f'{name}:"{value.replace(chr(34), "")}"'


def search_url(repository: str, kind: str, *qualifiers: tuple[str, str]) -> str:
    """The repository's issue or PR list (kind "issues" or "pulls") filtered by the qualifiers ("" without a
    repository)."""
    if not repository:
        return ""
    query = " ".join(_qualifier(name, value) for name, value in qualifiers)
    return f"{repository.rstrip('/')}/{kind}?q={quote_plus(query)}"


def gate_links(repository: str, *, blocker: str, rc_label: str, rc_branch: str) -> dict[str, str]:
    """The gate rows' links: the open blocker bugs of this RC (the blocker label and the RC's label), and the
    open PRs into the RC branch."""
    return {
        "blockers": search_url(
            repository, "issues", ("is", "issue"), ("is", "open"), ("label", blocker), ("label", rc_label)
        ),
        "picks": search_url(repository, "pulls", ("is", "pr"), ("is", "open"), ("base", rc_branch)),
    }


# -- the facts and the verdict -----------------------------------------------------------------


@dataclass(frozen=True)
class HoldLabel:
    """The hold label on the tracking issue as it is, and who changed it by hand just now, if anyone."""

    present: bool
    changed_by: str | None = None


@dataclass(frozen=True)
class BlockerLift:
    """A person's change that would stop an open release blocker from blocking its RCs: closing the bug
    (closed), or taking off its blocker label or an RC's label (removed: that label)."""

    number: int
    by: str
    may_lift: bool  # the person is QA or the RTE
    blocker_label: str
    rc_labels: tuple[str, ...]
    closed: bool = False
    removed: str | None = None


@dataclass(frozen=True)
class BlockerUndo:
    reopen: bool
    put_back: str | None  # the label to put back
    note: str


def blocker_undo(lift: BlockerLift) -> BlockerUndo | None:
    """How a blocker lifted by someone who may not lift it is put back, and what to tell them; None when they may."""
    if lift.may_lift or not lift.rc_labels:
        return None
    what = "closed this bug" if lift.closed else f"took the `{inline(lift.removed or '')}` label off"
    rcs = ", ".join(f"`{inline(label)}`" for label in lift.rc_labels)
    note = (
        f"you {what}, but only QA or the RTE may lift a release blocker: with `{inline(lift.blocker_label)}` it "
        f"blocks {rcs} until one of them closes it or takes the label off. I put it back."
    )
    return BlockerUndo(lift.closed, None if lift.closed else lift.removed, addressed(lift.by, note))


@dataclass(frozen=True)
class GateFacts:
    release: ReleaseState
    required_checks: tuple[RequiredCheck, ...] = ()
    results: tuple[CheckResult, ...] = ()  # check runs (latest per app and name) and statuses on the head
    blockers: tuple[ItemRef, ...] = ()
    open_picks: tuple[ItemRef, ...] = ()  # open PRs into the RC branch
    source_picks: tuple[SourcePick, ...] = ()  # PRs labelled for this RC, with their pick's state for it
    require_signoff: bool = False
    into_rc: tuple[PickRow, ...] = ()  # every PR into the RC branch, for the dashboard
    released: tuple[str, ...] = ()  # tags of this line already promoted
    head_url: str = ""
    hold_label: HoldLabel | None = None  # None: no tracking issue
    protection: tuple[Finding, ...] = ()  # what GitHub must enforce (rules/protection.py); () when not read
    require_protection: bool = False  # a missing one fails the gate (else the row only says so)
    hold_label_name: str = "release-hold"
    links: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # requirement -> URL

    @property
    def hold(self) -> str | None:
        record = self.release.record
        return record.hold.reason if record is not None and record.hold is not None else None


@dataclass(frozen=True)
class GateRow:
    requirement: str
    state: str  # pass | fail | pending | info
    detail: str
    link: str = ""
    said: str = ""  # a failing or pending row in a few plain words for the title: "sanity failed", "PdM sign-off"

    @property
    def in_title(self) -> str:
        return self.said or self.requirement


@dataclass(frozen=True)
class GateVerdict:
    head_sha: str
    rows: tuple[GateRow, ...]

    @property
    def state(self) -> str:
        states = {row.state for row in self.rows}
        return FAIL if FAIL in states else PENDING if PENDING in states else PASS

    @property
    def passed(self) -> bool:
        return self.state == PASS

    @property
    def title(self) -> str:
        """What fails and what is still awaited, plainly: "Blocked: sanity failed, blocker #5 open; waiting for
        nightly". Plain text, as GitHub shows a check run's title."""
        failing = [row.in_title for row in self.rows if row.state == FAIL]
        waiting = [row.in_title for row in self.rows if row.state == PENDING]
        if failing:
            title = "Blocked: " + ", ".join(failing) + (f"; waiting for {', '.join(waiting)}" if waiting else "")
        elif waiting:
            title = "Waiting for " + ", ".join(waiting)
        else:
            title = "Ready to promote"
        return plain_line(title, TITLE_LIMIT)


def _refs(items: Iterable[ItemRef]) -> str:
    return ", ".join(f"[#{i.number}]({i.url})" if i.url else f"#{i.number}" for i in items)


def _numbers(items: Sequence[ItemRef], one: str, many: str) -> str:
    """ "blocker #5", "blockers #5, #6", "4 blockers": numbers for a title, counted past a few."""
    if len(items) > NUMBERS_IN_TITLE:
        return f"{len(items)} {many}"
    listed = ", ".join(f"#{i.number}" for i in items)
    return f"{one if len(items) == 1 else many} {listed}"


def _picks_of(items: Sequence[ItemRef]) -> str:
    """ "the pick of #6", "the picks of #6, #7", "4 picks": source PRs for a title."""
    if len(items) > NUMBERS_IN_TITLE:
        return f"{len(items)} picks"
    return ("the pick of " if len(items) == 1 else "the picks of ") + ", ".join(f"#{i.number}" for i in items)


_WORD = {PASS: "succeeded", PENDING: "running"}


def _result_word(result: CheckResult) -> str:
    return _WORD.get(result.outcome) or f"failed ({result.conclusion or result.state})"


def _check_row(check: RequiredCheck, results: Iterable[CheckResult]) -> GateRow:
    requirement = f"check `{check.name}`"
    sources = check_sources(check, results)
    warning = "" if check.app else " · unpinned: any writer can post it (see `app:`)"
    if not sources:
        where = f" (from `{check.app}`)" if check.app else ""
        return GateRow(requirement, PENDING, f"not reported on this commit{where}{warning}", said=check.name)
    outcomes = {s.outcome for s in sources}
    state = FAIL if FAIL in outcomes else PENDING if PENDING in outcomes else PASS
    shown = next((s for s in sources if s.outcome == state), sources[-1])
    said = f"{check.name} failed" if state == FAIL else f"{check.name} (running)"
    if check.app:
        return GateRow(requirement, state, f"{_result_word(shown)} (from `{check.app}`)", shown.url, said)
    detail = "; ".join(f"{_result_word(s)} ({s.source})" for s in sources)
    return GateRow(requirement, state, detail + warning, shown.url, said)


def _regression_row(release: ReleaseState, link: str) -> GateRow:
    requirement = f"check `{REGRESSION_CHECK}`"
    signal = release.regression
    if signal is None:
        return GateRow(
            requirement, PENDING, "not recorded for this commit: QA's `/regression pass`", link, REGRESSION_CHECK
        )
    by = f" (QA: {inline(signal.by)})" if signal.by else ""
    if signal.passed:
        return GateRow(requirement, PASS, f"passed{by}", signal.url or link)
    return GateRow(requirement, FAIL, f"failed{by}", signal.url or link, f"{REGRESSION_CHECK} failed")


def _record_row(release: ReleaseState, link: str) -> GateRow:
    record = release.record
    if record is None:
        return GateRow(
            "release record",
            FAIL,
            f"I have no record of `{release.branch}`: it was not cut by `/cut-rc`, so nothing here vouches for it",
            link,
            "no release record",
        )
    cut = record.cut
    if cut is not None and not cut.complete:
        return GateRow(
            "release record",
            PENDING,
            f"the cut is not finished: `/cut-rc {record.version}` finishes it",
            said="the cut to finish",
        )
    made = f"{'taken over' if cut.adopted else 'cut'} by {inline(cut.by)} at `{cut.sha[:7]}`" if cut else "recorded"
    tracking = f"; tracking issue #{record.tracking}" if record.tracking is not None else ""
    return GateRow("release record", PASS, made + tracking, link)


def _protection_row(findings: tuple[Finding, ...], required: bool) -> GateRow:
    missing = [f for f in findings if not f.ok]
    if not missing:
        return GateRow("branch and tag protection", PASS, "; ".join(f.requirement for f in findings), SETUP_URL)
    words = "; ".join(f"{f.requirement}: not so, {f.detail}" for f in missing)
    how = f" ([set it up]({SETUP_URL}))"
    if required:
        return GateRow("branch and tag protection", FAIL, words + how, SETUP_URL, "branch and tag protection missing")
    return GateRow(
        "branch and tag protection",
        INFO,
        words + how + "; until then anyone with write can get around this gate",
        SETUP_URL,
    )


def gate_verdict(facts: GateFacts) -> GateVerdict:
    release = facts.release
    tracking_link = facts.links.get("tracking", "")
    rows: list[GateRow] = [_record_row(release, tracking_link)]
    for check in facts.required_checks:
        if check.name == REGRESSION_CHECK:
            rows.append(_regression_row(release, tracking_link))
        else:
            rows.append(_check_row(check, facts.results))
    link = facts.links.get("blockers", "")
    if facts.blockers:
        rows.append(
            GateRow(
                "no blocker bugs",
                FAIL,
                f"open: {_refs(facts.blockers)}",
                link,
                _numbers(facts.blockers, "blocker", "blockers") + " open",
            )
        )
    else:
        rows.append(GateRow("no blocker bugs", PASS, "none open", link))
    if facts.open_picks:
        rows.append(
            GateRow(
                "no open PRs into the RC",
                PENDING,
                f"open: {_refs(facts.open_picks)}",
                facts.links.get("picks", ""),
                _numbers(facts.open_picks, "PR", "PRs") + " into the RC",
            )
        )
    else:
        rows.append(GateRow("no open PRs into the RC", PASS, "none open", facts.links.get("picks", "")))
    standing = [(pick, pick_standing(pick)) for pick in facts.source_picks]
    stuck = [pick for pick, where in standing if where == PICK_STUCK]
    owed = [pick.item for pick, where in standing if where == PICK_OWED]
    waiting = [pick.item for pick, where in standing if where in (PICK_WAITING_QA, PICK_WAITING_MERGE)]
    conflicts = facts.links.get("conflicts", "")
    if stuck:
        detail = ", ".join(f"{_refs([p.item])} ({_STUCK_WORDS[p.state or '']})" for p in stuck)
        said = _picks_of([p.item for p in stuck]) + (" needs a person" if len(stuck) == 1 else " need a person")
        rows.append(GateRow("no failed cherry-picks", FAIL, f"needs a person: {detail}", conflicts, said))
    elif owed:
        said = _picks_of(owed)
        rows.append(GateRow("no failed cherry-picks", PENDING, f"not picked yet: {_refs(owed)}", conflicts, said))
    else:
        rows.append(GateRow("no failed cherry-picks", PASS, "none", conflicts))
    if waiting:
        rows.append(
            GateRow(
                "picks waiting for QA",
                INFO,
                f"not verified or merged yet: {_refs(waiting)}",
                facts.links.get("waiting", ""),
            )
        )
    hold = release.record.hold if release.record is not None else None
    if hold is not None:
        by = f" (by {inline(hold.by)})" if hold.by else ""
        rows.append(GateRow("no hold", FAIL, f"on hold: {inline(hold.reason)}{by}", tracking_link, "on hold"))
    else:
        rows.append(GateRow("no hold", PASS, "none", tracking_link))
    if facts.protection:
        rows.append(_protection_row(facts.protection, facts.require_protection))
    if facts.require_signoff:
        signoff = release.signoff
        if signoff is not None and signoff.passed:
            who = inline(signoff.by) if signoff.by else "PdM"
            rows.append(GateRow("PdM sign-off", PASS, f"by {who} for this commit", tracking_link))
        else:
            rows.append(
                GateRow(
                    "PdM sign-off",
                    PENDING,
                    "`/signoff` on the tracking issue, for this commit",
                    tracking_link,
                    "PdM sign-off",
                )
            )
    return GateVerdict(release.head_sha, tuple(rows))


# -- the texts ---------------------------------------------------------------------------------

_ICON = {PASS: "✅", FAIL: "❌", PENDING: "⏳", INFO: "ℹ️"}


def gate_table(verdict: GateVerdict) -> str:
    lines = ["| requirement | state | link |", "| --- | --- | --- |"]
    for row in verdict.rows:
        link = f"[details]({row.link})" if row.link else ""
        lines.append(f"| {row.requirement} | {_ICON[row.state]} {row.detail} | {link} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class CheckText:
    status: str
    conclusion: str | None
    title: str
    summary: str


def gate_check_output(verdict: GateVerdict, branch: str, unpinned: Iterable[str] = ()) -> CheckText:
    """The gate check run's status, conclusion, title and summary."""
    summary = f"Gate for `{branch}` at `{verdict.head_sha[:7]}`\n\n{gate_table(verdict)}"
    warning = unpinned_warning(unpinned)
    if warning:
        summary += f"\n\n{warning}"
    if verdict.state == PENDING:
        return CheckText("in_progress", None, verdict.title, summary)
    return CheckText("completed", "success" if verdict.passed else "failure", verdict.title, summary)


def dashboard(facts: GateFacts, verdict: GateVerdict) -> str:
    """The tracking issue's section: a view of the record and the verdict, never read back."""
    release = facts.release
    record = release.record
    lines = [
        f"## Release {release.version}",
        "",
        f"**RC branch:** `{release.branch}` · **head:** [`{release.head_sha[:7]}`]({facts.head_url})",
    ]
    if facts.released:
        lines.append("**Promoted:** " + ", ".join(f"`{t}`" for t in facts.released))
    if record is not None and record.cut is not None and record.cut.forced:
        lines.append(f"**Cut forced by** {inline(record.cut.by)} despite missing forward-ports.")
    if record is not None and record.hold is not None:
        by = f" (by {inline(record.hold.by)})" if record.hold.by else ""
        lines.append(f"**On hold:** {inline(record.hold.reason)}{by}")
    lines += ["", f"### Gate: {verdict.title}", "", gate_table(verdict), "", "### Blocker bugs", ""]
    lines += [f"- [#{b.number}]({b.url}) {inline(b.title)}" for b in facts.blockers] or ["None open."]
    lines += ["", "### Cherry-picks", ""]
    rows = pick_rows(facts.into_rc, facts.source_picks)
    if rows:
        lines += [pick_tally(rows), "", "| PR | state |", "| --- | --- |"]
        lines += [f"| [#{p.number}]({p.url}) {inline(p.title)} | {p.state} |" for p in rows]
    else:
        lines.append("None yet.")
    if record is not None and record.cut is not None and record.cut.not_in_rc:
        lines += ["", "### Not in this RC (open when it was cut)", ""]
        lines.append(", ".join(f"#{n}" for n in record.cut.not_in_rc))
    lines += [
        "",
        "### Commands",
        "",
        "`/regression pass` · `/regression fail <summary>` (QA) · `/signoff` (PdM) · "
        "`/hold <reason>` · `/unhold` (RTE, PdM) · `/promote` (RTE) · `/refresh`",
        "",
        "<sub>This section shows my record of the release; edits to it change nothing and are undone.</sub>",
    ]
    return "\n".join(lines)


def dashboard_section(body: str | None) -> str | None:
    body = body or ""
    start, end = body.find(DASHBOARD_START), body.find(DASHBOARD_END)
    if start < 0 or end < start:
        return None
    return body[start + len(DASHBOARD_START) : end]


def splice_dashboard(body: str | None, section: str) -> str:
    """The issue body with the bot's section replaced (or appended); people's text stays as it was."""
    body = body or ""
    block = f"{DASHBOARD_START}\n{section.strip()}\n{DASHBOARD_END}"
    start, end = body.find(DASHBOARD_START), body.find(DASHBOARD_END)
    if start < 0 or end < start:
        return f"{body.rstrip()}\n\n{block}" if body.strip() else block
    return body[:start] + block + body[end + len(DASHBOARD_END) :]


def hold_label_note(facts: GateFacts) -> str | None:
    """What to tell a person whose change to the hold label the record undoes (mentioning them: they are answered)."""
    label = facts.hold_label
    if label is None or label.changed_by is None:
        return None
    name = f"`{facts.hold_label_name}`"
    hold = facts.release.record.hold if facts.release.record is not None else None
    if hold is not None and not label.present:
        by = f" by {inline(hold.by)}" if hold.by else ""
        return addressed(
            label.changed_by,
            f"you removed {name}, but the label only shows the hold: `{facts.release.branch}` is still on hold"
            f"{by} ({inline(hold.reason)}), and only `/unhold` from the RTE or PdM lifts it. I put the label back.",
        )
    if hold is None and label.present:
        return addressed(
            label.changed_by,
            f"you added {name}, but the label only shows a hold: only `/hold <reason>` from the RTE or PdM "
            f"holds `{facts.release.branch}`. I took the label off.",
        )
    return None


# -- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    verdict: GateVerdict
    check: CheckText
    dashboard: str  # the tracking issue's section
    hold_label: bool  # whether the hold label belongs on the tracking issue
    note: str | None = None  # for a person who changed the hold label by hand


def decide(facts: GateFacts) -> GateDecision:
    verdict = gate_verdict(facts)
    check = gate_check_output(verdict, facts.release.branch, unpinned_checks(facts.required_checks))
    return GateDecision(
        verdict=verdict,
        check=check,
        dashboard=dashboard(facts, verdict),
        hold_label=facts.hold is not None,
        note=hold_label_note(facts),
    )
