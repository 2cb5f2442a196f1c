"""The sandbox's deliveries: signed like GitHub's, in order per repository, recorded, redeliverable, and faulty on request."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from gidgethub import apps

from bot.sandbox.common import HOOKS
from bot.sandbox.harness import WEBHOOK_SECRET, Answer, World
from bot.sandbox.runner import start_sandbox


class Receiver:
    """A stand-in for the app's webhook endpoint that records what arrives and can answer badly."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answer_status = 202
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.answer_status, text="noted")

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        bound = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{bound}/webhook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def marks(self) -> list[Any]:
        return [p.get("mark") for p in self.payloads()]


@pytest.fixture
async def receiver(sandbox: World) -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    sandbox.point_webhooks_at(rec.url)
    yield rec
    await rec.stop()


def fake_repo(repo_id: int, name: str) -> dict[str, Any]:
    """Just enough of a repository record for composing a payload (the machinery is what is tested here)."""
    return {
        "id": repo_id,
        "name": name,
        "full_name": f"octo/{name}",
        "owner": {"login": "octo"},
        "default_branch": "main",
    }


def emit(
    world: World, mark: Any, *, repo: dict[str, Any] | None = None, event: str = "issues", action: str = "edited"
) -> None:
    world.app[HOOKS].emit(event, {"action": action, "mark": mark}, repo=repo or fake_repo(1, "one"), sender="alice")


async def as_app(world: World, method: str, path: str) -> Answer:
    key = world.private_key()
    token = apps.get_jwt(app_id=str(world.sandbox.config.app_id), private_key=key)
    return await world.call(None, method, path, headers={"Authorization": f"Bearer {token}"})


async def test_deliveries_are_signed_with_githubs_headers(sandbox: World, receiver: Receiver) -> None:
    emit(sandbox, 1)
    await sandbox.settle()
    [(headers, body)] = receiver.received
    expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert headers["X-Hub-Signature"] == "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert headers["X-GitHub-Event"] == "issues"
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(sandbox.sandbox.config.app_id)
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    payload = json.loads(body)
    assert payload["sender"]["login"] == "alice"
    assert payload["installation"]["id"] > 0
    assert payload["repository"]["full_name"] == "octo/one"

    listed = await as_app(sandbox, "GET", "/app/hook/deliveries")
    [item] = listed.body
    assert item["guid"] == headers["X-GitHub-Delivery"]
    assert (item["status"], item["status_code"], item["redelivery"]) == ("OK", 202, False)
    assert item["event"] == "issues" and item["action"] == "edited"
    full = await as_app(sandbox, "GET", f"/app/hook/deliveries/{item['id']}")
    assert full.body["request"]["payload"] == payload
    assert full.body["request"]["headers"]["X-GitHub-Delivery"] == item["guid"]
    assert full.body["response"]["payload"] == "noted"
    assert (await as_app(sandbox, "GET", "/app/hook/deliveries/999999999")).status == 404
    assert (await sandbox.call("alice", "GET", "/app/hook/deliveries")).status == 401


async def test_only_subscribed_events_are_delivered(sandbox: World, receiver: Receiver) -> None:
    emit(sandbox, "forked", event="fork", action="created")
    emit(sandbox, "kept")
    await sandbox.settle()
    assert receiver.marks() == ["kept"]


async def test_deliveries_keep_their_order_per_repository(sandbox: World, receiver: Receiver) -> None:
    one, two = fake_repo(1, "one"), fake_repo(2, "two")
    for n in range(15):
        emit(sandbox, ("one", n), repo=one)
        emit(sandbox, ("two", n), repo=two)
    await sandbox.settle()
    marks = [tuple(m) for m in receiver.marks()]
    assert [n for r, n in marks if r == "one"] == list(range(15))
    assert [n for r, n in marks if r == "two"] == list(range(15))


async def test_a_failed_answer_is_recorded_and_listed_as_a_failure(sandbox: World, receiver: Receiver) -> None:
    receiver.answer_status = 500
    emit(sandbox, "broken")
    await sandbox.settle()
    receiver.answer_status = 202
    emit(sandbox, "fine")
    await sandbox.settle()
    failures = await as_app(sandbox, "GET", "/app/hook/deliveries?status=failure")
    successes = await as_app(sandbox, "GET", "/app/hook/deliveries?status=success")
    assert [(d["status"], d["status_code"]) for d in failures.body] == [("Invalid HTTP Response: 500", 500)]
    assert [d["status_code"] for d in successes.body] == [202]
    assert (await as_app(sandbox, "GET", "/app/hook/deliveries?status=maybe")).status == 422


async def test_a_bot_that_is_down_misses_deliveries_and_catches_up_by_redelivery(
    sandbox: World, receiver: Receiver
) -> None:
    """The bot's URL refuses connections: GitHub records the failure and does not retry; the app redelivers."""
    await receiver.stop()
    emit(sandbox, "while-down-1")
    emit(sandbox, "while-down-2")
    await sandbox.settle()
    listed = await as_app(sandbox, "GET", "/app/hook/deliveries")
    assert [(d["status"], d["status_code"]) for d in listed.body] == [("failed to connect", 0)] * 2
    failed = {d["guid"]: d["id"] for d in listed.body if d["status"] != "OK"}

    back = Receiver()
    await back.start(port=int(receiver.url.split(":")[2].split("/")[0]))
    try:
        for delivery_id in sorted(failed.values()):
            answer = await as_app(sandbox, "POST", f"/app/hook/deliveries/{delivery_id}/attempts")
            assert answer.status == 202
        await sandbox.settle()
        assert back.marks() == ["while-down-1", "while-down-2"]
        assert {h["X-GitHub-Delivery"] for h, _ in back.received} == set(failed)
        newest = await as_app(sandbox, "GET", "/app/hook/deliveries?per_page=2")
        assert [(d["redelivery"], d["status"]) for d in newest.body] == [(True, "OK"), (True, "OK")]
        assert {d["guid"] for d in newest.body} == set(failed)
    finally:
        await back.stop()
    assert (await as_app(sandbox, "POST", "/app/hook/deliveries/999999999/attempts")).status == 404


async def test_down_switch_records_failures_without_calling_the_bot(sandbox: World, receiver: Receiver) -> None:
    await sandbox.call(None, "POST", "/_sandbox/pause", {"down": True})
    emit(sandbox, "lost")
    await sandbox.settle()
    await sandbox.call(None, "POST", "/_sandbox/pause", {"down": False})
    assert receiver.received == []
    listed = await as_app(sandbox, "GET", "/app/hook/deliveries")
    assert [d["status_code"] for d in listed.body] == [0]


async def test_pause_holds_deliveries_and_settle_does_not_wait_for_them(sandbox: World, receiver: Receiver) -> None:
    paused = await sandbox.call(None, "POST", "/_sandbox/pause", {"paused": True})
    assert paused.body["paused"] is True
    for n in range(3):
        emit(sandbox, n)
    await sandbox.settle()
    assert receiver.received == []
    assert (await sandbox.call(None, "GET", "/_sandbox/idle")).body == {"pending": 0, "held": 3}
    await sandbox.call(None, "POST", "/_sandbox/pause", {"paused": False})
    await sandbox.settle()
    assert receiver.marks() == [0, 1, 2]


async def test_deliveries_page_with_a_cursor(sandbox: World, receiver: Receiver) -> None:
    for n in range(7):
        emit(sandbox, n)
    await sandbox.settle()
    key = sandbox.private_key()
    headers = {"Authorization": f"Bearer {apps.get_jwt(app_id=str(sandbox.sandbox.config.app_id), private_key=key)}"}
    url: str | None = sandbox.api_url + "/app/hook/deliveries?per_page=3"
    pages: list[list[int]] = []
    while url:
        async with sandbox.session.get(url, headers=headers) as resp:
            pages.append([d["id"] for d in await resp.json()])
            url = resp.links.get("next", {}).get("url") if "Link" in resp.headers else None  # type: ignore[assignment]
            if url is not None:
                assert "cursor=" in str(url)
                url = str(url)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [i for p in pages for i in p]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    assert (await as_app(sandbox, "GET", "/app/hook/deliveries?cursor=bogus")).status == 400


async def test_duplicates_share_a_guid(sandbox: World, receiver: Receiver) -> None:
    await sandbox.call(None, "POST", "/_sandbox/faults", {"duplicate": 1.0, "seed": 4})
    emit(sandbox, "twice")
    await sandbox.settle()
    await sandbox.call(None, "POST", "/_sandbox/faults", {})
    assert receiver.marks() == ["twice", "twice"]
    guids = [h["X-GitHub-Delivery"] for h, _ in receiver.received]
    assert guids[0] == guids[1]


async def test_reorder_lets_a_later_delivery_overtake(sandbox: World, receiver: Receiver) -> None:
    await sandbox.call(None, "POST", "/_sandbox/faults", {"reorder": 1.0, "seed": 4})
    emit(sandbox, "first")
    emit(sandbox, "second")
    await sandbox.settle()
    await sandbox.call(None, "POST", "/_sandbox/faults", {})
    assert receiver.marks() == ["second", "first"]


async def test_delivery_faults_replay_with_the_same_seed(sandbox: World, receiver: Receiver) -> None:
    async def run_once() -> list[Any]:
        receiver.received.clear()
        await sandbox.call(
            None,
            "POST",
            "/_sandbox/faults",
            {"delay": 0.3, "duplicate": 0.3, "reorder": 0.3, "seed": 11, "max_delay": 0.02},
        )
        for n in range(12):
            emit(sandbox, n)
        await sandbox.settle()
        await sandbox.call(None, "POST", "/_sandbox/faults", {})
        return receiver.marks()

    first = await run_once()
    assert sorted(set(first)) == list(range(12))  # every event arrives at least once
    assert len(first) > 12 or first != list(range(12))  # and the faults did something
    assert await run_once() == first


async def test_deliveries_survive_a_restart_and_memory_holds_only_the_index(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    state = tmp_path / "state"
    running = await start_sandbox(
        state_dir=state, webhook_url="http://127.0.0.1:9/webhook", webhook_secret=WEBHOOK_SECRET
    )
    world = World(running, session)
    emit(world, "before-restart")
    await world.settle()
    before = (await as_app(world, "GET", "/app/hook/deliveries")).body
    assert "request" not in world.app[HOOKS].deliveries[0]
    await running.stop()

    running = await start_sandbox(state_dir=state, webhook_secret=WEBHOOK_SECRET)
    world = World(running, session)
    try:
        after = (await as_app(world, "GET", "/app/hook/deliveries")).body
        assert after == before
        full = await as_app(world, "GET", f"/app/hook/deliveries/{before[0]['id']}")
        assert full.body["request"]["payload"]["mark"] == "before-restart"
    finally:
        await running.stop()


async def test_a_record_cut_short_by_a_crash_is_dropped_and_later_ones_stay_readable(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    state = tmp_path / "state"
    running = await start_sandbox(
        state_dir=state, webhook_url="http://127.0.0.1:9/webhook", webhook_secret=WEBHOOK_SECRET
    )
    world = World(running, session)
    emit(world, "whole")
    await world.settle()
    await running.stop()
    with (state / "deliveries.jsonl").open("ab") as log_file:
        log_file.write(b'{"id": 12, "guid": "half')  # the process died mid-write

    running = await start_sandbox(
        state_dir=state, webhook_url="http://127.0.0.1:9/webhook", webhook_secret=WEBHOOK_SECRET
    )
    world = World(running, session)
    try:
        emit(world, "after-crash")
        await world.settle()
        listed = (await as_app(world, "GET", "/app/hook/deliveries")).body
        marks = [
            (await as_app(world, "GET", f"/app/hook/deliveries/{d['id']}")).body["request"]["payload"]["mark"]
            for d in listed
        ]
        assert marks == ["after-crash", "whole"]
    finally:
        await running.stop()


async def test_deliveries_held_at_shutdown_go_out_after_a_restart(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    state = tmp_path / "state"
    rec = Receiver()
    await rec.start()
    try:
        running = await start_sandbox(state_dir=state, webhook_url=rec.url, webhook_secret=WEBHOOK_SECRET)
        world = World(running, session)
        await world.call(None, "POST", "/_sandbox/pause", {"paused": True})
        emit(world, "held-1")
        emit(world, "held-2")
        await world.settle()
        await running.stop()
        assert rec.received == []

        running = await start_sandbox(state_dir=state, webhook_url=rec.url, webhook_secret=WEBHOOK_SECRET)
        world = World(running, session)
        try:
            await world.settle()
            assert rec.marks() == ["held-1", "held-2"]
        finally:
            await running.stop()
    finally:
        await rec.stop()


async def test_a_bot_that_does_not_answer_in_time_gets_a_timed_out_delivery(sandbox: World) -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/webhook", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sandbox.point_webhooks_at(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook")
    sandbox.app[HOOKS].timeout = 0.2  # GitHub waits 10 seconds; the test need not
    try:
        emit(sandbox, "slow")
        await sandbox.settle()
        [item] = (await as_app(sandbox, "GET", "/app/hook/deliveries")).body
        assert (item["status"], item["status_code"]) == ("timed out", 0)
    finally:
        release.set()
        await runner.cleanup()
