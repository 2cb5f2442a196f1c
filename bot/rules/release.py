"""Pure decisions of the RC lifecycle: forward-port gaps, the gate, the promote plan and the dashboard."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.config import RequiredCheck
from bot.rules import cherry_pick as picks
from bot.rules.names import parse_tag, tag_name, version_key
from bot.rules.text import inline

DASHBOARD_START = "<!-- release-train:dashboard:start -->"
DASHBOARD_END = "<!-- release-train:dashboard:end -->"
_STATE = re.compile(r"<!-- release-train:state (\{.*?\}) -->", re.S)
_PICKED_FROM = re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)")
_PR_REFS = re.compile(r"\(#([0-9]+)\)|^Merge pull request #([0-9]+)\b")
_HUNK = re.compile(r"^@@ [^@]* @@")


# forward-port gaps ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CommitFact:
    sha: str
    message: str
    parents: int = 1
    change_id: str | None = None  # same_change_id() of the commit's diff, when it was fetched
    url: str = ""


@dataclass(frozen=True)
class RcLine:
    version: str
    branch: str
    head_sha: str
    promoted_sha: str | None  # the commit of this line's newest production tag, if any
    missing_from_devel: tuple[CommitFact, ...] = ()  # commits on the RC that devel lacks


@dataclass(frozen=True)
class Gap:
    version: str
    branch: str
    commit: CommitFact

    @property
    def subject(self) -> str:
        return self.commit.message.split("\n", 1)[0]


def lines_in_use(lines: Iterable[RcLine]) -> tuple[RcLine, ...]:
    """The newest line (promoted or not) and every older line with commits since its last promotion."""
    ordered = sorted(lines, key=lambda line: version_key(line.version))
    if not ordered:
        return ()
    newest = ordered[-1]
    return tuple(line for line in ordered if line is newest or line.promoted_sha != line.head_sha)


def picked_from(message: str) -> tuple[str, ...]:
    """The SHAs named by `git cherry-pick -x` trailers in a commit message."""
    return tuple(_PICKED_FROM.findall(message))


def pr_numbers(message: str) -> frozenset[int]:
    """PR numbers a commit subject names: "Fix (#12)" (squash) or "Merge pull request #12" (merge)."""
    subject = message.split("\n", 1)[0]
    found: set[int] = set()
    for squash, merge in _PR_REFS.findall(subject):
        found.add(int(squash or merge))
    return frozenset(found)


def same_change_id(files: Iterable[tuple[str, str | None]]) -> str:
    """A patch-id-like fingerprint from (filename, patch) pairs: line numbers and whitespace ignored."""
    digest = hashlib.sha1()
    for filename, patch in sorted(files, key=lambda f: f[0]):
        digest.update(filename.encode() + b"\0")
        for line in (patch or "").split("\n"):
            if _HUNK.match(line) or line[:1] not in ("+", "-"):
                continue
            digest.update(line[0].encode() + "".join(line[1:].split()).encode() + b"\n")
        digest.update(b"\1")
    return digest.hexdigest()


def _named(sha: str, candidates: Iterable[str]) -> bool:
    return any(c.startswith(sha) or sha.startswith(c) for c in candidates if len(c) >= 7 and len(sha) >= 7)


def equivalent_on_devel(
    commit: CommitFact, devel_commits: Iterable[CommitFact], devel_shas: frozenset[str] = frozenset()
) -> str | None:
    """Why commit has an equivalent on devel ("picked", "pr", "change"), or None.

    devel_shas: further commits known to be on devel (older than the compared range).
    """
    devel = tuple(devel_commits)
    on_devel = {c.sha for c in devel} | set(devel_shas)
    if any(_named(source, on_devel) for source in picked_from(commit.message)):
        return "picked"
    if any(_named(commit.sha, picked_from(c.message)) for c in devel):
        return "picked"
    numbers = pr_numbers(commit.message)
    if numbers and any(numbers & pr_numbers(c.message) for c in devel):
        return "pr"
    if commit.change_id is not None and any(c.change_id == commit.change_id for c in devel):
        return "change"
    return None


def forward_port_gaps(
    lines: Iterable[RcLine], devel_commits: Iterable[CommitFact], devel_shas: frozenset[str] = frozenset()
) -> tuple[Gap, ...]:
    """Every commit on an RC line in use that devel lacks and has no equivalent for (merges carry no change)."""
    devel = tuple(devel_commits)
    gaps: list[Gap] = []
    for line in lines_in_use(lines):
        for commit in line.missing_from_devel:
            if commit.parents > 1:
                continue
            if equivalent_on_devel(commit, devel, devel_shas) is None:
                gaps.append(Gap(line.version, line.branch, commit))
    return tuple(gaps)


def gap_report(gaps: Iterable[Gap], devel_branch: str, *, forced: bool = False) -> str:
    rows = []
    for gap in gaps:
        link = f"[`{gap.commit.sha[:7]}`]({gap.commit.url})" if gap.commit.url else f"`{gap.commit.sha[:7]}`"
        rows.append(f"- {link} on `{gap.branch}`: {inline(gap.subject)}")
    how = (
        f"Forward-port each one to `{devel_branch}`: open a PR into `{devel_branch}` with "
        f"`git cherry-pick -x <sha>` (the `-x` trailer lets me recognise it) and merge it"
    )
    how += (
        ", so the next RC has it."
        if forced
        else ", then run `/cut-rc` again. `/cut-rc --force` cuts anyway and records who forced it."
    )
    return "\n".join(rows) + "\n\n" + how


# the gate ------------------------------------------------------------------------------------
PASS, FAIL, PENDING, INFO = "pass", "fail", "pending", "info"
_OK_CONCLUSIONS = {"success", "neutral", "skipped"}


@dataclass(frozen=True)
class CheckResult:
    """One check run or commit status on the head commit."""

    name: str
    kind: str  # "check_run" | "status"
    state: str  # check run: queued|in_progress|completed; status: pending|success|failure|error
    conclusion: str | None = None  # check runs only
    app_slug: str | None = None  # check runs only
    by_bot: bool = False  # a check run of this app (QA's /regression, recorded by the bot)
    at: str = ""  # ISO time of the result (completed_at, started_at, or the status's created_at)
    order: int = 0  # tie-break: the id
    url: str = ""

    @property
    def outcome(self) -> str:
        if self.kind == "status":
            return {"success": PASS, "pending": PENDING}.get(self.state, FAIL)
        if self.state != "completed":
            return PENDING
        return PASS if self.conclusion in _OK_CONCLUSIONS else FAIL


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

_STUCK_WORDS = {picks.CONFLICT: "conflict", picks.BRANCH_TAKEN: "pick branch taken", picks.FAILED: "GitHub refused"}


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
class GateFacts:
    version: str
    branch: str
    head_sha: str
    required_checks: tuple[RequiredCheck, ...] = ()
    results: tuple[CheckResult, ...] = ()
    blockers: tuple[ItemRef, ...] = ()
    open_picks: tuple[ItemRef, ...] = ()  # open PRs into the RC branch
    source_picks: tuple[SourcePick, ...] = ()  # PRs labelled for this RC, with their pick's state for it
    hold: str | None = None  # the reason, when a hold is active
    require_signoff: bool = False
    signoff_by: str | None = None  # who signed off this exact head, if anyone
    runs_only: frozenset[str] = frozenset({"regression"})  # checks no commit status may satisfy
    links: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # requirement -> URL


@dataclass(frozen=True)
class GateRow:
    requirement: str
    state: str  # pass | fail | pending | info
    detail: str
    link: str = ""


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
        missing = [row.requirement for row in self.rows if row.state in (FAIL, PENDING)]
        if not missing:
            return "Ready to promote"
        return ("Blocked: " if self.state == FAIL else "Waiting: ") + ", ".join(missing)


def latest_result(
    check: RequiredCheck, results: Iterable[CheckResult], *, runs_only: bool = False
) -> CheckResult | None:
    """The newest result that may satisfy the check: with an app named, only that app's (or the bot's) check runs.

    runs_only: no commit status counts (a check the bot records for QA, which a status must not forge).
    """
    accepted = [
        r
        for r in results
        if r.name == check.name
        and (check.app is None or (r.kind == "check_run" and (r.by_bot or (r.app_slug or "") == check.app)))
        and not (runs_only and r.kind == "status")
    ]
    if not accepted:
        return None
    return max(accepted, key=lambda r: (r.at, r.order))


def _refs(items: Iterable[ItemRef]) -> str:
    return ", ".join(f"[#{i.number}]({i.url})" if i.url else f"#{i.number}" for i in items)


def gate_verdict(facts: GateFacts) -> GateVerdict:
    rows: list[GateRow] = []
    for check in facts.required_checks:
        result = latest_result(check, facts.results, runs_only=check.name in facts.runs_only)
        source = f" (from `{check.app}`)" if check.app else ""
        if result is None:
            rows.append(GateRow(f"check `{check.name}`", PENDING, f"not reported on this commit{source}"))
        else:
            word = {PASS: "succeeded", FAIL: f"failed ({result.conclusion or result.state})", PENDING: "running"}
            rows.append(GateRow(f"check `{check.name}`", result.outcome, word[result.outcome] + source, result.url))
    link = facts.links.get("blockers", "")
    if facts.blockers:
        rows.append(GateRow("no blocker bugs", FAIL, f"open: {_refs(facts.blockers)}", link))
    else:
        rows.append(GateRow("no blocker bugs", PASS, "none open", link))
    if facts.open_picks:
        rows.append(
            GateRow(
                "no open PRs into the RC", PENDING, f"open: {_refs(facts.open_picks)}", facts.links.get("picks", "")
            )
        )
    else:
        rows.append(GateRow("no open PRs into the RC", PASS, "none open", facts.links.get("picks", "")))
    standing = [(pick, pick_standing(pick)) for pick in facts.source_picks]
    stuck = [pick for pick, where in standing if where == PICK_STUCK]
    owed = [pick.item for pick, where in standing if where == PICK_OWED]
    waiting = [pick.item for pick, where in standing if where in (PICK_WAITING_QA, PICK_WAITING_MERGE)]
    if stuck:
        detail = ", ".join(f"{_refs([p.item])} ({_STUCK_WORDS[p.state or '']})" for p in stuck)
        rows.append(
            GateRow("no failed cherry-picks", FAIL, f"needs a person: {detail}", facts.links.get("conflicts", ""))
        )
    elif owed:
        rows.append(
            GateRow(
                "no failed cherry-picks", PENDING, f"not picked yet: {_refs(owed)}", facts.links.get("conflicts", "")
            )
        )
    else:
        rows.append(GateRow("no failed cherry-picks", PASS, "none", facts.links.get("conflicts", "")))
    if waiting:
        rows.append(
            GateRow(
                "picks waiting for QA",
                INFO,
                f"not verified or merged yet: {_refs(waiting)}",
                facts.links.get("waiting", ""),
            )
        )
    if facts.hold is not None:
        rows.append(GateRow("no hold", FAIL, f"on hold: {inline(facts.hold)}", facts.links.get("tracking", "")))
    else:
        rows.append(GateRow("no hold", PASS, "none", facts.links.get("tracking", "")))
    if facts.require_signoff:
        if facts.signoff_by:
            rows.append(
                GateRow(
                    "PdM sign-off",
                    PASS,
                    f"by {inline(facts.signoff_by)} for this commit",
                    facts.links.get("tracking", ""),
                )
            )
        else:
            rows.append(
                GateRow(
                    "PdM sign-off",
                    PENDING,
                    "`/signoff` on the tracking issue, for this commit",
                    facts.links.get("tracking", ""),
                )
            )
    return GateVerdict(facts.head_sha, tuple(rows))


_ICON = {PASS: "✅", FAIL: "❌", PENDING: "⏳", INFO: "ℹ️"}


def gate_table(verdict: GateVerdict) -> str:
    lines = ["| requirement | state | link |", "| --- | --- | --- |"]
    for row in verdict.rows:
        link = f"[details]({row.link})" if row.link else ""
        lines.append(f"| {row.requirement} | {_ICON[row.state]} {row.detail} | {link} |")
    return "\n".join(lines)


def gate_check_output(verdict: GateVerdict, branch: str) -> tuple[str, str | None, str, str]:
    """(status, conclusion, title, summary) for the gate check run."""
    summary = f"Gate for `{branch}` at `{verdict.head_sha[:7]}`\n\n{gate_table(verdict)}"
    if verdict.state == PENDING:
        return "in_progress", None, verdict.title, summary
    return "completed", "success" if verdict.passed else "failure", verdict.title, summary


# the promote plan ----------------------------------------------------------------------------
PROMOTE_STEPS = ("tag", "release", "production", "deployment", "handoff", "released_label")


@dataclass(frozen=True)
class TagFact:
    name: str
    sha: str  # the commit the tag points to (peeled)


@dataclass(frozen=True)
class PromoteFacts:
    version: str
    head_sha: str
    tag_template: str
    tags: tuple[TagFact, ...]  # every production-looking tag in the repository
    verdict: GateVerdict
    production_branch: str | None = None
    production_sha: str | None = None  # None: the branch does not exist yet
    production_can_ff: bool = True  # production is an ancestor of (or equal to) head
    done: frozenset[str] = frozenset()  # steps after the tag already done (for the tag the plan picks)


@dataclass(frozen=True)
class PromotePlan:
    ok: bool
    tag: str
    patch: int
    sha: str
    already_promoted: bool  # a tag of this line already points at head
    previous_tag: str | None  # the production tag before this one (release notes start there)
    steps: tuple[str, ...]  # what is left to do, in order
    refusals: tuple[GateRow, ...] = ()


def previous_tag(template: str, tags: Iterable[TagFact], version: str, patch: int) -> str | None:
    """The newest production tag before version and patch (the release notes start there)."""
    here = (version_key(version), patch)
    earlier = []
    for tag in tags:
        parsed = parse_tag(template, tag.name)
        if parsed and (version_key(parsed[0]), parsed[1]) < here:
            earlier.append(((version_key(parsed[0]), parsed[1]), tag.name))
    return max(earlier)[1] if earlier else None


def promote_plan(facts: PromoteFacts) -> PromotePlan:
    """What /promote must do now, or why it must not: the gate, the tag and the production branch."""
    line_tags = []
    for tag in facts.tags:
        parsed = parse_tag(facts.tag_template, tag.name)
        if parsed and parsed[0] == facts.version:
            line_tags.append((parsed[1], tag))
    on_head = sorted(patch for patch, tag in line_tags if tag.sha == facts.head_sha)
    if on_head:
        patch = on_head[-1]
        name = tag_name(facts.tag_template, facts.version, patch)
        steps = tuple(s for s in PROMOTE_STEPS if s != "tag" and s not in facts.done)
        if not facts.production_branch:
            steps = tuple(s for s in steps if s != "production")
        return PromotePlan(
            True,
            name,
            patch,
            facts.head_sha,
            True,
            previous_tag(facts.tag_template, facts.tags, facts.version, patch),
            steps,
        )
    patch = max((p for p, _ in line_tags), default=-1) + 1
    name = tag_name(facts.tag_template, facts.version, patch)
    refusals = [row for row in facts.verdict.rows if row.state in (FAIL, PENDING)]
    taken = [t for t in facts.tags if t.name == name and t.sha != facts.head_sha]
    if taken:
        refusals.append(GateRow("tag is free", FAIL, f"`{name}` already points at `{taken[0].sha[:7]}`"))
    if facts.production_branch and facts.production_sha and not facts.production_can_ff:
        refusals.append(
            GateRow(
                "production can fast-forward",
                FAIL,
                f"`{facts.production_branch}` has commits that `{facts.head_sha[:7]}` lacks",
            )
        )
    steps = tuple(s for s in PROMOTE_STEPS if s != "production" or facts.production_branch)
    return PromotePlan(
        not refusals,
        name,
        patch,
        facts.head_sha,
        False,
        previous_tag(facts.tag_template, facts.tags, facts.version, patch),
        steps if not refusals else (),
        tuple(refusals),
    )


def refusal_table(rows: Iterable[GateRow]) -> str:
    return gate_table(GateVerdict("", tuple(rows)))


# the tracking issue --------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackingState:
    """What the bot keeps in the tracking issue's section (beside labels and check runs)."""

    version: str
    hold_reason: str | None = None
    hold_by: str | None = None
    forced_by: str | None = None
    cut_complete: bool = False
    dispatched: tuple[str, ...] = ()
    not_in_rc: tuple[int, ...] = ()

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "version": self.version,
                    "hold_reason": self.hold_reason,
                    "hold_by": self.hold_by,
                    "forced_by": self.forced_by,
                    "cut_complete": self.cut_complete,
                    "dispatched": list(self.dispatched),
                    "not_in_rc": list(self.not_in_rc),
                },
                separators=(",", ":"),
            )
            .replace("--", "\\u002d\\u002d")
            .replace("@", "\\u0040")
        )  # nothing may close the HTML comment early, or ping from it


def read_state(body: str | None) -> TrackingState | None:
    section = dashboard_section(body)
    if section is None:
        return None
    match = _STATE.search(section)
    if not match:
        return None
    try:
        raw = json.loads(match.group(1))
        return TrackingState(
            version=str(raw["version"]),
            hold_reason=raw.get("hold_reason"),
            hold_by=raw.get("hold_by"),
            forced_by=raw.get("forced_by"),
            cut_complete=bool(raw.get("cut_complete")),
            dispatched=tuple(raw.get("dispatched") or ()),
            not_in_rc=tuple(int(n) for n in raw.get("not_in_rc") or ()),
        )
    except (ValueError, KeyError, TypeError):
        return None


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


@dataclass(frozen=True)
class DashboardFacts:
    state: TrackingState
    branch: str
    head_sha: str
    head_url: str
    verdict: GateVerdict
    blockers: tuple[ItemRef, ...] = ()
    picks: tuple[PickRow, ...] = ()
    releases: tuple[str, ...] = ()  # tags of this line already promoted


def dashboard(facts: DashboardFacts) -> str:
    state = facts.state
    lines = [
        f"<!-- release-train:state {state.to_json()} -->",
        f"## Release {facts.state.version}",
        "",
        f"**RC branch:** `{facts.branch}` · **head:** [`{facts.head_sha[:7]}`]({facts.head_url})",
    ]
    if facts.releases:
        lines.append("**Promoted:** " + ", ".join(f"`{t}`" for t in facts.releases))
    if state.forced_by:
        lines.append(f"**Cut forced by** {inline(state.forced_by)} despite missing forward-ports.")
    if state.hold_reason is not None:
        by = f" (by {inline(state.hold_by)})" if state.hold_by else ""
        lines.append(f"**On hold:** {inline(state.hold_reason)}{by}")
    lines += ["", f"### Gate: {facts.verdict.title}", "", gate_table(facts.verdict), "", "### Blocker bugs", ""]
    lines += [f"- [#{b.number}]({b.url}) {inline(b.title)}" for b in facts.blockers] or ["None open."]
    lines += ["", "### Cherry-picks", ""]
    if facts.picks:
        lines += [pick_tally(facts.picks), "", "| PR | state |", "| --- | --- |"]
        lines += [f"| [#{p.number}]({p.url}) {inline(p.title)} | {p.state} |" for p in facts.picks]
    else:
        lines.append("None yet.")
    if state.not_in_rc:
        lines += ["", "### Not in this RC (open when it was cut)", ""]
        lines.append(", ".join(f"#{n}" for n in state.not_in_rc))
    lines += [
        "",
        "### Commands",
        "",
        "`/regression pass` · `/regression fail <summary>` (QA) · `/signoff` (PdM) · "
        "`/hold <reason>` · `/unhold` (RTE, PdM) · `/promote` (RTE) · `/refresh`",
    ]
    return "\n".join(lines)
