"""The webhook door under abuse, as attack stories over HTTP: each refusal next to a real signed delivery that still gets in."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
import uuid
from typing import Any

import pytest

from bot.sandbox import render, seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from bot.server import BODY_BUDGET, METRICS, QUEUE, REFUSAL_LOG_SECONDS, REFUSALS
from deliveries import example, headers_for, post
from fault_scenarios import wait_until


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
    """Whatever depth the door accepts, the job reads: no delivery is acknowledged and then dies unread.

    The deepest the door takes depends on how deep its own stack is; the search finds it."""
    payload = await aimed_at_a_repository(world, "issues", "opened")
    accepted: dict[int, str] = {}
    taken, refused = 1, 100_000
    while refused - taken > 1:
        depth = (taken + refused) // 2
        body = nested(payload, depth)
        delivery = str(uuid.uuid4())
        status, _ = await post(world, body, headers_for(body, event="issues", delivery=delivery))
        assert status in (202, 400), (depth, status)
        if status == 202:
            taken, accepted[depth] = depth, delivery
        else:
            refused = depth
    assert taken > 500  # far deeper than any payload GitHub sends (7 levels in its examples)
    await world.settle()
    assert world.bot_app is not None
    for depth, delivery in accepted.items():
        assert await world.bot_app[QUEUE].state_of(delivery) == "done", depth
    assert taken in accepted
    assert metric(world, "release_train_jobs_total", {"outcome": "failed"}) == 0


async def test_a_number_out_of_range_where_the_bot_reads_nothing_is_read_as_python_reads_it(world: World) -> None:
    payload = await aimed_at_a_repository(world, "issues", "opened")
    body = json.dumps(payload).encode()[:-1] + b', "extra": [1e400, 123456789012345678901234567890]}'
    delivery = str(uuid.uuid4())
    assert (await post(world, body, headers_for(body, event="issues", delivery=delivery)))[0] == 202
    await world.settle()
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) == "done"


# Slow or half-sent bodies --------------------------------------------------------------------------


async def restart_bot(world: World, **settings: Any) -> None:
    await world.stop_bot()
    state = f"sqlite:///{world.sandbox.config.state_dir}/abuse-{uuid.uuid4().hex[:8]}.db"
    await world.start_bot(world.bot_settings(state_url=state, **settings))


async def open_request(world: World, body_length: int, delivery: str, event: str = "issues") -> RawRequest:
    """A POST /webhook whose headers are sent, and none of its body yet."""
    assert world.bot_url is not None
    url = urllib.parse.urlsplit(world.bot_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"POST /webhook HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {body_length}\r\nX-GitHub-Event: {event}\r\nX-GitHub-Delivery: {delivery}\r\n"
            f"X-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    return RawRequest(reader, writer)


class RawRequest:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        return await asyncio.wait_for(self.reader.read(), timeout=30)

    def close(self) -> None:
        self.writer.close()


async def test_a_body_that_stops_arriving_times_out_and_is_not_stored(world: World) -> None:
    await restart_bot(world, body_timeout_seconds=0.5)
    request = await open_request(world, 1000, "half-sent")
    await request.send(b'{"action": "opened", ')  # and then nothing
    answer = await request.answer()
    request.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"did not arrive within 0.5s" in answer
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of("half-sent") is None
    assert metric(world, "release_train_deliveries_total", {"event": "issues", "outcome": "body_timeout"}) == 1
    # The control: a whole delivery on a new connection.
    body = json.dumps(example("issues", "opened")).encode()
    assert (await post(world, body, headers_for(body, event="issues")))[0] == 202


async def test_a_body_dripped_a_byte_at_a_time_times_out_as_a_whole(world: World) -> None:
    """Each byte comes well within the timeout; the body as a whole does not."""
    await restart_bot(world, body_timeout_seconds=0.5)
    request = await open_request(world, 10_000, "dripped")

    async def drip() -> None:
        for _ in range(10_000):
            try:
                await request.send(b" ")
            except ConnectionError:
                return
            await asyncio.sleep(0.05)  # the attacker's pace

    dripping = asyncio.create_task(drip())
    answer = await request.answer()
    dripping.cancel()
    request.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of("dripped") is None


# The bytes held for unauthenticated requests -------------------------------------------------------


async def test_bodies_held_open_cannot_make_the_server_hold_more_than_its_budget(world: World) -> None:
    """Each attacker declares a 24 MB body and sends 300 KB of it; the budget (1 MiB here) holds one of them.

    A chunk counts twice (the chunks and their join), so the first attacker holds 600 KB; the second is
    refused with a 503 at once and its connection closed, and a real delivery still fits beside the first."""
    await restart_bot(world, max_buffered_bytes=1024 * 1024)
    assert world.bot_app is not None
    budget = world.bot_app[BODY_BUDGET]
    first = await open_request(world, 24 * 1024 * 1024, "held-1")
    await first.send(b"[" + b" " * (300 * 1024 - 1))
    await wait_until(lambda: _true(budget.held >= 600 * 1024), "the first attacker's bytes to be held")
    second = await open_request(world, 24 * 1024 * 1024, "held-2")
    await second.send(b"[" + b" " * (300 * 1024 - 1))
    refused = await second.answer()
    second.close()
    assert refused.startswith(b"HTTP/1.1 503"), refused[:80]
    assert b"redeliver later" in refused
    assert budget.held <= budget.limit
    # The control: GitHub's delivery arrives while the first attacker still holds its share.
    body = json.dumps(example("issues", "opened")).encode()
    assert (await post(world, body, headers_for(body, event="issues")))[0] == 202
    first.close()
    await wait_until(lambda: _true(budget.held == 0), "the attacker's bytes to be given back")
    assert metric(world, "release_train_deliveries_total", {"event": "issues", "outcome": "over_budget"}) == 1


async def _true(value: bool) -> bool:
    return value


# Metric label values ---------------------------------------------------------------------------------


async def test_random_event_names_do_not_grow_the_metrics(world: World) -> None:
    assert world.bot_url is not None
    base = world.bot_url.removesuffix("/webhook")

    async def exposition() -> str:
        async with world.session.get(base + "/metrics") as resp:
            return await resp.text()

    async def unsigned(name: str) -> None:
        headers = {"Content-Type": "application/json", "X-GitHub-Event": name, "X-GitHub-Delivery": name}
        async with world.session.post(world.bot_url, data=b"{}", headers=headers) as resp:  # type: ignore[arg-type]
            assert resp.status == 401

    await unsigned("warm-up")
    before = await exposition()
    for batch in range(40):
        await asyncio.gather(*(unsigned(f"evil-{batch}-{i}-{uuid.uuid4().hex}") for i in range(50)))
    after = await exposition()
    assert "evil-" not in after
    assert len(after) - len(before) < 200  # counters' digits, not 2,000 new series (450 KB before)
    assert metric(world, "release_train_deliveries_total", {"event": "other", "outcome": "bad_signature"}) == 2001
    # The control: GitHub's signed delivery of a routed event is counted under its own name.
    body = json.dumps(example("issues", "opened")).encode()
    assert (await post(world, body, headers_for(body, event="issues")))[0] == 202
    assert metric(world, "release_train_deliveries_total", {"event": "issues", "outcome": "queued"}) == 1


# /metrics behind a token -----------------------------------------------------------------------------


async def test_metrics_behind_a_token_answer_only_the_bearer(world: World) -> None:
    await restart_bot(world, metrics_token="metrics-s3cret")
    assert world.bot_url is not None
    base = world.bot_url.removesuffix("/webhook")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "token metrics-s3cret"}):
        async with world.session.get(base + "/metrics", headers=headers) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert "release_train_" not in await resp.text()
    # The control: the bearer of the token reads them; /healthz stays open to the load balancer.
    async with world.session.get(base + "/metrics", headers={"Authorization": "Bearer metrics-s3cret"}) as resp:
        assert resp.status == 200
        assert "release_train_deliveries_total" in await resp.text()
    async with world.session.get(base + "/healthz") as resp:
        assert resp.status == 200


# Refused signatures in the log -------------------------------------------------------------------------


async def test_refused_signatures_are_logged_once_a_minute_with_the_count_suppressed(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="release_train.server")
    assert world.bot_app is not None
    refusals = world.bot_app[REFUSALS]
    now = [1000.0]
    refusals.clock = lambda: now[0]
    body = json.dumps(example("issues", "opened")).encode()
    bad = headers_for(body, event="issues")
    bad["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    for _ in range(50):
        assert (await post(world, body, bad))[0] == 401
    logged = [r for r in caplog.records if getattr(r, "refused", None)]
    assert [(r.levelno, r.refused, r.suppressed) for r in logged] == [(logging.WARNING, 1, 0)]  # type: ignore[attr-defined]
    now[0] += REFUSAL_LOG_SECONDS
    assert (await post(world, body, bad))[0] == 401
    logged = [r for r in caplog.records if getattr(r, "refused", None)]
    assert [(r.refused, r.suppressed) for r in logged] == [(1, 0), (50, 49)]  # type: ignore[attr-defined]
    assert "49 more refused" in logged[-1].getMessage()
    # The control: GitHub's signed delivery is no refusal.
    assert (await post(world, body, headers_for(body, event="issues")))[0] == 202
    assert len([r for r in caplog.records if getattr(r, "refused", None)]) == 2
