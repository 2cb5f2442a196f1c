"""Fast durable ingest: group commit, id-only rows for unhandled events, bodies of a backlog kept on disk, the door's JSON check."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from bot.queue import Delivery
from bot.queue.sqlite import HOT_JOBS, SqliteQueue
from bot.sandbox.harness import WEBHOOK_SECRET, World
from bot.server import QUEUE
from bot.settings import Settings
from deliveries import example

SETTINGS = Settings(
    app_id=1,
    private_key="x",
    webhook_secrets=("s",),
    concurrency=1,
    max_attempts=3,
    retry_base_seconds=0.01,
    retry_cap_seconds=0.05,
)


def delivery(n: int, repo: str = "acme/app", event: str = "issues") -> Delivery:
    return Delivery(id=f"d-{repo}-{n}", event=event, body=b'{"n": %d}' % n, repo_key=repo, installation_id=7)


def stored(path: Path) -> dict[str, tuple[str, bytes | None]]:
    with sqlite3.connect(path) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT delivery_id, state, body FROM jobs")}


async def test_a_backlog_holds_few_bodies_in_memory_and_every_job_gets_its_own_back(tmp_path: Path) -> None:
    gate = asyncio.Event()
    ran: list[Delivery] = []

    async def processor(d: Delivery) -> str:
        await gate.wait()
        ran.append(d)
        return "done"

    queue = SqliteQueue(tmp_path / "q.db", dataclasses.replace(SETTINGS, **{}))
    await queue.start(processor)
    total = HOT_JOBS * 4
    assert all(await asyncio.gather(*(queue.put(delivery(n)) for n in range(total))))
    in_memory = list(queue._hot_deliveries)
    assert 0 < len(in_memory) <= HOT_JOBS
    assert queue.depth() == total
    gate.set()
    await queue.wait_idle()
    await queue.stop()
    assert [d.id for d in ran] == [f"d-acme/app-{n}" for n in range(total)]
    for n, d in enumerate(ran):
        assert (d.body, d.event, d.repo_key, d.installation_id, d.attempts) == (
            b'{"n": %d}' % n,
            "issues",
            "acme/app",
            7,
            1,
        )
    assert {state for state, _ in stored(tmp_path / "q.db").values()} == {"done"}


async def test_a_backlog_left_at_shutdown_runs_after_a_restart_with_its_bodies(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", dataclasses.replace(SETTINGS, concurrency=0))
    await queue.start(lambda d: asyncio.sleep(0))
    for n in range(5):
        await queue.put(delivery(n, "acme/a" if n % 2 else "acme/b"))
    await queue.stop()
    ran: list[tuple[str, bytes]] = []

    async def processor(d: Delivery) -> str:
        ran.append((d.id, d.body))
        return "done"

    again = SqliteQueue(tmp_path / "q.db", SETTINGS)
    await again.start(processor)
    await again.wait_idle()
    await again.stop()
    assert sorted(ran) == sorted((f"d-{'acme/a' if n % 2 else 'acme/b'}-{n}", b'{"n": %d}' % n) for n in range(5))


async def test_an_ignored_delivery_is_stored_as_its_id_only_and_deduped(tmp_path: Path) -> None:
    ran: list[str] = []

    async def processor(d: Delivery) -> str:
        ran.append(d.id)
        return "done"

    queue = SqliteQueue(tmp_path / "q.db", SETTINGS)
    await queue.start(processor)
    assert await queue.put(delivery(1), ignored=True)
    assert not await queue.put(delivery(1), ignored=True)
    assert not await queue.put(delivery(1))  # a redelivery is a duplicate however it is classified
    assert queue.depth() == 0
    assert await queue.state_of("d-acme/app-1") == "ignored"
    await queue.wait_idle()
    await queue.stop()
    assert ran == []
    assert stored(tmp_path / "q.db") == {"d-acme/app-1": ("ignored", None)}


async def test_concurrent_deliveries_share_commits(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", dataclasses.replace(SETTINGS, concurrency=0))
    await queue.start(lambda d: asyncio.sleep(0))
    commits: list[str] = []
    assert queue._conn is not None
    conn = queue._conn
    await queue._db(lambda: conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None))
    results = await asyncio.gather(*(queue.put(delivery(n, f"acme/r{n % 5}")) for n in range(200)))
    await queue._db(lambda: conn.set_trace_callback(None))
    assert all(results)
    assert 1 <= len(commits) <= 20, len(commits)  # one transaction per writer turn, not per delivery
    await queue.stop()
    assert len(stored(tmp_path / "q.db")) == 200


async def test_checkpoints_are_not_left_to_commits(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", SETTINGS)
    await queue.open()
    assert queue._conn is not None
    conn = queue._conn
    assert await queue._db(lambda: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
    assert queue._checkpointer is not None and queue._checkpointer.is_alive()
    await queue.stop()


# at the door, over real HTTP -----------------------------------------------------------------------
def headers_for(body: bytes, event: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


async def post(world: World, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    assert world.bot_url is not None
    async with world.session.post(world.bot_url, data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_an_event_no_handler_wants_is_remembered_without_its_body(world: World) -> None:
    body = json.dumps(
        {"action": "started", "repository": {"full_name": "acme/app"}, "installation": {"id": 1}}
    ).encode()
    headers = headers_for(body, "watch")
    assert await post(world, body, headers) == (202, {"ok": True, "queued": True})
    queue = world.bot_app[QUEUE]  # type: ignore[index]
    assert await queue.state_of(headers["X-GitHub-Delivery"]) == "ignored"
    assert stored(queue.path)[headers["X-GitHub-Delivery"]] == ("ignored", None)
    assert await post(world, body, headers) == (202, {"ok": True, "queued": False})


async def test_a_handled_event_is_stored_with_its_raw_bytes(world: World) -> None:
    body = json.dumps(example("issues", "labeled")).encode()  # GitHub's own, for a repository not installed
    headers = headers_for(body, "issues")
    assert (await post(world, body, headers))[0] == 202
    queue = world.bot_app[QUEUE]  # type: ignore[index]
    assert stored(queue.path)[headers["X-GitHub-Delivery"]][1] == body
    await world.settle()


async def test_json_broken_where_the_door_does_not_look_is_still_refused(world: World) -> None:
    broken = [
        b'{"action": "opened", "pull_request": {"body": "x", "title": }, "repository": {"full_name": "acme/app"}}',
        b'{"action": "opened", "pull_request": {"body": "\xff\xfe"}, "repository": {"full_name": "acme/app"}}',
        b'{"action": "opened"} trailing',
        b'["action", "opened"]',
    ]
    for body in broken:
        for event in ("pull_request", "watch"):
            status, answer = await post(world, body, headers_for(body, event))
            assert (status, answer) == (400, {"error": "body is not a JSON object"}), body


async def test_redis_keeps_an_ignored_delivery_as_its_id_only(tmp_path_factory: Any) -> None:
    import shutil
    import socket
    import subprocess

    import pytest

    from bot.queue.redis import RedisQueue

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        ran: list[str] = []

        async def processor(d: Delivery) -> str:
            ran.append(d.id)
            return "done"

        queue = RedisQueue(dataclasses.replace(SETTINGS, state_url=url), prefix="ingest")
        await queue.start(processor)
        assert await queue.put(delivery(1), ignored=True)
        assert not await queue.put(delivery(1), ignored=True)
        assert not await queue.put(delivery(1))
        assert await queue.state_of("d-acme/app-1") == "ignored"
        assert await queue.pending() == 0
        await queue.wait_idle()
        await queue.stop()
        assert ran == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
