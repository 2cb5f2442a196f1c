"""Merge-rules scale benchmark: a push to devel with 200 open FR → devel PRs, counted from the sandbox's request log.

Prints one JSON object: API calls for a first push (cold: every check is created, POSTs paced at 80 a
minute) and a second push (warm: every verdict changes and is updated in place), each as total, per PR,
by route and check-run writes; then a /refresh of every open PR (calls, 304 answers, check-run writes:
none, since nothing changed).
Set BENCH_PRS to change the number of PRs. Loopback only; stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.sandbox.harness import start_world
from merge_rules_scale import CALLS_PER_PR, call_bound, scenario

PRS = int(os.environ.get("BENCH_PRS", "200"))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with aiohttp.ClientSession() as session:
            world = await start_world(Path(tmp), with_bot=False, session=session)
            try:
                figures = await scenario(world, PRS, settle_timeout=900.0)
            finally:
                await world.close()
    for round_name in ("cold", "warm"):
        figures[round_name].pop("entries")
        figures[round_name]["within_bound"] = figures[round_name]["calls"] <= call_bound(PRS)
    figures["bound_per_pr"] = CALLS_PER_PR
    figures["bound_total"] = call_bound(PRS)
    print(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
