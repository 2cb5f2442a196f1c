"""Webhook payload records: every route has one, each is GitHub's schema, every real payload reads, and odd ones read as GitHub means them."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest

from bot.github import events
from bot.handlers import build_router, handled_routes
from webhook_schemas import Findings, check_records, check_struct, field_rules, schema_of

EXAMPLES = Path(__file__).parent / "reference" / "webhook-examples.json"


def examples() -> list[tuple[str, dict[str, Any]]]:
    return [(entry["name"], found) for entry in json.loads(EXAMPLES.read_text()) for found in entry["examples"]]


def test_every_route_has_its_record() -> None:
    routes = handled_routes(build_router())
    missing = sorted((e, a or "") for e, a in routes if (e, a) not in events.RECORDS)
    assert missing == [], "add a record to bot/github/events.py RECORDS for each"
    for (_, action), kind in events.RECORDS.items():
        hint = typing.get_type_hints(kind).get("action")
        members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        literals = {v for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m)}
        assert literals == ({action} if action else set()), f"{kind.__name__}.action should be Literal[{action!r}]"


def test_the_records_are_githubs_webhook_schemas() -> None:
    found = check_records()
    assert found.problems == []
    # The check reached every record and its parts.
    checked = {cls for cls, _ in found.uses}
    assert set(events.RECORDS.values()) <= checked
    assert {events.User, events.PullRequest, events.PullRequestBranch, events.Label, events.PushCommit} <= checked


class DriftedHead(events.Record, kw_only=True):
    sha: int  # GitHub sends a string
    ref: str | None  # never null
    label: str  # nullable on the head


class DriftedPull(events.Record, kw_only=True):
    number: int | msgspec.UnsetType = msgspec.UNSET  # always sent
    head: DriftedHead
    merged: bool | None = None  # optional: absent is UNSET, not None
    colour: str  # GitHub has no such field


class Drifted(events.Payload, kw_only=True):
    action: Literal["labeled", "tagged"]  # only "labeled"
    pull_request: DriftedPull


def test_the_schema_check_finds_a_record_that_drifts() -> None:
    """A record whose every field is wrong in one way, checked as the real ones are."""
    found = Findings()
    check_struct(Drifted, schema_of("pull_request", "labeled"), "pull_request:labeled $", found)
    found.problems += field_rules(found)
    assert found.problems == [
        "pull_request:labeled $.action: ('labeled', 'tagged') not within GitHub's values ['labeled']",
        "pull_request:labeled $.pull_request.head.sha: GitHub may send string, which int refuses",
        "pull_request:labeled $.pull_request.head.sha: int is not a type GitHub sends there (['string'])",
        "pull_request:labeled $.pull_request.colour (DriftedPull.colour): GitHub's schema has no such field",
        # Payload's own fields are optional; a record narrows what its event's schema requires.
        "Drifted.repository: GitHub's schema has it required; the record says optional",
        "Drifted.sender: GitHub's schema has it required; the record says optional",
        "DriftedHead.label: GitHub's schema has it nullable at pull_request:labeled $.pull_request.head.label;"
        " the record refuses null",
        "DriftedHead.ref: GitHub's schema has it never null; the record admits null",
        "DriftedPull.merged: GitHub's schema has it optional at pull_request:labeled $.pull_request.merged;"
        " the record says required",
        "DriftedPull.merged: an optional field defaults to UNSET (absent), not None",
        "DriftedPull.number: GitHub's schema has it required; the record says optional",
        # Used here only as the sender (simple-user, which requires `type`); other places make it optional.
        "User.type: GitHub's schema has it required; the record says optional",
    ]


def test_every_example_of_a_routed_event_reads_as_its_record() -> None:
    routes = handled_routes(build_router())
    read: dict[tuple[str, str | None], int] = {}
    for event, payload in examples():
        route = (event, payload.get("action") if (event, None) not in routes else None)
        if route not in routes:
            continue
        record = events.decode(event, payload.get("action"), json.dumps(payload).encode())
        assert type(record) is events.RECORDS[route]
        read[route] = read.get(route, 0) + 1
    assert sum(read.values()) >= 40
    assert {
        ("pull_request", "labeled"),
        ("push", None),
        ("issue_comment", "created"),
        ("check_run", "completed"),
    } <= set(read)


def _example(event: str, action: str | None = None) -> dict[str, Any]:
    return next(p for e, p in examples() if e == event and (action is None or p.get("action") == action))


def test_unlabeled_without_the_label_reads_as_unset() -> None:
    """GitHub sends `unlabeled` without `label` when the label itself was deleted from the repository."""
    payload = _example("pull_request", "unlabeled")
    del payload["label"]
    record = events.decode("pull_request", "unlabeled", json.dumps(payload).encode())
    assert isinstance(record, events.PullRequestUnlabeled)
    assert record.label is events.UNSET
    assert not record.label  # UNSET is falsy, so `if record.label:` reads naturally


def test_a_deleted_account_is_ghost_in_a_webhook_and_null_where_the_schema_allows_it() -> None:
    ghost = {"login": "ghost", "id": 10137, "type": "User", "node_id": "MDQ6VXNlcjEwMTM3"}
    payload = _example("issue_comment", "created")
    payload["comment"]["user"] = ghost
    payload["sender"] = ghost
    record = events.decode("issue_comment", "created", json.dumps(payload).encode())
    assert isinstance(record, events.IssueCommentCreated)
    assert record.sender.login == "ghost"
    assert isinstance(record.comment.user, events.User) and record.comment.user.login == "ghost"
    payload["comment"]["user"] = None  # nullable in GitHub's schema
    record = events.decode("issue_comment", "created", json.dumps(payload).encode())
    assert isinstance(record, events.IssueCommentCreated) and record.comment.user is None
    payload["sender"] = None  # never null
    with pytest.raises(events.PayloadError) as refused:
        events.decode("issue_comment", "created", json.dumps(payload).encode())
    assert refused.value.field == "$.sender"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b'{"ref": 1}', "$.ref", "expected `str`, got `int`"),
        (b'{"ref": "refs/heads/x"}', "$.repository", "missing (GitHub always sends it)"),
        (b'{"repository": {"id": 1}}', "$.repository.name", "missing (GitHub always sends it)"),
        (b"[]", "$", "expected `object`, got `array`"),
        (b"{", "$", "input data was truncated"),
    ],
)
def test_a_payload_error_names_the_field(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(events.PayloadError) as refused:
        events.decode("push", None, body)
    assert refused.value.field == field
    assert refused.value.reason.lower() == reason.lower()
    assert str(refused.value) == f"{field}: {refused.value.reason}"


def test_an_event_without_a_record_reads_as_the_bare_payload() -> None:
    assert events.record_type("watch", "started") is events.Payload
    assert events.record_type("pull_request", "assigned") is events.Payload
    assert events.record_type("push", "anything") is events.Push
    assert events.record_type("pull_request", None) is events.Payload


def test_a_handler_reads_the_record_its_route_guarantees() -> None:
    """What `ctx.payload_of(kind)` answers."""
    payload = _example("pull_request", "labeled")
    record = events.decode("pull_request", "labeled", json.dumps(payload).encode())
    assert events.expect(record, events.PullRequestLabeled, "pull_request").pull_request.number == payload["number"]
    assert events.expect(record, events.PullRequestEvent, "pull_request") is record  # every pull_request action
    with pytest.raises(TypeError, match="a pull_request delivery holds PullRequestLabeled, not IssuesLabeled"):
        events.expect(record, events.IssuesLabeled, "pull_request")
