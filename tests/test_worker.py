"""The worker: two jobs of one repository handed out at once still run one after the other, so the PR gets one check."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.catchup import SWEEP_EVENT
from bot.queue import Delivery
from bot.sandbox.app import REQUEST_HOOKS
from bot.sandbox.common import HOOKS, STORE
from bot.sandbox.harness import World
from bot.server import ROUTER, SERVICES
from bot.worker import KeyLocks, Processor
from fault_scenarios import BOT, PICK_CHECK, pick_actions, prepare_repo


def _recorded(world: World, event: str, action: str) -> list[dict[str, Any]]:
    """The payloads of the deliveries the sandbox recorded for an event and action, oldest first."""
    hooks = world.app[HOOKS]
    found = []
    for entry in hooks.deliveries:
        if entry["event"] == event and entry["action"] == action:
            record = hooks.delivery(entry["id"])
            assert record is not None
            found.append({"guid": record["guid"], "payload": record["request"]["payload"]})
    return found


async def test_a_webhook_and_a_sweep_of_one_pr_at_once_make_one_cherry_pick_check(world: World) -> None:
    """Both jobs read the PR's check runs before either has written one (the sandbox holds the first read
    until the second job reads or waits for its turn); only one cherry-pick run, pick PR and link may result."""
    plan = await prepare_repo(world, "twice")
    await world.settle()
    [number] = plan.fixes
    world.point_webhooks_at(None)  # the labels are recorded, not delivered: the test hands them to the worker
    for act in pick_actions(world, plan):
        await act()
    await world.app[HOOKS].wait_idle()
    [verified] = [
        d for d in _recorded(world, "pull_request", "labeled") if d["payload"]["label"]["name"] == "qa/verified"
    ]
    payload = verified["payload"]
    head = payload["pull_request"]["head"]["sha"]
    installation = payload["installation"]["id"]
    webhook = Delivery(verified["guid"], "pull_request", json.dumps(payload).encode(), plan.full, installation)
    sweep_body = {"action": "sweep", "repository": payload["repository"], "installation": {"id": installation}}
    sweep = Delivery(f"sweep:{plan.full}:1", SWEEP_EVENT, json.dumps(sweep_body).encode(), plan.full, installation)

    assert world.bot_app is not None
    processor = Processor(world.bot_app[SERVICES], world.bot_app[ROUTER])
    listing = f"/repos/{plan.full}/commits/{head}/check-runs"
    reads: list[str] = []
    first_read = asyncio.Event()
    let_go = asyncio.Event()

    async def hold_the_first_read(request: web.Request) -> None:
        if request.method != "GET" or request.path != listing or request.query.get("check_name") != PICK_CHECK:
            return
        reads.append(request.path)
        if len(reads) == 1:
            first_read.set()
            await let_go.wait()
        else:
            let_go.set()  # the second job read too: both saw no run

    world.app[REQUEST_HOOKS].append(hold_the_first_read)
    try:
        first = asyncio.get_running_loop().create_task(processor(webhook))
        await first_read.wait()
        second = asyncio.get_running_loop().create_task(processor(sweep))
        while not let_go.is_set() and processor.serial.queued(plan.full) < 2:
            await asyncio.sleep(0)  # until the second job reads the runs, or waits for the repository
        let_go.set()
        outcomes = await asyncio.gather(first, second)
    finally:
        world.app[REQUEST_HOOKS].remove(hold_the_first_read)

    assert outcomes == ["done", "done"]
    repo = world.app[STORE].repo("acme", plan.name)
    runs = [r for r in repo["check_runs"].values() if r["name"] == PICK_CHECK and r["head_sha"] == head]
    picks = [p for p in repo["pulls"].values() if p["head_ref"] == f"cherry-pick/{number}-to-rc-1.5"]
    links = [
        c
        for c in repo["comments"].values()
        if c["user"] == BOT and c["issue_number"] == number and "Cherry-pick into `rc/1.5`: #" in c["body"]
    ]
    assert (len(runs), len(picks), len(links)) == (1, 1, 1), [r["output"].get("title") for r in runs]


async def test_key_locks_let_one_holder_in_per_key_and_forget_a_key_nobody_wants() -> None:
    locks = KeyLocks()
    order: list[str] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def job(name: str, key: str) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            if name == "a":
                inside.set()
                await leave.wait()
            order.append(f"{name} out")

    a = asyncio.get_running_loop().create_task(job("a", "acme/app"))
    await inside.wait()
    b = asyncio.get_running_loop().create_task(job("b", "acme/app"))
    other = asyncio.get_running_loop().create_task(job("c", "acme/other"))
    await other  # another repository does not wait
    while locks.queued("acme/app") < 2:
        await asyncio.sleep(0)
    assert order == ["a in", "c in", "c out"]
    leave.set()
    await asyncio.gather(a, b)
    assert order == ["a in", "c in", "c out", "a out", "b in", "b out"]
    assert (locks.queued("acme/app"), locks._locks) == (0, {})
