"""The merge-rules scale scenario: many open FR → devel PRs, two pushes to devel and a /refresh, counted call by call.

tests/test_merge_rules_scale.py runs it with 40 PRs; benchmarks/bench_merge_rules.py with 200, printing the figures.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World

REPO = "acme/app"
CHECK = "release-train/merge-rules"
# Per FR → devel PR on a push to devel: one compare, one read of the head's check runs, one write.
CALLS_PER_PR = 3


def call_bound(prs: int) -> int:
    """The app's slug and an installation token (first job of the process), and a page of open PRs per 100."""
    return CALLS_PER_PR * prs + 2 + -(-prs // 100)


# The routes a merge-rules evaluation uses; other concerns' reactions (e.g. to check_run events) are
# reported apart, not counted against this bound. The config file is read at most once a minute by
# whichever job comes first (ConfigStore's TTL), so it is reported apart too.
MERGE_RULES_ROUTES = (
    "/app",
    "/app/installations/{installation_id}/access_tokens",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/compare/{basehead}",
    "/repos/{owner}/{repo}/commits/{ref}/check-runs",
    "/repos/{owner}/{repo}/check-runs",
    "/repos/{owner}/{repo}/check-runs/{check_run_id}",
    "/repos/{owner}/{repo}/issues/{issue_number}/events",
)


def _is_check_write(entry: dict[str, Any]) -> bool:
    return "check-runs" in entry["path"] and entry["method"] in ("POST", "PATCH")


async def scenario(world: World, prs: int, settle_timeout: float = 60.0) -> dict[str, Any]:
    """Build `prs` open FR → devel PRs without the bot, start it, push to devel twice, then /refresh everything."""
    started = time.monotonic()
    await seed.create_org_repo(
        world, "acme", "app", admin="alice", files={"README.md": "hello\n"}, default_branch="devel"
    )

    async def one_fr(i: int) -> None:
        branch = f"fr/FR-{i}-feature"
        await seed.create_branch(world, "alice", REPO, branch, "devel")
        await seed.commit(world, "alice", REPO, branch, {f"feature_{i}.py": f"N = {i}\n"}, f"FR-{i}")
        await seed.open_pr(world, "alice", REPO, head=branch, base="devel", title=f"FR-{i}: feature")

    # One at a time: concurrent ref updates on different branches can be lost in the sandbox (reported).
    for i in range(prs):
        await one_fr(i)
    await world.settle()
    setup_seconds = time.monotonic() - started

    # Without catch-up, so the failed deliveries of the setup are not redelivered into the count.
    await world.start_bot(world.bot_settings(redelivery_interval_seconds=0, sweep_interval_seconds=0))
    figures: dict[str, Any] = {"prs": prs, "setup_seconds": round(setup_seconds, 2)}
    # First push: no check exists yet, so each is created (POST, paced at 80 a minute by the client).
    # Second push: each verdict changes ("behind by 2") and is updated in place (PATCH).
    for round_name, moved in (("cold", "moved\n"), ("warm", "moved again\n")):
        since = world.last_seq()
        pushed = time.monotonic()
        await seed.commit(world, "alice", REPO, "devel", {"devel.txt": moved}, "devel moves")
        await world.settle(timeout=settle_timeout)
        everything = world.app_requests(since)
        calls = [e for e in everything if e["route"] in MERGE_RULES_ROUTES]
        others = Counter(f"{e['method']} {e['route']}" for e in everything if e["route"] not in MERGE_RULES_ROUTES)
        figures[round_name] = {
            "seconds": round(time.monotonic() - pushed, 2),
            "calls": len(calls),
            "calls_per_pr": round(len(calls) / prs, 2),
            "check_creates": sum(1 for e in calls if _is_check_write(e) and e["method"] == "POST"),
            "check_updates": sum(1 for e in calls if _is_check_write(e) and e["method"] == "PATCH"),
            "by_route": dict(Counter(f"{e['method']} {e['route']}" for e in calls)),
            "entries": calls,
            "other_concerns": dict(others),
        }

    since = world.last_seq()
    issue = await world.call("alice", "POST", f"/repos/{REPO}/issues", {"title": "Refresh everything"})
    await seed.comment(world, "alice", REPO, issue.body["number"], "/refresh")
    await world.settle()
    refresh_calls = world.app_requests(since)

    figures["refresh"] = {
        "calls": len(refresh_calls),
        "not_modified": sum(1 for e in refresh_calls if e["status"] == 304),
        "check_writes": sum(1 for e in refresh_calls if _is_check_write(e)),
    }
    return figures
