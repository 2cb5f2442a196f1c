"""API economy: the REST calls the bot makes per operation, counted from the sandbox's own request log.

Prints one JSON object. For each operation: `to_effect`, the app's requests from the triggering
webhook up to and including the request that makes the operation's visible effect (the pick PR, the
check run, the tag...), and `until_quiet`, every request the bot made until all follow-up webhooks
were handled (other concerns reacting to the same events included). Caches are warm (token, config,
membership) unless the name says cold. 304s are counted as requests, and reported apart.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import scenario
from bot.sandbox import seed
from bot.sandbox.harness import World
from scenario import FULL


def count(world: World, since: int, effect: tuple[str, str] | None) -> dict[str, Any]:
    calls = world.app_requests(since=since)
    figures: dict[str, Any] = {
        "until_quiet": len(calls),
        "not_modified_304": sum(1 for c in calls if c["status"] == 304),
        "writes": sum(1 for c in calls if c["method"] != "GET"),
    }
    if effect is not None:
        method, path_part = effect
        for index, call in enumerate(calls):
            method_ok = call["method"] != "GET" if method == "WRITE" else call["method"] == method
            if method_ok and path_part in call["path"]:
                figures["to_effect"] = index + 1
                break
        else:
            figures["to_effect"] = None
    return figures


async def measure(world: World, action: Any, effect: tuple[str, str] | None) -> dict[str, Any]:
    since = world.last_seq()
    await action()
    await world.settle()
    return count(world, since, effect)


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"benchmark": "api_economy"}
    with tempfile.TemporaryDirectory() as tmp:
        async with aiohttp.ClientSession() as session:
            world = await scenario.start(Path(tmp), session)
            try:
                planning = (await world.call("rita", "POST", f"/repos/{FULL}/issues", {"title": "Plan 1.5"})).body[
                    "number"
                ]
                await world.settle()
                results["cut_rc"] = await measure(
                    world, lambda: seed.comment(world, "rita", FULL, planning, "/cut-rc 1.5"), ("POST", "/git/refs")
                )
                tracking = await scenario.tracking_issue(world)

                # Cold: the first pick after start-up pays for the verified-label role check.
                pr = await scenario.merged_fix(world, "fix-a", [{"src/a.txt": "a\n"}], "squash")
                results["pick_1_commit_first"] = await measure(
                    world,
                    lambda: seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified"),
                    ("POST", "/pulls"),
                )
                pr = await scenario.merged_fix(world, "fix-b", [{"src/b.txt": "b\n"}], "squash")
                results["pick_1_commit"] = await measure(
                    world,
                    lambda: seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified"),
                    ("POST", "/pulls"),
                )
                pr = await scenario.merged_fix(
                    world, "fix-c", [{f"src/c{i}.txt": f"c{i}\n"} for i in range(5)], "rebase"
                )
                results["pick_5_commit_rebase"] = await measure(
                    world,
                    lambda: seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified"),
                    ("POST", "/pulls"),
                )
                pr = await scenario.merged_fix(world, "fix-d", [{"src/d.txt": "d\n"}, {"src/d2.txt": "d2\n"}], "merge")
                results["pick_merge_commit"] = await measure(
                    world,
                    lambda: seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified"),
                    ("POST", "/pulls"),
                )

                # One merge-rules evaluation: a push to an FR branch with an open PR into devel.
                await seed.create_branch(world, "dev", FULL, "fr/FR-1-x", "devel")
                await seed.commit(world, "dev", FULL, "fr/FR-1-x", {"src/fr.txt": "1\n"}, "FR-1: start")
                await seed.open_pr(world, "dev", FULL, head="fr/FR-1-x", base="devel", title="FR-1: x")
                await world.settle()
                results["merge_rules_evaluation"] = await measure(
                    world,
                    lambda: seed.commit(world, "dev", FULL, "fr/FR-1-x", {"src/fr.txt": "2\n"}, "FR-1: more"),
                    ("WRITE", "/check-runs"),
                )

                # Merge the open picks so the RC is clean, then one gate evaluation on a CI result.
                for pick in (await world.call("rita", "GET", f"/repos/{FULL}/pulls?base=rc/1.5&state=open")).body:
                    await seed.merge_pr(world, "rita", FULL, pick["number"], "squash")
                await world.settle()
                rc_head = await scenario.head(world, "rc/1.5")
                await scenario.ci(world, rc_head, "sanity")
                await world.settle()
                results["gate_evaluation"] = await measure(
                    world, lambda: scenario.ci(world, rc_head, "nightly"), ("WRITE", "/check-runs")
                )
                await seed.comment(world, "quinn", FULL, tracking, "/regression pass")
                await world.settle()
                results["promote"] = await measure(
                    world, lambda: seed.comment(world, "rita", FULL, tracking, "/promote"), ("POST", "/releases")
                )
            finally:
                await world.close()
    results["targets"] = {"pick_1_commit_to_effect": 12, "extra_per_commit": 4}
    single = results["pick_1_commit"].get("to_effect")
    five = results["pick_5_commit_rebase"].get("to_effect")
    results["extra_per_commit_measured"] = round((five - single) / 4, 2) if single and five else None
    return results


def main() -> None:
    print(json.dumps(asyncio.run(run())))


if __name__ == "__main__":
    main()
