"""Failures no PR or issue can be told about (pure): what a failed job was about, what failed in people's words,
and where the list of open failures is shown (the open tracking issue, or the app's status issue).

A job given up for an event with a PR or an issue is told there, once. A job for an event with nothing to
comment on (a push, a branch made, a commit status, a check, the periodic sweep) is kept in the bot's own
ledger under its subject (`Subject.key`: the kind of job and the thing it was about) until a later job of the
same kind for the same thing succeeds. The list is shown in one bot comment on the newest open tracking issue,
or, with none open, in the body of one issue labelled `labels.status` that the app opens, reuses and closes
once no failure remains. The list is always rendered from the ledger, never read back from GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from bot.rules.text import inline, marker

# The marker key of the bot's failures comment on a tracking issue, and of its status issue's body.
STATUS_KEY = "failures"
STATUS_TITLE = "Release Train: jobs that failed with no pull request or issue to tell"
WHAT_LIMIT = 300


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """One open failure, as the ledger keeps it (msgspec JSON)."""

    key: str  # Subject.key
    about: str  # Subject.about: Markdown, people's text already defused
    event: str
    delivery: str
    at: str  # when it was given up, ISO 8601 UTC
    what: str  # what_failed(): Markdown, already defused


_DECODE = msgspec.json.Decoder(Failure)


def encode_failure(failure: Failure) -> bytes:
    return msgspec.json.encode(failure)


def decode_failure(raw: bytes) -> Failure | None:
    """The ledger's entry, or None when it cannot be read (the entry is then dropped, never shown half)."""
    try:
        return _DECODE.decode(raw)
    except msgspec.DecodeError:
        return None


SWEEP_PREFIX = "sweep:"  # the keys of the sweep's subjects: the whole sweep's, and each concern's


def over_after_sweep(open_keys: Iterable[str], failed_now: Iterable[str]) -> list[str]:
    """The open subjects a sweep that ran ends: every sweep subject but those of the concerns that failed now."""
    still = {subject_of("sweep", name=concern).key for concern in failed_now}
    return sorted(key for key in open_keys if key.startswith(SWEEP_PREFIX) and key not in still)


@dataclass(frozen=True)
class Subject:
    key: str  # the kind of job and the thing it was about: two jobs with the same key speak of the same thing
    about: str  # the same in people's words (Markdown, defused)


def _branch(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _code(text: str) -> str:
    return f"`{inline(text, 100).replace('`', chr(39))}`"


def subject_of(
    event: str,
    *,
    action: str | None = None,
    ref: str | None = None,
    ref_type: str | None = None,
    sha: str | None = None,
    context: str | None = None,
    name: str | None = None,
    environment: str | None = None,
) -> Subject:
    """What a job for this delivery was about (the fields the delivery carries; absent ones are None)."""
    short = (sha or "")[:7]
    if event == "push" and ref:
        kind = "tag" if ref.startswith("refs/tags/") else "branch"
        return Subject(f"push:{ref}", f"the push to {kind} {_code(_branch(ref))}")
    if event in ("create", "delete") and ref:
        what = ref_type or "ref"
        verb = "creation" if event == "create" else "deletion"
        return Subject(f"{event}:{what}:{ref}", f"the {verb} of {what} {_code(ref)}")
    if event == "status" and sha:
        return Subject(f"status:{sha}:{context or ''}", f"the status {_code(context or '')} on commit `{short}`")
    if event == "check_run" and sha:
        return Subject(f"check_run:{sha}:{name or ''}", f"the check run {_code(name or '')} on commit `{short}`")
    if event in ("check_suite", "merge_group") and sha:
        what = "check suite" if event == "check_suite" else "merge group"
        return Subject(f"{event}:{sha}", f"the {what} on commit `{short}`")
    if event == "deployment_protection_rule" and environment:
        on = f" of commit `{short}`" if short else ""
        return Subject(f"{event}:{environment}:{sha or ''}", f"the deployment to {_code(environment)}{on}")
    if event == "sweep":
        return Subject(f"{SWEEP_PREFIX}{name or ''}", f"the periodic sweep of {_code(name or 'every concern')}")
    label = f"{event}.{action}" if action else event
    return Subject(f"{label}", f"the {_code(label)} event")


# What may hide in an error's text and must not reach people: tokens, credentials in URLs, query strings.
_SECRETS = (
    (re.compile(r"\b(gh[opsuir]_|github_pat_)[A-Za-z0-9_]+"), r"\1…"),
    (re.compile(r"(?i)\b(bearer|token|basic)\s+[^\s,;]+"), r"\1 …"),
    (re.compile(r"(?i)(access_token|client_secret|password|secret|sig|signature|jwt)=[^\s&]+"), r"\1=…"),
    (re.compile(r"https?://[^\s/]+"), ""),  # the API's host: the path is what people can act on
    (re.compile(r"\?[^\s]*"), ""),
)
_GITHUB_ANSWERS = {
    "BadRequest",
    "InvalidField",
    "ValidationFailure",
    "ValidationError",
    "GitHubBroken",
    "HTTPException",
}


def scrubbed(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def what_failed(error: str, dead: bool) -> str:
    """An attempt's error ("ExceptionClass: message", as the queue records it) in people's words: what GitHub
    said, with no token or query string; a bug in the bot is named by its class alone (the logs hold the rest)."""
    kind, _, message = error.partition(": ")
    kind = kind.strip()
    detail = inline(scrubbed(message), WHAT_LIMIT - 80)
    if kind == "TransientError":
        tries = "kept failing after every retry" if dead else "failed"
        return f"GitHub {tries}: {detail}" if detail else f"GitHub {tries}"
    if kind == "RateLimitExceeded":
        return f"GitHub's rate limit was spent: {detail}" if detail else "GitHub's rate limit was spent"
    if kind in _GITHUB_ANSWERS:
        return f"GitHub refused a request: {detail}" if detail else "GitHub refused a request"
    if kind == "PayloadError":
        return f"the webhook's payload could not be read: {detail}" if detail else "the payload could not be read"
    name = inline(kind, 60) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", kind) else "an unexpected error"
    return f"the bot hit an error it did not expect (`{name}`); the app's logs have the details"


def listing(failures: tuple[Failure, ...]) -> str:
    """The open failures as a Markdown table, oldest first; an empty tuple says no failure remains."""
    if not failures:
        return "No failure remains: every job listed here before has since succeeded."
    rows = [
        "| what | event | delivery | when (UTC) | what failed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for failure in sorted(failures, key=lambda f: (f.at, f.key)):
        when = failure.at.replace("T", " ")[:16]
        rows.append(
            f"| {failure.about} | `{inline(failure.event, 60)}` | `{inline(failure.delivery, 60)}` | {when} | {failure.what} |"
        )
    return "\n".join(rows)


HOW_TO_ACT = (
    "Each entry goes once a later job of the same kind for the same thing succeeds (for a push, the next push "
    "to that branch; for the sweep, the next sweep). Until then nothing more happens for it on its own: push "
    "again, comment `/refresh` on the pull requests concerned, or ask the app's operators to check the delivery."
)


def tracking_comment(failures: tuple[Failure, ...]) -> str:
    """The bot's one comment on the tracking issue (without its marker)."""
    if not failures:
        return f"**Jobs that failed with no pull request or issue to tell**\n\n{listing(failures)}"
    return (
        "**Jobs that failed with no pull request or issue to tell**\n\n"
        f"Release Train could not finish these jobs:\n\n{listing(failures)}\n\n{HOW_TO_ACT}"
    )


def status_body(failures: tuple[Failure, ...], *, moved_to: int | None = None) -> str:
    """The status issue's whole body, marker first."""
    head = marker(STATUS_KEY)
    if moved_to is not None:
        return f"{head}\nFailures are listed on the release tracking issue #{moved_to} while it is open."
    if not failures:
        return f"{head}\n{listing(failures)}"
    return (
        f"{head}\nRelease Train could not finish these jobs, and no pull request or issue was theirs to tell. "
        f"This issue lists them while any remains and closes once none does.\n\n{listing(failures)}\n\n{HOW_TO_ACT}"
    )


@dataclass(frozen=True)
class StatusIssue:
    """The app's own status issue (author and label checked by the gatherer)."""

    number: int
    state: str  # open | closed
    body: str


@dataclass(frozen=True)
class StatusFacts:
    failures: tuple[Failure, ...]
    tracking: int | None  # the newest open tracking issue that is the app's own and named by an RC's record
    tracking_comment: str | None  # the bot's failures comment there (its body, marker included), if any
    status_issue: StatusIssue | None  # the app's open status issue, or else its newest closed one


@dataclass(frozen=True)
class StatusPlan:
    comment: str | None = None  # the tracking comment to keep (without marker); None: leave it alone
    create: str | None = None  # open a new status issue with this body
    reopen: bool = False
    body: str | None = None  # the status issue's body to set, when it differs
    close: bool = False
    note: str | None = None  # a comment on the status issue, posted with a reopen or a close

    @property
    def changes_nothing(self) -> bool:
        return self == StatusPlan()


CLOSING_NOTE = "No failure remains: every job listed here has since succeeded. Closing this issue."


def decide(facts: StatusFacts) -> StatusPlan:
    """Where the open failures are shown, and what changes on GitHub to show them (only what differs)."""
    failures = facts.failures
    issue = facts.status_issue
    if facts.tracking is not None:
        comment: str | None = tracking_comment(failures)
        if not failures and facts.tracking_comment is None:
            comment = None  # nothing failed since the tracking issue opened: no comment to write
        elif facts.tracking_comment == f"{marker(STATUS_KEY)}\n{comment}":
            comment = None
        if issue is None or issue.state != "open":
            return StatusPlan(comment=comment)
        body = status_body(failures, moved_to=facts.tracking)
        note = f"Failures are now listed on the release tracking issue #{facts.tracking}. Closing this issue."
        return StatusPlan(comment=comment, body=body if body != issue.body else None, close=True, note=note)
    wanted = status_body(failures)
    if failures:
        if issue is None:
            return StatusPlan(create=wanted)
        reopen = issue.state != "open"
        return StatusPlan(
            reopen=reopen,
            body=wanted if wanted != issue.body else None,
            note="A job failed again; reopening this issue." if reopen else None,
        )
    if issue is None or issue.state != "open":
        return StatusPlan()
    return StatusPlan(body=wanted if wanted != issue.body else None, close=True, note=CLOSING_NOTE)
