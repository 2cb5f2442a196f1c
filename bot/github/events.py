"""Webhook payloads as GitHub defines them: a msgspec Struct per routed event and action, and their decoders (sans-I/O)."""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar, cast

import msgspec
from msgspec import UNSET as UNSET  # handlers test optional fields against it
from msgspec import Struct
from msgspec import UnsetType as UnsetType


class Record(Struct, kw_only=True, frozen=True):
    """A part of a payload, holding the fields the bot reads; the others are skipped, unread.

    Fields are typed as GitHub's webhook schemas (the `x-webhooks` of its OpenAPI description) say: a
    field the schema does not require defaults to `UNSET` (absent, and falsy), a nullable one admits
    `None`. A record shared by several events (`User`, `PullRequest`) is as loose as its loosest use.
    `tests/test_events.py` holds every record to the vendored schemas, so they cannot drift.

    GitHub writes a deleted account as `ghost` (a `User` like any other) in webhooks, where its REST
    answers say `null`; `unlabeled` comes without `label` when the label itself was deleted.
    """


# --- the parts -------------------------------------------------------------------------------


class User(Record, kw_only=True, frozen=True):
    """A sender, an author, an owner: a person, a bot (`type` "Bot", login ending in `[bot]`), or `ghost`."""

    login: str
    id: int
    type: str | UnsetType = UNSET


class Label(Record, kw_only=True, frozen=True):
    name: str
    id: int


class Installation(Record, kw_only=True, frozen=True):
    id: int


class Repository(Record, kw_only=True, frozen=True):
    id: int
    name: str
    full_name: str
    html_url: str
    private: bool
    default_branch: str


class PushedRepository(Repository, kw_only=True, frozen=True):
    """The repository of a push, with the time GitHub saw the push arrive (seconds, or an ISO time)."""

    pushed_at: int | str | None


class RepositoryRef(Record, kw_only=True, frozen=True):
    """The repository a PR's branch lives in."""

    id: int
    full_name: str


class PullRequestBranch(Record, kw_only=True, frozen=True):
    ref: str
    sha: str
    label: str | None
    repo: RepositoryRef | None
    user: User | None


class PullRequest(Record, kw_only=True, frozen=True):
    id: int
    node_id: str
    number: int
    state: str
    title: str
    body: str | None
    user: User | None
    html_url: str
    draft: bool | UnsetType = UNSET
    labels: list[Label]
    head: PullRequestBranch
    base: PullRequestBranch
    merged: bool | UnsetType | None = UNSET
    merged_at: str | None
    merge_commit_sha: str | None
    commits: int | UnsetType = UNSET
    created_at: str
    updated_at: str
    closed_at: str | None


class IssuePullRequest(Record, kw_only=True, frozen=True):
    """The `pull_request` of an issue that is a PR."""

    url: str | UnsetType = UNSET
    merged_at: str | UnsetType | None = UNSET


class Issue(Record, kw_only=True, frozen=True):
    id: int
    node_id: str
    number: int
    title: str
    body: str | None
    state: str | UnsetType = UNSET
    user: User | None
    labels: list[Label] | UnsetType = UNSET
    html_url: str
    pull_request: IssuePullRequest | UnsetType = UNSET
    created_at: str
    updated_at: str
    closed_at: str | None


class Comment(Record, kw_only=True, frozen=True):
    id: int
    node_id: str
    body: str
    user: User | None
    html_url: str
    created_at: str
    updated_at: str
    author_association: str


class GitActor(Record, kw_only=True, frozen=True):
    """A commit's author or committer, or a pusher, as git and GitHub name them."""

    name: str
    email: str | UnsetType | None = UNSET
    username: str | UnsetType = UNSET


class PushCommit(Record, kw_only=True, frozen=True):
    id: str
    tree_id: str
    distinct: bool
    message: str
    timestamp: str
    author: GitActor
    committer: GitActor
    added: list[str] | UnsetType = UNSET
    modified: list[str] | UnsetType = UNSET
    removed: list[str] | UnsetType = UNSET


class App(Record, kw_only=True, frozen=True):
    id: int | None
    name: str
    slug: str | UnsetType = UNSET


class CheckOutput(Record, kw_only=True, frozen=True):
    title: str | None
    summary: str | None
    text: str | None


class CheckRun(Record, kw_only=True, frozen=True):
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    external_id: str
    html_url: str
    started_at: str
    completed_at: str | None
    output: CheckOutput
    app: App | None


class CheckSuite(Record, kw_only=True, frozen=True):
    id: int
    head_sha: str
    head_branch: str | None
    status: str | None
    conclusion: str | None
    app: App


class CommitRef(Record, kw_only=True, frozen=True):
    sha: str | None


class StatusBranch(Record, kw_only=True, frozen=True):
    name: str
    commit: CommitRef


class MergeGroup(Record, kw_only=True, frozen=True):
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str


# --- payloads ----------------------------------------------------------------------------------


class Payload(Record, kw_only=True, frozen=True):
    """What every delivery may carry; each event's record narrows what its schema requires.

    `decode(event, action, body)` reads a routed delivery as its record, or raises `PayloadError` naming
    the first field that is not what GitHub sends (msgspec's path, such as `$.pull_request.head.sha`).
    """

    repository: Repository | UnsetType = UNSET
    installation: Installation | UnsetType = UNSET
    sender: User | UnsetType = UNSET


class PullRequestEvent(Payload, kw_only=True, frozen=True):
    action: str
    number: int
    pull_request: PullRequest
    repository: Repository


class PullRequestOpened(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["opened"]
    sender: User


class PullRequestReopened(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["reopened"]
    sender: User


class PullRequestClosed(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["closed"]
    sender: User


class PullRequestReadyForReview(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["ready_for_review"]
    sender: User


class PullRequestSynchronize(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["synchronize"]
    before: str
    after: str
    sender: User


class PullRequestEdited(PullRequestEvent, kw_only=True, frozen=True):
    """`changes` holds the previous values of what was edited (`title`, `body`, `base`), as `{"from": ...}`."""

    action: Literal["edited"]
    changes: dict[str, dict[str, object]]


class PullRequestLabeled(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["labeled"]
    label: Label | UnsetType = UNSET
    sender: User


class PullRequestUnlabeled(PullRequestEvent, kw_only=True, frozen=True):
    action: Literal["unlabeled"]
    label: Label | UnsetType = UNSET  # absent when the label itself was deleted
    sender: User


class IssuesEvent(Payload, kw_only=True, frozen=True):
    action: str
    issue: Issue
    repository: Repository
    sender: User


class IssuesOpened(IssuesEvent, kw_only=True, frozen=True):
    action: Literal["opened"]


class IssuesReopened(IssuesEvent, kw_only=True, frozen=True):
    action: Literal["reopened"]


class IssuesClosed(IssuesEvent, kw_only=True, frozen=True):
    action: Literal["closed"]


class IssuesEdited(IssuesEvent, kw_only=True, frozen=True):
    """`changes` holds the previous values of what was edited (`title`, `body`), as `{"from": ...}`."""

    action: Literal["edited"]
    changes: dict[str, dict[str, object]]


class IssuesLabeled(IssuesEvent, kw_only=True, frozen=True):
    action: Literal["labeled"]
    label: Label | UnsetType = UNSET


class IssuesUnlabeled(IssuesEvent, kw_only=True, frozen=True):
    action: Literal["unlabeled"]
    label: Label | UnsetType = UNSET  # absent when the label itself was deleted


class IssueCommentCreated(Payload, kw_only=True, frozen=True):
    action: Literal["created"]
    comment: Comment
    issue: Issue
    repository: Repository
    sender: User


class Push(Payload, kw_only=True, frozen=True):
    ref: str
    before: str
    after: str
    created: bool
    deleted: bool
    forced: bool
    base_ref: str | None
    commits: list[PushCommit]
    head_commit: PushCommit | None
    pusher: GitActor
    repository: PushedRepository


class Create(Payload, kw_only=True, frozen=True):
    ref: str
    ref_type: str  # "branch" or "tag"
    master_branch: str
    description: str | None
    pusher_type: str
    repository: Repository
    sender: User


class DeploymentProtectionRuleRequested(Payload, kw_only=True, frozen=True):
    """An Actions job waiting on this app's custom deployment protection rule (GitHub's schema requires no field)."""

    action: Literal["requested"] | UnsetType = UNSET
    environment: str | UnsetType = UNSET
    event: str | UnsetType = UNSET
    sha: str | UnsetType = UNSET
    ref: str | UnsetType = UNSET
    deployment_callback_url: str | UnsetType = UNSET


class Status(Payload, kw_only=True, frozen=True):
    id: int
    sha: str
    name: str
    context: str
    state: str
    description: str | None
    target_url: str | None
    branches: list[StatusBranch]
    created_at: str
    updated_at: str
    repository: Repository
    sender: User


class CheckRunCompleted(Payload, kw_only=True, frozen=True):
    action: Literal["completed"] | UnsetType = UNSET  # the schema does not require it; the route does
    check_run: CheckRun
    repository: Repository
    sender: User


class CheckSuiteCompleted(Payload, kw_only=True, frozen=True):
    action: Literal["completed"]
    check_suite: CheckSuite
    repository: Repository
    sender: User


class MergeGroupChecksRequested(Payload, kw_only=True, frozen=True):
    action: Literal["checks_requested"]
    merge_group: MergeGroup


class Numbered(Record, kw_only=True, frozen=True):
    number: int


class RepositoryName(Record, kw_only=True, frozen=True):
    full_name: str
    id: int | None = None


class Envelope(Record, kw_only=True, frozen=True):
    """Where any delivery belongs, read leniently (what is absent is None), for telling people about one
    whose record cannot be read; not a record of GitHub's schemas."""

    repository: RepositoryName | None = None
    installation: Installation | None = None
    pull_request: Numbered | None = None
    issue: Numbered | None = None

    @property
    def thread(self) -> int | None:
        """The PR or issue the delivery is about, where people can be told."""
        item = self.pull_request or self.issue
        return item.number if item is not None else None


class _Head(Record, kw_only=True, frozen=True):
    head_sha: str | None = None
    name: str | None = None


class _DeploymentSha(Record, kw_only=True, frozen=True):
    sha: str | None = None


class About(Record, kw_only=True, frozen=True):
    """What a delivery with no PR or issue was about (the ref, the commit, the check), read leniently, for
    keeping a failed job's place in the failure ledger; not a record of GitHub's schemas."""

    action: str | None = None
    ref: str | None = None
    ref_type: str | None = None
    sha: str | None = None
    context: str | None = None
    environment: str | None = None
    check_run: _Head | None = None
    check_suite: _Head | None = None
    merge_group: _Head | None = None
    deployment: _DeploymentSha | None = None

    @property
    def head_sha(self) -> str | None:
        for part in (self.check_run, self.check_suite, self.merge_group, self.deployment):
            if part is not None:
                return part.sha if isinstance(part, _DeploymentSha) else part.head_sha
        return self.sha


# (event, action) -> record; action None for events GitHub sends without one.
RECORDS: dict[tuple[str, str | None], type[Payload]] = {
    ("pull_request", "opened"): PullRequestOpened,
    ("pull_request", "reopened"): PullRequestReopened,
    ("pull_request", "closed"): PullRequestClosed,
    ("pull_request", "ready_for_review"): PullRequestReadyForReview,
    ("pull_request", "synchronize"): PullRequestSynchronize,
    ("pull_request", "edited"): PullRequestEdited,
    ("pull_request", "labeled"): PullRequestLabeled,
    ("pull_request", "unlabeled"): PullRequestUnlabeled,
    ("issues", "opened"): IssuesOpened,
    ("issues", "reopened"): IssuesReopened,
    ("issues", "closed"): IssuesClosed,
    ("issues", "edited"): IssuesEdited,
    ("issues", "labeled"): IssuesLabeled,
    ("issues", "unlabeled"): IssuesUnlabeled,
    ("issue_comment", "created"): IssueCommentCreated,
    ("push", None): Push,
    ("create", None): Create,
    ("deployment_protection_rule", "requested"): DeploymentProtectionRuleRequested,
    ("status", None): Status,
    ("check_run", "completed"): CheckRunCompleted,
    ("check_suite", "completed"): CheckSuiteCompleted,
    ("merge_group", "checks_requested"): MergeGroupChecksRequested,
}

_DECODERS: dict[type[Record], msgspec.json.Decoder[Any]] = {}


def record_type(event: str, action: object) -> type[Payload]:
    """The record of this event and action: its own, or the bare `Payload` for one the bot has no record of."""
    found = RECORDS.get((event, action if isinstance(action, str) else None))
    if found is None:
        found = RECORDS.get((event, None), Payload)
    return found


class PayloadError(ValueError):
    """A payload that is not what GitHub sends; `field` is the path of the first wrong one (`$.pull_request.head.sha`)."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @classmethod
    def of(cls, exc: msgspec.ValidationError) -> PayloadError:
        """The error msgspec gave, as the field it names and what is wrong with it."""
        message = str(exc)
        at = _AT.search(message)
        path = at.group("path") if at else "$"
        reason = message[: at.start()] if at else message
        missing = _MISSING.match(reason)
        if missing:
            return cls("missing (GitHub always sends it)", f"{path}.{missing.group('name')}")
        return cls(reason[:1].lower() + reason[1:], path)


_AT = re.compile(r" - at `(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")


R = TypeVar("R", bound=Record)
P = TypeVar("P", bound=Payload)


def decode_as(kind: type[R], body: bytes) -> R:
    """The payload read as `kind`; PayloadError when it does not fit (RecursionError passes through)."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = _DECODERS[kind] = msgspec.json.Decoder(kind)
    try:
        return cast(R, decoder.decode(body))  # the decoder was built for kind
    except msgspec.ValidationError as exc:
        raise PayloadError.of(exc) from None
    except msgspec.DecodeError as exc:
        raise PayloadError(str(exc), "$") from None


def expect(payload: Payload, kind: type[P], event: str) -> P:
    """The payload as `kind`, the record its route guarantees; TypeError (a programming error) when it is not."""
    if not isinstance(payload, kind):
        raise TypeError(f"a {event} delivery holds {type(payload).__name__}, not {kind.__name__}")
    return payload


def decode(event: str, action: object, body: bytes) -> Payload:
    """A routed delivery's payload as its record (see `record_type`)."""
    return decode_as(record_type(event, action), body)
