"""The cost of a pick, counted from the sandbox's own request log: at most 12 requests for one commit, 4 per extra commit."""

from __future__ import annotations

import json
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from pick_story import FULL, TEXT, pick_prs, release_repo

SINGLE_BUDGET = 12
PER_EXTRA_COMMIT = 4


def shown(requests: list[dict[str, Any]]) -> list[str]:
    return [f"{r['method']} {r['path']}{'?' + r['query'] if r['query'] else ''} -> {r['status']}" for r in requests]


def handling_of_labeled(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The cherry-pick handler's requests for QA's labeled delivery, and every app request up to its last one.

    The handler opens by reading its check run and ends by writing it, after opening the PR. Other
    concerns' handlers run on the same delivery (the RC gate, merge rules); they are counted only in
    the second figure. The events the bot's own writes cause are handled after this point.
    """
    begin = next(
        i
        for i, r in enumerate(requests)
        if r["method"] == "GET" and r["path"].endswith("/check-runs") and "release-train/cherry-pick" in r["query"]
    )
    opened = next(i for i, r in enumerate(requests) if r["method"] == "POST" and r["path"] == f"/repos/{FULL}/pulls")
    end = next(
        i
        for i, r in enumerate(requests)
        if i > opened and r["method"] in ("POST", "PATCH") and "/check-runs" in r["path"]
    )
    return requests[begin : end + 1], end + 1


def cache_misses(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reads a warm process answers from its caches: token, app, config, permission and team membership."""
    cached = ("/access_tokens", "/contents/.github/release-train.yml", "/permission", "/memberships/")
    return [r for r in requests if r["path"] == "/app" or any(part in r["path"] for part in cached)]


async def pick_cost(world: World, *, commits: int, warm: bool) -> tuple[int, int, list[str]]:
    """Requests from QA's labeled webhook to the opened pick PR, for a squash-merged PR of `commits` commits
    (rebase-merged when commits > 1): the cherry-pick handler's, plus the cache misses of that delivery."""
    branch = f"fix/econ-{commits}-{'warm' if warm else 'cold'}"
    await seed.create_branch(world, "dana", FULL, branch, "devel")
    # Each PR edits its own file, so no pick conflicts with an earlier one.
    text = TEXT
    for i in range(commits):
        text = text.replace(f"line {i + 1}\n", f"line {i + 1} fixed\n")
        await seed.commit(
            world, "dana", FULL, branch, {f"{branch.replace('/', '-')}.txt": text}, f"Step {i + 1} of {branch}"
        )
    pr = await seed.open_pr(world, "dana", FULL, head=branch, base="devel", title=f"Fix {branch}")
    number = int(pr["number"])
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.merge_pr(world, "alice", FULL, number, "rebase" if commits > 1 else "squash")
    await world.settle()
    if not warm:
        # A fresh process: no installation token, no config, no membership cached.
        await world.stop_bot()
        await world.start_bot()
    start = world.last_seq()
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    requests = world.app_requests(since=start)
    counted, whole = handling_of_labeled(requests)
    misses = cache_misses(requests[:whole])
    return len(counted) + len(misses), whole, shown(misses + counted)


async def test_single_commit_pick_costs_at_most_12_requests_when_warm(world: World) -> None:
    await release_repo(world)
    # Cold: a restarted bot that has read nothing yet.
    cold, cold_whole, cold_calls = await pick_cost(world, commits=1, warm=False)
    # Steady state: token, config and membership cached.
    warm, warm_whole, warm_calls = await pick_cost(world, commits=1, warm=True)
    print(
        json.dumps(
            {
                "single_commit": {"cold": cold, "steady": warm, "steady_calls": warm_calls, "cold_calls": cold_calls},
                "whole_delivery_with_other_concerns": {"cold": cold_whole, "steady": warm_whole},
            },
            indent=1,
        )
    )
    assert len(await pick_prs(world)) == 2
    assert warm <= SINGLE_BUDGET, warm_calls


async def test_each_extra_commit_costs_at_most_4_more(world: World) -> None:
    await release_repo(world)
    await pick_cost(world, commits=1, warm=False)
    one, _, _ = await pick_cost(world, commits=1, warm=True)
    three, _, three_calls = await pick_cost(world, commits=3, warm=True)
    print(json.dumps({"one_commit": one, "three_commits": three, "three_calls": three_calls}, indent=1))
    assert len(await pick_prs(world)) == 3
    assert three <= SINGLE_BUDGET + 2 * PER_EXTRA_COMMIT, three_calls
