"""Issue 6's fault tests, measured by effects: pick PRs, checks and replies counted in the sandbox's records, each exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from fault_scenarios import (
    effects,
    footprint,
    forget_deliveries,
    free_port,
    healthy,
    prepare_repo,
    quiet,
    report,
    repeated_anywhere,
    run_burst,
    burst_actions,
    serve,
    sqlite_unfinished,
    wait_until,
)

from bot.sandbox.common import HOOKS
from bot.sandbox.harness import World
from test_catchup import app_jwt


async def test_redeliveries_of_every_delivery_produce_no_new_effects(world: World) -> None:
    plans = list(await asyncio.gather(*(prepare_repo(world, f"redo{n}") for n in range(3))))
    await world.settle()
    await run_burst([burst_actions(world, plan, people_events=8) for plan in plans])
    await world.settle()
    before = effects(world, plans)
    assert (before.seen, before.duplicates) == (before.expected, 0), before.as_dict()
    sizes = footprint(world, plans)
    hooks = world.app[HOOKS]
    records = list(hooks.deliveries)
    jwt = await app_jwt(world)
    for record in records:
        answer = await world.call(None, "POST", f"/app/hook/deliveries/{record['id']}/attempts", headers=jwt)
        assert answer.status == 202, answer.body
    await world.settle()
    after = effects(world, plans)
    redelivered = [r for r in hooks.deliveries[len(records):] if r["redelivery"]]
    report("redeliveries", after, redelivered=len(redelivered), footprint_before=sizes, footprint_after=footprint(world, plans),
           repeated=repeated_anywhere(world, plans))
    assert len(redelivered) == len(records) and all(r["status_code"] == 202 for r in redelivered)
    assert after.seen == after.expected and after.duplicates == 0, after.as_dict()
    assert footprint(world, plans) == sizes
    assert repeated_anywhere(world, plans) == 0
