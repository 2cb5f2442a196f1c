"""The release's state: one typed record per RC, kept in this app's own check run on the RC head (pure).

The record (`ReleaseRecord`) is the JSON on the hidden last line of the `release-train/release` check
run's `output.text`; one run per RC head, `external_id` the version, conclusion `neutral`:

    v           1                          the shape's version
    version     "1.5"                      the RC's MAJOR.MINOR (its branch: the RC template filled in)
    tracking    12 | null                  the tracking issue, whose body is only this record's view
    cut         {by, sha, at, forced, adopted, complete, dispatched: [workflow], not_in_rc: [PR number]} | null
    hold        {reason, by, at} | null    set by /hold, cleared only by /unhold
    promotions  [{tag, sha, by, tag_object, done: [step]}]  each /promote's progress, steps named as
                PROMOTE_STEPS; tag_object is the annotated tag the bot made, so a tag is its own only
                when the ref names that very object
    foreign_tags  [{tag, sha, by}]         release tags of this RC that someone else made, as the
                `create` event named them (who made a tag the bot will not promote)

Facts about one commit stay on that commit, in this app's own check runs there: QA's `/regression`
result (`regression`) and PdM's `/signoff` (`release-train/signoff`). A new RC head has neither, so
both are asked for again; the record itself is carried to every new head.

GitHub lets only the app that created a check run update it, so nobody else can change the record.
People's text (the tracking issue's body, its labels, comments) is a view of it, found by marker and
author and never read back. `ReleaseState` is what readers get (the gate, the dashboard, a release
board, a train schedule): the record, where it was found, and the head's own facts. `at` values are
GitHub's clock (a comment's `created_at`), never a commit date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import msgspec

from bot.rules.text import inline, plain_line

RECORD_SHAPE = 1
REGRESSION_CHECK = "regression"  # QA's result, recorded by this app on the RC head
_LINE = "release-train:release-state"
_RECORD = re.compile(r"<!-- release-train:release-state (\{.*\}) -->")


@dataclass(frozen=True)
class Hold:
    reason: str
    by: str
    at: str = ""


@dataclass(frozen=True)
class Cut:
    by: str  # who ran /cut-rc (or took the branch over)
    sha: str  # the commit the RC branch was cut at
    at: str = ""
    forced: bool = False  # cut despite missing forward-ports
    adopted: bool = False  # an existing branch taken over rather than created by the bot
    complete: bool = False  # every step of the cut is done
    dispatched: tuple[str, ...] = ()  # workflows dispatched for the new RC
    not_in_rc: tuple[int, ...] = ()  # PRs aimed at this release, still open at the cut


@dataclass(frozen=True)
class Promotion:
    tag: str
    sha: str
    by: str
    done: tuple[str, ...] = ()  # the steps of the promotion done so far
    tag_object: str = ""  # the annotated tag object this promotion made (before its ref existed)


@dataclass(frozen=True)
class ForeignTag:
    """A release tag of this RC made by someone other than the bot, and who GitHub said made it."""

    tag: str
    sha: str  # the object the ref named when it was made
    by: str


@dataclass(frozen=True)
class ReleaseRecord:
    version: str
    tracking: int | None = None
    cut: Cut | None = None
    hold: Hold | None = None
    promotions: tuple[Promotion, ...] = ()
    foreign_tags: tuple[ForeignTag, ...] = ()
    v: int = RECORD_SHAPE

    def held(self, reason: str, by: str, at: str = "") -> ReleaseRecord:
        return replace(self, hold=Hold(reason, by, at))

    def unheld(self) -> ReleaseRecord:
        return replace(self, hold=None)

    def promotion(self, tag: str) -> Promotion | None:
        return next((p for p in self.promotions if p.tag == tag), None)

    def with_promotion(self, promotion: Promotion) -> ReleaseRecord:
        """The record with this tag's promotion replaced (or added)."""
        rest = tuple(p for p in self.promotions if p.tag != promotion.tag)
        return replace(self, promotions=(*rest, promotion))

    def with_foreign_tag(self, tag: ForeignTag) -> ReleaseRecord:
        """The record noting who made a release tag the bot did not make (the newest word on a name wins)."""
        rest = tuple(t for t in self.foreign_tags if t.tag != tag.tag)
        return replace(self, foreign_tags=(*rest, tag))

    def maker_of(self, tag: str) -> str | None:
        """Who made a release tag the bot did not make, when the bot saw it made."""
        return next((t.by for t in self.foreign_tags if t.tag == tag), None)


@dataclass(frozen=True)
class Signal:
    """A per-commit fact this app recorded on the head: QA's regression result or PdM's sign-off."""

    passed: bool
    by: str = ""
    url: str = ""
    detail: str = ""  # the check run's title, as people read it


@dataclass(frozen=True)
class ReleaseState:
    """One RC as readers see it: what the bot recorded, and what holds for its current head."""

    version: str
    branch: str
    head_sha: str
    record: ReleaseRecord | None  # None: no record on this branch, so the bot did not start it
    record_sha: str | None = None  # the commit the record was read from (head_sha once carried)
    regression: Signal | None = None
    signoff: Signal | None = None

    @property
    def carried(self) -> bool:
        """The record sits on the head (nothing to carry)."""
        return self.record is None or self.record_sha == self.head_sha


# -- the record's check run --------------------------------------------------------------------


def encode_record(record: ReleaseRecord) -> str:
    """The hidden line holding the record; nothing in it can end the HTML comment early or ping anyone."""
    blob = msgspec.json.encode(record).decode().replace("--", "\\u002d\\u002d").replace("@", "\\u0040")
    return f"<!-- {_LINE} {blob} -->"


def decode_record(text: str | None) -> ReleaseRecord | None:
    """The record in a check run's `output.text`, or None when it holds none (or one of another shape)."""
    match = _RECORD.search(text or "")
    if not match:
        return None
    try:
        record = msgspec.json.decode(match.group(1), type=ReleaseRecord)
    except msgspec.DecodeError:  # ValidationError included
        return None
    return record if record.v == RECORD_SHAPE else None


# A promotion's steps done, as the record's check run tells them to people.
DONE_WORDS = {
    "tag": "tagged",
    "release": "released",
    "production": "production moved",
    "deployment": "deployment created",
    "handoff": "handed over",
    "released_label": "labelled released",
}


@dataclass(frozen=True)
class RecordOutput:
    title: str
    summary: str
    text: str


def record_output(record: ReleaseRecord, branch: str) -> RecordOutput:
    """What the record's check run says: a line per fact for people, and the record itself, hidden."""
    facts: list[str] = []
    words: list[str] = []
    if record.cut is not None:
        how = "taken over" if record.cut.adopted else "cut"
        facts.append(
            f"- {how} by {inline(record.cut.by)} at `{record.cut.sha[:7]}`" + (" (forced)" if record.cut.forced else "")
        )
        if not record.cut.complete:
            words.append("cut in progress")
    if record.tracking is not None:
        facts.append(f"- tracking issue #{record.tracking}")
    if record.hold is not None:
        facts.append(f"- on hold by {inline(record.hold.by)}: {inline(record.hold.reason)}")
        words.append("on hold")
    for promotion in record.promotions:
        facts.append(
            f"- `{promotion.tag}` at `{promotion.sha[:7]}` by {inline(promotion.by)}: "
            + (", ".join(DONE_WORDS.get(step, step) for step in promotion.done) or "started")
        )
        words.append(f"promoted {promotion.tag}")
    for foreign in record.foreign_tags:
        facts.append(f"- `{foreign.tag}` was made by {inline(foreign.by)}, not by Release Train")
    title = plain_line(f"Release {record.version}" + (": " + ", ".join(words) if words else ""), 200)
    summary = (
        f"The state of `{branch}` as Release Train records it. Only this app can change this check run; "
        "the tracking issue shows it, and edits there change nothing.\n\n" + ("\n".join(facts) or "- nothing yet")
    )
    return RecordOutput(title, summary, encode_record(record))
