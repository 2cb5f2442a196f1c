"""The webhook door under abuse, as attack stories over HTTP: each refusal next to a real signed delivery that still gets in."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import Any

import pytest

from bot.sandbox import render, seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from bot.server import METRICS, QUEUE
from deliveries import example, headers_for, post


def metric(world: World, name: str, labels: dict[str, str]) -> float:
    assert world.bot_app is not None
    return world.bot_app[METRICS].value(name, labels)


async def aimed_at_a_repository(world: World, event: str, action: str | None = None) -> dict[str, Any]:
    """GitHub's example of this event, naming a sandbox repository the bot is installed on, so handlers run on it."""
    await seed.create_org_repo(world, "acme", "app", admin="alice")
    await world.settle()
    st = world.app[STORE]
    payload = example(event, action)
    payload["repository"] = render.repository(st, st.repo("acme", "app"))  # type: ignore[attr-defined]
    payload["installation"] = {"id": st.installation_for("acme")["id"]}  # type: ignore[attr-defined]
    return payload


def nested(payload: dict[str, Any], depth: int, key: str = "extra") -> bytes:
    """The payload's JSON with one more field holding arrays nested `depth` deep."""
    return json.dumps(payload).encode()[:-1] + f', "{key}": '.encode() + b"[" * depth + b"]" * depth + b"}"


# Signed JSON nested 100,000 deep ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "action", "where"),
    [
        ("issues", "opened", "extra"),  # a routed event: its record is read at the door
        ("watch", "started", "extra"),  # an event no handler wants: only its head is read
        ("issues", "opened", "repository"),  # inside a part the door reads for every event
    ],
)
async def test_signed_json_nested_100000_deep_gets_400_and_is_not_stored(
    world: World, event: str, action: str, where: str
) -> None:
    payload = await aimed_at_a_repository(world, event, action)
    body = nested({k: v for k, v in payload.items() if k != where}, 100_000, key=where)
    delivery = str(uuid.uuid4())
    status, answer = await post(world, body, headers_for(body, event=event, delivery=delivery))
    assert status == 400
    assert answer == {"error": "the JSON is nested too deeply"}
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) is None
    # The same attack in GitHub's other format.
    form = urllib.parse.urlencode({"payload": body.decode()}).encode()
    headers = headers_for(form, event=event, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert (await post(world, form, headers))[0] == 400
    # The control: the real delivery, signed the same way, is stored and its job runs.
    control = str(uuid.uuid4())
    body = json.dumps(payload).encode()
    assert (await post(world, body, headers_for(body, event=event, delivery=control)))[0] == 202
    await world.settle()
    assert await world.bot_app[QUEUE].state_of(control) == ("done" if event == "issues" else "ignored")


async def test_json_as_deep_as_the_door_takes_is_read_by_the_worker_too(world: World) -> None:
    """Whatever depth the door accepts, the job reads: no delivery is acknowledged and then dies unread."""
    payload = await aimed_at_a_repository(world, "issues", "opened")
    answers: dict[int, tuple[int, str]] = {}
    for depth in range(940, 1010, 3):
        body = nested(payload, depth)
        delivery = str(uuid.uuid4())
        status, _ = await post(world, body, headers_for(body, event="issues", delivery=delivery))
        answers[depth] = (status, delivery)
    await world.settle()
    assert {status for status, _ in answers.values()} == {202, 400}
    assert world.bot_app is not None
    for depth, (status, delivery) in answers.items():
        state = await world.bot_app[QUEUE].state_of(delivery)
        assert state == ("done" if status == 202 else None), (depth, status, state)
    assert metric(world, "release_train_jobs_total", {"outcome": "failed"}) == 0


async def test_a_number_out_of_range_where_the_bot_reads_nothing_is_read_as_python_reads_it(world: World) -> None:
    payload = await aimed_at_a_repository(world, "issues", "opened")
    body = json.dumps(payload).encode()[:-1] + b', "extra": [1e400, 123456789012345678901234567890]}'
    delivery = str(uuid.uuid4())
    assert (await post(world, body, headers_for(body, event="issues", delivery=delivery)))[0] == 202
    await world.settle()
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) == "done"
