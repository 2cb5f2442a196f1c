"""The Redis queue on a real redis-server: replicas share the work, keep per-repository order, and take over a dead replica's jobs."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.github.client import TransientError
from bot.github.pacing import RedisWritePacer
from bot.queue import Delivery
from bot.queue.redis import RedisQueue
from bot.settings import Settings
from fault_scenarios import free_port, stop_served, wait_until

if TYPE_CHECKING:
    from bot.sandbox.harness import World


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of its own per test, so tests sharing the server never see each other's jobs."""
    import uuid

    yield f"t{uuid.uuid4().hex[:8]}"


def settings(redis_url: str, **overrides: object) -> Settings:
    base = Settings(
        app_id=1,
        private_key="x",
        webhook_secrets=("s",),
        state_url=redis_url,
        concurrency=3,
        max_attempts=3,
        retry_base_seconds=0.01,
        retry_cap_seconds=0.05,
        job_lease_seconds=0.6,
    )
    return dataclasses.replace(base, **overrides)


def delivery(n: int, repo: str, installation: int = 1) -> Delivery:
    return Delivery(
        id=f"{repo}#{n}", event="issues", body=b'{"n": %d}' % n, repo_key=repo, installation_id=installation
    )


class Ledger:
    """What every replica ran, shared between them, to check order, overlap and exactly-once."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []  # (replica, delivery id)
        self.in_flight: dict[str, int] = {}
        self.overlap_in_repo = False

    def processor(self, replica: str, pause: float = 0.002):
        async def run(d: Delivery) -> str:
            self.in_flight[d.repo_key] = self.in_flight.get(d.repo_key, 0) + 1
            if self.in_flight[d.repo_key] > 1:
                self.overlap_in_repo = True
            try:
                await asyncio.sleep(pause)
                self.ran.append((replica, d.id))
                return "done"
            finally:
                self.in_flight[d.repo_key] -= 1

        return run


async def test_three_replicas_share_the_work_in_order_per_repository(redis_url: str, prefix: str) -> None:
    ledger = Ledger()
    replicas = [RedisQueue(settings(redis_url), prefix=prefix) for _ in range(3)]
    for n, queue in enumerate(replicas):
        await queue.start(ledger.processor(f"r{n}"))
    repos = [f"acme/r{i}" for i in range(8)]
    for n in range(15):
        for i, repo in enumerate(repos):
            # Deliveries arrive at whichever replica the load balancer picks.
            assert await replicas[(n + i) % 3].put(delivery(n, repo))
    assert not await replicas[1].put(delivery(0, repos[0]))  # dedupe is shared
    await replicas[0].wait_idle()
    for queue in replicas:
        await queue.stop()
    ids = [d for _, d in ledger.ran]
    assert len(ids) == len(set(ids)) == 120
    for repo in repos:
        assert [d for d in ids if d.startswith(repo + "#")] == [f"{repo}#{n}" for n in range(15)]
    assert not ledger.overlap_in_repo
    by_replica = {r for r, _ in ledger.ran}
    assert by_replica == {"r0", "r1", "r2"}
    print(
        f"replicas: expected 120, seen {len(ids)}, duplicates {len(ids) - len(set(ids))}, "
        f"per replica {[sum(1 for r, _ in ledger.ran if r == name) for name in ('r0', 'r1', 'r2')]}"
    )


DOOMED_REPLICA = """
import asyncio, dataclasses, sys
from bot.queue import Delivery
from bot.queue.redis import RedisQueue
from bot.settings import Settings

async def main():
    settings = Settings(app_id=1, private_key="x", webhook_secrets=("s",), state_url=sys.argv[1], concurrency=1, job_lease_seconds=0.6)
    queue = RedisQueue(settings, prefix=sys.argv[2])

    async def hangs(d):
        print("running", d.id, flush=True)
        await asyncio.sleep(3600)

    await queue.start(hangs)
    for n in range(2):
        await queue.put(Delivery(id=f"acme/app#{n}", event="issues", body=b"{}", repo_key="acme/app", installation_id=1))
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_killed_replicas_job_is_taken_over_after_its_lease(redis_url: str, prefix: str) -> None:
    import signal
    import sys

    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED_REPLICA, redis_url, prefix],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
    )
    try:
        assert doomed.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, doomed.stdout.readline)
        assert line.decode().split() == ["running", "acme/app#0"]
        doomed.send_signal(signal.SIGKILL)  # mid-job, holding the repository's lock
        doomed.wait()
    finally:
        if doomed.poll() is None:
            doomed.kill()
    ledger = Ledger()
    survivor = RedisQueue(settings(redis_url), prefix=prefix)
    await survivor.start(ledger.processor("survivor"))
    await survivor.wait_idle()
    assert await survivor.state_of("acme/app#0") == "done"
    await survivor.stop()
    assert [d for _, d in ledger.ran] == ["acme/app#0", "acme/app#1"]


async def test_retries_dead_letters_and_redelivery_of_a_dead_letter(redis_url: str, prefix: str) -> None:
    attempts: dict[str, int] = {}
    told: list[str] = []

    async def flaky(d: Delivery) -> str:
        attempts[d.id] = attempts.get(d.id, 0) + 1
        if d.id.endswith("#0") and attempts[d.id] < 3:
            raise TransientError("502")
        if d.id.endswith("#1") and attempts[d.id] <= 3:
            raise RuntimeError("bug")
        return "done"

    async def reporter(d: Delivery, error: str, dead: bool) -> None:
        told.append(d.id)

    queue = RedisQueue(settings(redis_url), prefix=prefix)
    await queue.start(flaky, reporter)
    for n in range(3):
        await queue.put(delivery(n, "acme/app"))
    await queue.wait_idle()
    assert attempts == {"acme/app#0": 3, "acme/app#1": 3, "acme/app#2": 1}
    assert await queue.state_of("acme/app#0") == "done"
    assert await queue.state_of("acme/app#1") == "dead"
    assert told == ["acme/app#1"]
    assert await queue.put(delivery(1, "acme/app"))  # a dead letter comes back on redelivery
    assert not await queue.put(delivery(2, "acme/app"))
    await queue.wait_idle()
    assert await queue.state_of("acme/app#1") == "done"
    await queue.stop()


async def test_a_flood_in_one_repository_does_not_starve_others(redis_url: str, prefix: str) -> None:
    ledger = Ledger()
    queue = RedisQueue(settings(redis_url, concurrency=1), prefix=prefix)
    for n in range(100):
        await queue.put(delivery(n, "flood/app", installation=1))
    await queue.put(delivery(0, "quiet/app", installation=2))
    await queue.start(ledger.processor("only", pause=0))
    await queue.wait_idle()
    await queue.stop()
    ids = [d for _, d in ledger.ran]
    assert len(ids) == 101
    assert ids.index("quiet/app#0") <= 1


async def test_pacing_is_shared_between_replicas(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    clients = [aioredis.from_url(redis_url) for _ in range(2)]
    pacers = [RedisWritePacer(c, 1000, 1000, prefix=prefix) for c in clients]
    holders = 0
    most = 0

    async def write(pacer: RedisWritePacer) -> None:
        nonlocal holders, most
        await pacer.acquire(42, "/repos/o/r/issues")
        holders += 1
        most = max(most, holders)
        await asyncio.sleep(0.005)
        holders -= 1
        await pacer.release(42)

    await asyncio.gather(*(write(pacers[n % 2]) for n in range(20)))
    sent = await clients[0].zcard(f"{prefix}:pace:42:sent")
    for c in clients:
        await c.aclose()
    assert most == 1
    assert sent == 20


# three `release-train serve` replicas behind one webhook URL ---------------------------------------
REPLICA_WORKERS = 3  # WORKER_CONCURRENCY of each served replica


async def test_three_served_replicas_one_killed_mid_burst_every_delivery_processed_once(
    redis_url: str, prefix: str, sandbox: World, tmp_path: Path
) -> None:
    import json
    import signal
    import sys

    import aiohttp

    from bot.sandbox import seed
    from bot.sandbox.common import HOOKS
    from load_balancer import round_robin

    repos = [f"svc{n}" for n in range(10)]
    for name in repos:
        await seed.create_org_repo(sandbox, "acme", name, admin="alice")
    await sandbox.settle()
    # Each test has its own Redis database number's worth of isolation through a fresh FLUSHDB.
    import redis.asyncio as aioredis

    admin = aioredis.from_url(redis_url)
    await admin.flushdb()
    ports = [free_port() for _ in range(3)]
    logs = [tmp_path / f"replica{n}.log" for n in range(3)]

    def start(n: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "APP_ID": str(sandbox.sandbox.config.app_id),
            "PRIVATE_KEY_PATH": str(sandbox.sandbox.config.private_key_path),
            "WEBHOOK_SECRET": "sandbox-secret",
            "GITHUB_API_URL": sandbox.api_url,
            "HOST": "127.0.0.1",
            "PORT": str(ports[n]),
            "STATE_URL": redis_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "WORKER_CONCURRENCY": str(REPLICA_WORKERS),
            "JOB_LEASE_SECONDS": "3",
            "RETRY_BASE_SECONDS": "0.05",
            # A delivery in flight to the killed replica fails at the load balancer; the catch-up redelivers it.
            "REDELIVERY_INTERVAL_SECONDS": "1",
            "SWEEP_INTERVAL_SECONDS": "0",
        }
        env.pop("PRIVATE_KEY", None)
        out = logs[n].open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            stdout=out,
            stderr=out,
        )

    replicas = [start(n) for n in range(3)]
    async with round_robin(ports) as proxy_url, aiohttp.ClientSession() as probe:
        hooks = sandbox.app[HOOKS]
        try:

            async def all_healthy() -> bool:
                for port in ports:
                    try:
                        async with probe.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status != 200:
                                return False
                    except OSError:
                        return False
                return True

            await wait_until(all_healthy, "three replicas to start")
            sandbox.point_webhooks_at(proxy_url)
            first = len(hooks.deliveries)

            async def burst() -> None:
                for n in range(20):
                    await asyncio.gather(
                        *(
                            sandbox.call("alice", "POST", f"/repos/acme/{name}/issues", {"title": f"burst {n}"})
                            for name in repos
                        )
                    )

            burst_task = asyncio.get_running_loop().create_task(burst())

            async def a_third_in() -> bool:
                return sum(1 for r in hooks.deliveries[first:] if r["status_code"] == 202) >= 60

            await wait_until(a_third_in, "60 acknowledged deliveries")
            replicas[1].send_signal(signal.SIGKILL)
            replicas[1].wait()
            await burst_task
            await sandbox.settle()
            sent = {r["guid"] for r in hooks.deliveries[first:]}
            failed_at_first = sent - {r["guid"] for r in hooks.deliveries[first:] if r["status_code"] == 202}
            assert len(sent) == 200

            async def all_processed() -> bool:
                if int(await admin.get("rt:pending") or 0):
                    return False
                states = [await admin.get(f"rt:seen:{guid}") for guid in sent]
                return all(s in (b"done", b"ignored") for s in states) and not hooks.pending()

            try:
                await wait_until(all_processed, "every delivery to be processed", limit=30)
            except AssertionError:
                states = {guid: await admin.get(f"rt:seen:{guid}") for guid in sent}
                stuck = {g: s for g, s in states.items() if s not in (b"done", b"ignored")}
                raise AssertionError(
                    f"pending={await admin.get('rt:pending')} hooks pending={hooks.pending()} stuck={stuck} "
                    f"ready={await admin.zrange('rt:ready', 0, -1, withscores=True)} locks={await admin.keys('rt:lock:*')}"
                ) from None
        finally:
            stop_served(replicas)
            await admin.aclose()
    finished: dict[str, int] = {}
    started: set[str] = set()
    by_replica = [0, 0, 0]
    for n, path in enumerate(logs):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record["message"].startswith("job finished"):
                    finished[record["delivery_id"]] = finished.get(record["delivery_id"], 0) + 1
                    by_replica[n] += 1
                elif record["message"].startswith("job started"):
                    started.add(record["delivery_id"])
    # Every delivery's outcome is stored (all_processed). A job says it finished only after that, so the
    # kill can fall between the two for at most the killed replica's running jobs, which had started.
    unlogged = [guid for guid in sent if not finished.get(guid)]
    seen = len(sent) - len(unlogged)
    duplicates = sum(1 for guid in sent if finished.get(guid, 0) > 1)
    print(
        f"replicas with one killed: expected 200, seen {seen}, duplicates {duplicates}, finished per replica {by_replica}, "
        f"failed at the load balancer and redelivered {len(failed_at_first)}"
    )
    assert len(unlogged) <= REPLICA_WORKERS
    assert all(guid in started for guid in unlogged)
    assert duplicates == 0


async def test_one_replica_runs_each_catch_up_round(redis_url: str, prefix: str) -> None:
    replicas = [RedisQueue(settings(redis_url), prefix=prefix) for _ in range(3)]
    claims = [await q.claim_round("redeliver_failed", 60) for q in replicas]
    assert sorted(claims) == [False, False, True]
    for q in replicas:
        await q.redis.aclose()
