"""The merge rules for PRs into FR, devel and RC branches: plain facts about one PR in, a verdict out (pure).

Rules (each toggled in `merge_rules.*`):
1. a PR into an FR branch names the FR's ticket in its title or head branch (`require_ticket_into_fr`);
2. an FR branch into devel has no open child PRs (`require_children_merged`), is not behind devel
   (`require_up_to_date`) and carries the ready label applied by PdM or RTE (`require_ready_label`);
3. a PR into an RC branch that the bot did not open carries the verified label applied by QA for its
   head commit (`require_verified_into_rc`) and references a bug (`require_bug_reference_into_rc`); an
   FR branch into an RC branch fails (`block_fr_into_rc`); the bot's own pick PR holds only the commits
   the bot picked, or QA verified it at its head (always on: it is the pick's chain of custody);
4. a PR into devel from a branch that is not an FR branch references a bug or ticket
   (`require_ticket_into_devel`, off by default).

A rule that is turned off is listed as `off`, never silently skipped. A PR to which no rule applies
gets a success that says so. A fact the handler could not establish makes its rule `unknown`, and
any unknown rule keeps the check `in_progress`: it never claims success on incomplete facts.

Check names: a commit's check run belongs to the commit, not to a PR. When the head commit has one
open PR (the usual case) that PR's verdict is posted as the configured name
(`release-train/merge-rules`). When the head has open PRs into several bases, each PR's verdict is
posted as `<name> (<base>)` (e.g. `release-train/merge-rules (rc/1.5)`), and the plain name carries
the combined verdict (success only when every one of those PRs passes), so a branch protection rule
that requires the plain name never lets a process-breaking merge through. Once the head has a single
open PR again, the plain name carries that PR's verdict and the leftover `(<base>)` checks turn
`neutral` ("No open PR into rc/1.5 on this commit"). A merge queue's group commit gets the plain name
with the verdict of the PR the group adds.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2

from bot.config import RepoConfig, fr_ticket, is_feature_branch
from bot.rules.cherry_pick import PickCustody, foreign_words
from bot.rules.names import pick_source
from bot.rules.text import inline, no_pings

PASS, FAIL, UNKNOWN, OFF = "pass", "fail", "unknown", "off"
STATE_MARK = {PASS: "✅ pass", FAIL: "❌ fail", UNKNOWN: "⏳ unknown", OFF: "➖ off"}

# Kinds of PR, by base (and head for FR → RC).
INTO_FR, FR_INTO_DEVEL, INTO_DEVEL, INTO_RC, NONE = "into-fr", "fr-into-devel", "into-devel", "into-rc", "none"

# Facts a handler may have to gather for a PR (the rules say which through `facts_needed`).
NEED_CHILDREN, NEED_BEHIND, NEED_READY, NEED_VERIFIED = "children", "behind", "ready", "verified"
NEED_PICK = "pick"  # what the bot's pick PR holds beyond what it picked

CHILDREN_LISTED = 50  # more open child PRs are counted, not listed

_BUG_REFERENCE = re2.compile(
    r"(?:^|[^A-Za-z0-9_&/#])(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#[0-9]+\b"
    r"|https?://[^\s)]+/issues/[0-9]+"
)


@dataclass(frozen=True)
class ChildPr:
    """An open PR into the FR branch."""

    number: int
    title: str
    html_url: str


@dataclass(frozen=True)
class LabelSignoff:
    """A role-guarded label on the PR: whether it is there, and which role holder applied it."""

    present: bool
    by: str | None = None  # login of the role holder who applied it; None: absent or applied without the role


@dataclass(frozen=True)
class PullFacts:
    number: int
    title: str
    body: str
    head_ref: str
    base_ref: str
    opened_by_bot: bool
    html_url: str = ""
    # Gathered only when `facts_needed` asks for them; None means unknown.
    open_children: tuple[ChildPr, ...] | None = None
    behind_by: int | None = None
    ready: LabelSignoff | None = None
    verified: LabelSignoff | None = None
    pick: PickCustody | None = None


@dataclass(frozen=True)
class RuleResult:
    rule: str  # what the rule asks, in words
    setting: str  # the `merge_rules.*` key that turns it off
    state: str  # pass | fail | unknown | off
    found: str  # what the bot saw (Markdown, one line)
    fix: str = ""  # how to fix it (Markdown, one line); empty when passing
    short: str = ""  # the failure in a few words, for the title
    steps: str = ""  # longer instructions (Markdown) shown under the table


@dataclass(frozen=True)
class Verdict:
    kind: str
    base_ref: str
    number: int
    applies: str  # which rules apply, in words
    results: tuple[RuleResult, ...]

    @property
    def active(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.state != OFF)

    @property
    def failing(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.state == FAIL)

    @property
    def unknown(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.state == UNKNOWN)

    @property
    def passed(self) -> bool:
        return not self.failing and not self.unknown


@dataclass(frozen=True)
class CheckOutput:
    status: str  # in_progress | completed
    conclusion: str | None  # success | failure | None while in progress
    title: str
    summary: str


# --- patterns --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def compile_ticket_pattern(pattern: str) -> Any:
    """The configured ticket pattern under RE2 (linear time on people's text); None when invalid."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


def names_ticket(text: str, ticket: str) -> bool:
    """True when text names the ticket as a whole word, in any case (FR-123 is not FR-1234)."""
    regex = re2.compile(r"(?i)(?:^|[^A-Za-z0-9])" + re2.escape(ticket) + r"(?:$|[^0-9])")
    return regex.search(text) is not None


def has_bug_reference(config: RepoConfig, text: str) -> bool:
    """`#123`, `owner/repo#123`, an issue URL, or a ticket matching the configured pattern."""
    if _BUG_REFERENCE.search(text):
        return True
    regex = compile_ticket_pattern(config.merge_rules.fr_ticket_pattern)
    return regex is not None and any(m.group(0) for m in regex.finditer(text))


def kind_of(config: RepoConfig, base_ref: str, head_ref: str) -> str:
    if base_ref == config.branches.devel:
        return FR_INTO_DEVEL if is_feature_branch(config, head_ref) else INTO_DEVEL
    if is_feature_branch(config, base_ref):
        return INTO_FR
    if config.names.rc_version_of(base_ref) is not None:
        return INTO_RC
    return NONE


def facts_needed(config: RepoConfig, base_ref: str, head_ref: str, opened_by_bot: bool) -> frozenset[str]:
    """Which facts the handler must gather before `evaluate` can decide (so it fetches nothing else)."""
    rules = config.merge_rules
    kind = kind_of(config, base_ref, head_ref)
    needed: set[str] = set()
    if kind == FR_INTO_DEVEL:
        if rules.require_children_merged:
            needed.add(NEED_CHILDREN)
        if rules.require_up_to_date:
            needed.add(NEED_BEHIND)
        if rules.require_ready_label:
            needed.add(NEED_READY)
    elif kind == INTO_RC and not opened_by_bot and rules.require_verified_into_rc:
        if not (rules.block_fr_into_rc and is_feature_branch(config, head_ref)):
            needed.add(NEED_VERIFIED)
    elif kind == INTO_RC and opened_by_bot and pick_source(head_ref) is not None:
        needed.add(NEED_PICK)
    return frozenset(needed)


# --- the rules -------------------------------------------------------------------------------


def _off(rule: str, setting: str) -> RuleResult:
    return RuleResult(rule, setting, OFF, f"turned off (`merge_rules.{setting}: false`)")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _ticket_into_fr(config: RepoConfig, pr: PullFacts) -> RuleResult:
    rule, setting = "Names the FR's ticket in its title or head branch", "require_ticket_into_fr"
    if not config.merge_rules.require_ticket_into_fr:
        return _off(rule, setting)
    pattern = config.merge_rules.fr_ticket_pattern
    if compile_ticket_pattern(pattern) is None:
        return RuleResult(
            rule,
            setting,
            FAIL,
            f"the ticket pattern {_code(pattern)} is not a valid RE2 expression",
            fix="fix `merge_rules.fr_ticket_pattern` in `.github/release-train.yml`",
            short="invalid ticket pattern",
        )
    ticket = fr_ticket(config, pr.base_ref)
    if ticket is None:
        # The FR names no ticket, so any ticket the pattern accepts will do.
        if has_ticket(config, pr.title) or has_ticket(config, pr.head_ref):
            return RuleResult(rule, setting, PASS, f"{_code(pr.base_ref)} names no ticket; the PR names one")
        return RuleResult(
            rule,
            setting,
            FAIL,
            f"{_code(pr.base_ref)} names no ticket, and neither the title nor {_code(pr.head_ref)} names one "
            f"matching {_code(pattern)}",
            fix="put the ticket in the PR title",
            short="no ticket in title or branch",
        )
    if names_ticket(pr.title, ticket) or names_ticket(pr.head_ref, ticket):
        where = "title" if names_ticket(pr.title, ticket) else "head branch"
        return RuleResult(rule, setting, PASS, f"{_code(ticket)} is in the {where}")
    return RuleResult(
        rule,
        setting,
        FAIL,
        f"neither the title nor {_code(pr.head_ref)} names {_code(ticket)}",
        fix=f"put {_code(ticket)} in the PR title, e.g. {_code(ticket + ': ' + pr.title[:60])}",
        short=f"title does not name {ticket}",
    )


def has_ticket(config: RepoConfig, text: str) -> bool:
    regex = compile_ticket_pattern(config.merge_rules.fr_ticket_pattern)
    return regex is not None and any(m.group(0) for m in regex.finditer(text))


def _children(config: RepoConfig, pr: PullFacts) -> RuleResult:
    rule, setting = f"No open PRs into {_code(pr.head_ref)}", "require_children_merged"
    if not config.merge_rules.require_children_merged:
        return _off(rule, setting)
    if pr.open_children is None:
        return RuleResult(
            rule,
            setting,
            UNKNOWN,
            "the open PRs into the FR branch could not be listed yet",
            short="open child PRs unknown",
        )
    if not pr.open_children:
        return RuleResult(rule, setting, PASS, f"no open PR into {_code(pr.head_ref)}")
    count = len(pr.open_children)
    noun = "PR" if count == 1 else "PRs"
    listed = ", ".join(f"[#{c.number}]({c.html_url})" for c in pr.open_children[:CHILDREN_LISTED])
    if count > CHILDREN_LISTED:
        listed += f" and {count - CHILDREN_LISTED} more"
    steps = "\n".join(
        f"- [#{c.number}]({c.html_url}) {inline(c.title, 120)}" for c in pr.open_children[:CHILDREN_LISTED]
    )
    if count > CHILDREN_LISTED:
        steps += f"\n- … and {count - CHILDREN_LISTED} more"
    return RuleResult(
        rule,
        setting,
        FAIL,
        f"{count} open {noun}: {listed}",
        fix=f"merge or close the open {noun} into {_code(pr.head_ref)}",
        short=f"{count} open {noun} into {pr.head_ref}",
        steps=f"**Open PRs into `{pr.head_ref}`**\n\n{steps}",
    )


def _up_to_date(config: RepoConfig, pr: PullFacts) -> RuleResult:
    devel = config.branches.devel
    rule, setting = f"Contains the head of {_code(devel)}", "require_up_to_date"
    if not config.merge_rules.require_up_to_date:
        return _off(rule, setting)
    if pr.behind_by is None:
        return RuleResult(
            rule,
            setting,
            UNKNOWN,
            f"could not compare {_code(pr.head_ref)} with {_code(devel)} yet",
            short=f"behind {devel} unknown",
        )
    if pr.behind_by == 0:
        return RuleResult(rule, setting, PASS, f"{_code(pr.head_ref)} contains {_code(devel)}")
    noun = "commit" if pr.behind_by == 1 else "commits"
    # People paste these into a shell, and a branch name may hold `$(...)`, `;` or quotes.
    head, base = shlex.quote(pr.head_ref), shlex.quote(f"origin/{devel}")
    commands = f"```sh\ngit fetch origin\ngit checkout {head}\ngit merge {base}\ngit push origin {head}\n```"
    return RuleResult(
        rule,
        setting,
        FAIL,
        f"behind {_code(devel)} by {pr.behind_by} {noun}",
        fix=f"merge {_code(devel)} into {_code(pr.head_ref)} (commands below)",
        short=f"behind {devel} by {pr.behind_by} {noun}",
        steps=f"**Update {_code(pr.head_ref)} with {_code(devel)}**\n\n{commands}",
    )


def _ready(config: RepoConfig, pr: PullFacts) -> RuleResult:
    label = config.labels.fr_ready
    rule, setting = f"Signed off with {_code(label)} by PdM or RTE", "require_ready_label"
    if not config.merge_rules.require_ready_label:
        return _off(rule, setting)
    if pr.ready is None:
        return RuleResult(
            rule, setting, UNKNOWN, "who applied the label could not be established yet", short="sign-off unknown"
        )
    if pr.ready.present and pr.ready.by:
        return RuleResult(rule, setting, PASS, f"{_code(label)} applied by {_code(pr.ready.by)}")
    found = f"{_code(label)} was not applied by a PdM or RTE member" if pr.ready.present else f"no {_code(label)} label"
    return RuleResult(
        rule,
        setting,
        FAIL,
        found,
        fix=f"a PdM or RTE member applies {_code(label)} once the FR is complete",
        short="not signed off",
    )


def _fr_into_rc(config: RepoConfig, pr: PullFacts) -> RuleResult:
    rule, setting = "Not an FR branch", "block_fr_into_rc"
    if not config.merge_rules.block_fr_into_rc:
        return _off(rule, setting)
    if is_feature_branch(config, pr.head_ref):
        return RuleResult(
            rule,
            setting,
            FAIL,
            f"{_code(pr.head_ref)} is an FR branch: features reach an RC only through "
            f"{_code(config.branches.devel)} and a new cut",
            fix=f"close this PR; merge the FR into {_code(config.branches.devel)} and cut a new RC",
            short="an FR branch cannot go into an RC",
        )
    return RuleResult(rule, setting, PASS, f"{_code(pr.head_ref)} is not an FR branch")


def _verified(config: RepoConfig, pr: PullFacts, *, blocked: bool) -> RuleResult:
    label = config.labels.verified
    rule, setting = f"Carries {_code(label)} applied by QA", "require_verified_into_rc"
    if not config.merge_rules.require_verified_into_rc:
        return _off(rule, setting)
    if blocked:
        return RuleResult(
            rule, setting, FAIL, "an FR branch cannot be verified into an RC", fix="close this PR", short="FR into RC"
        )
    if pr.verified is None:
        return RuleResult(
            rule, setting, UNKNOWN, "who applied the label could not be established yet", short="verification unknown"
        )
    if pr.verified.present and pr.verified.by:
        return RuleResult(rule, setting, PASS, f"{_code(label)} applied by {_code(pr.verified.by)}")
    found = (
        f"{_code(label)} was not applied by a QA member with this commit as the PR's head"
        if pr.verified.present
        else f"no {_code(label)} label"
    )
    return RuleResult(
        rule,
        setting,
        FAIL,
        found,
        fix=f"QA applies {_code(label)} once the fix is validated",
        short="not verified by QA",
    )


def _pick_custody(config: RepoConfig, pr: PullFacts) -> RuleResult:
    label = _code(config.labels.verified)
    rule, setting = "Holds only the commits Release Train picked", ""
    if pr.pick is None:
        return RuleResult(
            rule, setting, UNKNOWN, "what the pick branch holds could not be read yet", short="pick unknown"
        )
    if not pr.pick.foreign:
        return RuleResult(rule, setting, PASS, "only the commits Release Train picked")
    pushed = foreign_words(pr.pick.foreign)
    if pr.pick.verified_by:
        return RuleResult(
            rule, setting, PASS, f"also {pushed}; QA ({_code(pr.pick.verified_by)}) verified it at its head"
        )
    return RuleResult(
        rule,
        setting,
        FAIL,
        f"commits Release Train did not pick: {pushed}",
        fix=f"QA verifies this PR as it is now by applying {label}, or the commits are removed",
        short="commits pushed to the pick",
    )


def _bug_reference(config: RepoConfig, pr: PullFacts, setting: str, *, what: str) -> RuleResult:
    rule = f"References a {what}"
    enabled = getattr(config.merge_rules, setting)
    if not enabled:
        return _off(rule, setting)
    text = (
        f"{pr.title}\n{pr.body}" if setting != "require_ticket_into_devel" else f"{pr.title}\n{pr.body}\n{pr.head_ref}"
    )
    pattern = _code(config.merge_rules.fr_ticket_pattern)
    if has_bug_reference(config, text):
        return RuleResult(rule, setting, PASS, f"the PR references a {what}")
    return RuleResult(
        rule,
        setting,
        FAIL,
        f"no `#123`, issue URL or ticket matching {pattern} in the title or description",
        fix=f"add the {what} (`#123`, its URL, or its ticket) to the PR description",
        short=f"no {what} reference",
    )


def evaluate(config: RepoConfig, pr: PullFacts) -> Verdict:
    kind = kind_of(config, pr.base_ref, pr.head_ref)
    base, head, devel = _code(pr.base_ref), _code(pr.head_ref), _code(config.branches.devel)
    results: tuple[RuleResult, ...]
    if kind == INTO_FR:
        applies = f"PR into the FR branch {base}"
        results = (_ticket_into_fr(config, pr),)
    elif kind == FR_INTO_DEVEL:
        applies = f"FR branch {head} into {devel}"
        results = (_children(config, pr), _up_to_date(config, pr), _ready(config, pr))
    elif kind == INTO_RC:
        applies = f"PR into the RC branch {base}"
        if pr.opened_by_bot:
            applies += " opened by Release Train (exempt from the verified and bug-reference rules)"
        blocked = config.merge_rules.block_fr_into_rc and is_feature_branch(config, pr.head_ref)
        results = (_fr_into_rc(config, pr),)
        if pr.opened_by_bot and pick_source(pr.head_ref) is not None:
            results += (_pick_custody(config, pr),)
        if not pr.opened_by_bot:
            results += (
                _verified(config, pr, blocked=blocked),
                _bug_reference(config, pr, "require_bug_reference_into_rc", what="bug"),
            )
    elif kind == INTO_DEVEL:
        applies = f"PR into {devel} from {head}, which is not an FR branch"
        results = (_bug_reference(config, pr, "require_ticket_into_devel", what="bug or ticket"),)
    else:
        applies = f"PR into {base}"
        results = ()
    return Verdict(kind, pr.base_ref, pr.number, applies, results)


# --- what the check says -----------------------------------------------------------------------


def _title_tail(verdict: Verdict) -> str:
    shorts = [r.short or r.rule for r in verdict.failing] + [r.short or r.rule for r in verdict.unknown]
    tail = shorts[0]
    if len(shorts) > 1:
        tail += f" (+{len(shorts) - 1} more)"
    return tail


def _table(verdict: Verdict) -> str:
    rows = ["| rule | state | how to fix |", "| --- | --- | --- |"]
    for r in verdict.results:
        rows.append(f"| {r.rule} | {STATE_MARK[r.state]} | {r.found}{(' — ' + r.fix) if r.fix else ''} |")
    return "\n".join(rows)


def check_output(verdict: Verdict) -> CheckOutput:
    """The check run for one PR: title, Markdown summary (a table), status and conclusion."""
    active = verdict.active
    if not verdict.results:
        return CheckOutput(
            "completed",
            "success",
            f"No merge rule applies to PRs into {no_pings(verdict.base_ref)}",
            f"{verdict.applies}: no merge rule applies to it (rules cover PRs into devel, FR and RC branches).",
        )
    if not active:
        return CheckOutput(
            "completed",
            "success",
            "Every merge rule that applies is turned off",
            f"{verdict.applies}.\n\n{_table(verdict)}",
        )
    passing = sum(1 for r in active if r.state == PASS)
    if verdict.failing or verdict.unknown:
        title = f"{passing} of {len(active)} rules pass: {no_pings(_title_tail(verdict))}"  # branch names may hold "@"
    else:
        title = f"{passing} of {len(active)} rules pass"
    steps = "\n\n".join(r.steps for r in verdict.results if r.steps and r.state == FAIL)
    summary = f"{verdict.applies}.\n\n{_table(verdict)}" + (f"\n\n{steps}" if steps else "")
    if verdict.failing:
        # A failure is final even when another rule is still unknown.
        return CheckOutput("completed", "failure", title, summary)
    if verdict.unknown:
        return CheckOutput("in_progress", None, title, summary)
    return CheckOutput("completed", "success", title, summary)


def check_name(base_name: str, base_ref: str, *, shared_head: bool) -> str:
    """The per-PR check name: the configured one, or `<name> (<base>)` when the head has PRs into several bases."""
    return f"{base_name} ({base_ref})" if shared_head else base_name


def combined_output(entries: Sequence[tuple[Verdict, str]]) -> CheckOutput:
    """The plain check on a head with open PRs into several bases: success only when each of them passes.

    entries: (verdict, the PR's link) per open PR on the head.
    """
    outputs = [(v, link, check_output(v)) for v, link in entries]
    failing = [(v, link) for v, link, out in outputs if out.conclusion == "failure"]
    pending = [(v, link) for v, link, out in outputs if out.status != "completed"]
    rows = ["| PR | base | result |", "| --- | --- | --- |"]
    for v, link, out in outputs:
        rows.append(f"| [#{v.number}]({link}) | `{v.base_ref}` | {out.title} |")
    summary = (
        f"This commit is the head of {len(outputs)} open PRs into different bases; each has its own "
        f"`(<base>)` check, and this one passes only when all of them do.\n\n" + "\n".join(rows)
    )
    if failing:
        names = ", ".join(f"#{v.number} into {v.base_ref}" for v, _ in failing)
        return CheckOutput("completed", "failure", f"Blocked by {names}", summary)
    if pending:
        names = ", ".join(f"#{v.number} into {v.base_ref}" for v, _ in pending)
        return CheckOutput("in_progress", None, f"Waiting for {names}", summary)
    return CheckOutput("completed", "success", f"All {len(outputs)} PRs on this commit pass", summary)


def retired_output(base_ref: str) -> CheckOutput:
    """A per-base check on a head that no longer has an open PR into that base."""
    return CheckOutput(
        "completed",
        "neutral",
        f"No open PR into {base_ref} on this commit",
        f"This commit no longer heads an open PR into `{base_ref}`, so this check no longer applies; "
        "the PR's verdict is in the check without a base in its name.",
    )
