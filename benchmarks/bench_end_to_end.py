"""End to end, bot-side: QA's label to the cherry-pick PR, and a CI result to the gate updated (medians).

Prints one JSON object. Times come from the sandbox's request log (arrival time of each request):
from the request that applied the label (or posted the CI result) to the bot's request that opened
the PR (or wrote the gate check run). They include the webhook's trip to the bot, its durable
enqueue and every API call the bot makes on the way. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import scenario
from bot.sandbox import seed
from bot.sandbox.app import REQUEST_LOG
from bot.sandbox.harness import World
from scenario import FULL

ROUNDS = 10


def elapsed_ms(world: World, since: int, started: float, effect: tuple[tuple[str, ...], str]) -> float | None:
    """From `started` (time.monotonic() before the person's request) to the end of the bot's effect request."""
    log = [e for e in world.app[REQUEST_LOG] if e["seq"] > since]
    end = next(
        (
            e["at"] + e["ms"] / 1000
            for e in log
            if e["actor"] == "installation" and e["method"] in effect[0] and effect[1] in e["path"]
        ),
        None,
    )
    return None if end is None else round((end - started) * 1000, 1)


async def run() -> dict[str, Any]:
    picks: list[float] = []
    gates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with aiohttp.ClientSession() as session:
            world = await scenario.start(Path(tmp), session)
            try:
                planning = (await world.call("rita", "POST", f"/repos/{FULL}/issues", {"title": "Plan 1.5"})).body[
                    "number"
                ]
                await seed.comment(world, "rita", FULL, planning, "/cut-rc 1.5")
                await world.settle()
                for i in range(ROUNDS + 1):  # the first round warms the caches and is not counted
                    pr = await scenario.merged_fix(world, f"fix-{i}", [{f"src/f{i}.txt": f"{i}\n"}], "squash")
                    since, started = world.last_seq(), time.monotonic()
                    await seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified")
                    await world.settle()
                    ms = elapsed_ms(world, since, started, (("POST",), "/pulls"))
                    if i and ms is not None:
                        picks.append(ms)
                for pick in (
                    await world.call("rita", "GET", f"/repos/{FULL}/pulls?base=rc/1.5&state=open&per_page=100")
                ).body:
                    await seed.merge_pr(world, "rita", FULL, pick["number"], "squash")
                await world.settle()
                rc_head = await scenario.head(world, "rc/1.5")
                for i in range(ROUNDS + 1):
                    since, started = world.last_seq(), time.monotonic()
                    # Flipping nightly's result changes the gate every round, so every round writes.
                    await scenario.ci(world, rc_head, "nightly", "failure" if i % 2 else "success")
                    await world.settle()
                    ms = elapsed_ms(world, since, started, (("POST", "PATCH"), "/check-runs"))
                    if i and ms is not None:
                        gates.append(ms)
            finally:
                await world.close()
    return {
        "benchmark": "end_to_end",
        "rounds": ROUNDS,
        "label_to_pick_pr_ms_median": statistics.median(picks) if picks else None,
        "label_to_pick_pr_ms_max": max(picks) if picks else None,
        "ci_result_to_gate_ms_median": statistics.median(gates) if gates else None,
        "ci_result_to_gate_ms_max": max(gates) if gates else None,
        "samples": {"pick": picks, "gate": gates},
    }


def main() -> None:
    print(json.dumps(asyncio.run(run())))


if __name__ == "__main__":
    main()
