"""Pure decisions of the RC lifecycle: forward-port gaps and the promote plan (the gate is rules/gate.py)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.rules.gate import FAIL, PENDING, GateRow, GateVerdict, gate_table
from bot.rules.names import parse_tag, tag_name, version_key
from bot.rules.release_state import Promotion
from bot.rules.text import inline, no_pings

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


# the promote plan ----------------------------------------------------------------------------
PROMOTE_STEPS = ("tag", "release", "production", "deployment", "handoff", "released_label")


@dataclass(frozen=True)
class TagFact:
    name: str
    sha: str  # the commit the tag points to (peeled)
    object_sha: str = ""  # what the ref names: the annotated tag object, or the commit itself


@dataclass(frozen=True)
class PromoteFacts:
    version: str
    head_sha: str
    tag_template: str
    tags: tuple[TagFact, ...]  # every production-looking tag in the repository
    verdict: GateVerdict  # the gate, evaluated on head just now
    production_branch: str | None = None
    production_sha: str | None = None  # None: the branch does not exist yet
    production_can_ff: bool = True  # production is an ancestor of (or equal to) head
    done: frozenset[str] = frozenset()  # steps after the tag already done (for the tag of head's promotion)
    promotions: tuple[Promotion, ...] = ()  # the record's: what the bot itself promoted
    made_by: Mapping[str, str] = field(default_factory=dict)  # tag -> who made it, for tags the bot did not make


@dataclass(frozen=True)
class PromotePlan:
    ok: bool
    tag: str
    patch: int
    sha: str
    already_promoted: bool  # the bot's own tag of this promotion already names head
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


def made_by_the_bot(tag: TagFact, promotions: Iterable[Promotion]) -> bool:
    """A tag is the bot's when a promotion it recorded made that very tag object, for that commit."""
    return any(
        p.tag == tag.name and p.sha == tag.sha and p.tag_object != "" and p.tag_object == tag.object_sha
        for p in promotions
    )


def foreign_tag_row(tag: TagFact, made_by: str | None) -> GateRow:
    who = f"made by {no_pings('@' + made_by)}" if made_by else "I did not see who made it"
    return GateRow(
        "no release tag I did not make",
        FAIL,
        f"`{inline(tag.name)}` already exists at `{tag.sha[:7]}` and I did not make it ({who}); "
        "a repository admin can delete it",
    )


def promote_plan(facts: PromoteFacts) -> PromotePlan:
    """What /promote must do now, or why it must not: the gate on head, the tags, the production branch.

    Every call weighs the gate as evaluated just now, a resumed promotion included; only a promotion
    already complete is reported as it is. A release tag of this RC that the bot did not make (by the
    record's own tag objects) stops the promotion, wherever the tag points at head or takes its name.
    """
    line: dict[str, tuple[int, TagFact]] = {}
    for tag in facts.tags:
        parsed = parse_tag(facts.tag_template, tag.name)
        if parsed and parsed[0] == facts.version:
            line[tag.name] = (parsed[1], tag)
    mine = tuple(p for p in facts.promotions if (parse_tag(facts.tag_template, p.tag) or ("",))[0] == facts.version)
    current = next((p for p in reversed(mine) if p.sha == facts.head_sha), None)
    if current is not None:
        name = current.tag
        patch = (parse_tag(facts.tag_template, name) or ("", 0))[1]
        existing = line.get(name, (patch, None))[1]
        tagged = existing is not None and made_by_the_bot(existing, mine)
    else:
        patches = [p for p, _ in line.values()]
        patches += [(parse_tag(facts.tag_template, p.tag) or ("", -1))[1] for p in mine]
        patch = max(patches, default=-1) + 1
        name = tag_name(facts.tag_template, facts.version, patch)
        existing = line.get(name, (patch, None))[1]
        tagged = False
    steps = tuple(
        s
        for s in PROMOTE_STEPS
        if (s != "production" or facts.production_branch) and not (tagged and (s == "tag" or s in facts.done))
    )
    previous = previous_tag(facts.tag_template, facts.tags, facts.version, patch)
    if tagged and not steps:
        return PromotePlan(True, name, patch, facts.head_sha, True, previous, ())
    refusals = [row for row in facts.verdict.rows if row.state in (FAIL, PENDING)]
    foreign = [t for _, t in line.values() if t.sha == facts.head_sha and not made_by_the_bot(t, mine)]
    if existing is not None and not tagged and existing not in foreign:
        foreign.append(existing)
    refusals += [foreign_tag_row(t, facts.made_by.get(t.name)) for t in sorted(foreign, key=lambda t: t.name)]
    if "production" in steps and facts.production_sha and not facts.production_can_ff:
        refusals.append(
            GateRow(
                "production can fast-forward",
                FAIL,
                f"`{facts.production_branch}` has commits that `{facts.head_sha[:7]}` lacks",
            )
        )
    return PromotePlan(
        not refusals,
        name,
        patch,
        facts.head_sha,
        tagged,
        previous,
        steps if not refusals else (),
        tuple(refusals),
    )


def promotion_words(
    steps: Iterable[str], tag: str, *, release_url: str, production: str | None, environment: str
) -> str:
    """What a promotion did, as people say it (never the steps' own names)."""
    said = {
        "tag": f"tagged it `{tag}`",
        "release": f"published the release{f' ({release_url})' if release_url else ''}",
        "production": f"moved `{production}` to it",
        "deployment": f"created the `{environment}` deployment",
        "handoff": "handed it over to operations",
        "released_label": "labelled this issue released",
    }
    words = [said[s] for s in steps if s in said]
    if len(words) > 1:
        return ", ".join(words[:-1]) + " and " + words[-1]
    return words[0] if words else "nothing was left to do"


# the production deployment rule --------------------------------------------------------------
@dataclass(frozen=True)
class DeploymentFacts:
    """An Actions job asking to deploy sha to an environment guarded by this app's custom rule."""

    environment: str
    sha: str
    production_environment: str  # release.environment: the only one the rule guards
    promoted: tuple[str, ...] = ()  # the bot's own tags (by the record's tag objects) that name sha
    gate_passed: bool = False  # the bot's release-train/gate on sha concluded success
    release_tags: tuple[str, ...] = ()  # release tags naming sha that the bot did not make


@dataclass(frozen=True)
class DeploymentVerdict:
    approve: bool
    comment: str  # shown on the job in Actions: why it may run, or why not


def deployment_verdict(facts: DeploymentFacts) -> DeploymentVerdict:
    """Production runs only a commit the bot promoted, whose gate is green now; other environments are not its to guard."""
    short = facts.sha[:7]
    if facts.environment != facts.production_environment:
        return DeploymentVerdict(
            True, f"Release Train guards only `{facts.production_environment}` (release.environment); not this one."
        )
    if not facts.promoted:
        others = (
            f" (`{', '.join(facts.release_tags)}` is a tag Release Train did not make)" if facts.release_tags else ""
        )
        return DeploymentVerdict(
            False,
            f"`{short}` is not a release Release Train promoted{others}: only a commit that `/promote` tagged "
            f"may deploy to `{facts.production_environment}`.",
        )
    if not facts.gate_passed:
        return DeploymentVerdict(
            False,
            f"`{short}` was promoted as `{facts.promoted[-1]}`, but its release-train/gate is not green now "
            "(a hold, a blocker or a failed check since); it may deploy once the gate passes again.",
        )
    return DeploymentVerdict(
        True, f"`{short}` is release `{facts.promoted[-1]}`, promoted by Release Train with a green gate."
    )


def refusal_table(rows: Iterable[GateRow]) -> str:
    return gate_table(GateVerdict("", tuple(rows)))


# A line of GitHub's generated release notes: "* {PR title} by @{login} in {PR url}".
_NOTES_LINE = re.compile(r"^\* (?P<title>.*) by @(?P<login>[A-Za-z0-9-]+(?:\[bot\])?) in (?P<url>https?://\S+)$")


def published_notes(generated: str) -> str:
    """GitHub's generated release notes as the bot publishes them: PR titles (people's text) with no pings, links
    or HTML of theirs, the notes' own PR and changelog links kept."""
    lines = []
    for line in generated.splitlines():
        entry = _NOTES_LINE.match(line)
        if entry:
            title, login, url = entry.group("title", "login", "url")
            line = f"* {inline(title, 1000)} by {no_pings('@' + login)} in {url}"
        else:
            line = no_pings(line)
        lines.append(line)
    return "\n".join(lines)
