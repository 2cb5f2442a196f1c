"""A push to devel with many open FR → devel PRs: a bounded number of API calls per PR, and no rewrite of unchanged checks.

The suite runs 40 PRs to stay fast; `benchmarks/bench_merge_rules.py` runs the same scenario with 200
and prints the figures as JSON.
"""

from __future__ import annotations

from collections import Counter

from bot.sandbox.harness import World
from merge_rules_scale import CHECK, REPO, call_bound, scenario


async def test_push_to_devel_reevaluates_every_fr_pr_within_a_per_pr_bound(sandbox: World) -> None:
    prs = 40
    figures = await scenario(sandbox, prs)
    # Every FR PR got its check, saying it is behind devel, as one run updated in place.
    assert figures["cold"]["check_creates"] == prs
    assert (figures["warm"]["check_creates"], figures["warm"]["check_updates"]) == (0, prs)
    answer = await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls?state=open&per_page=100")
    assert len(answer.body) == prs
    for pull in answer.body:
        runs = await sandbox.call("alice", "GET", f"/repos/{REPO}/commits/{pull['head']['sha']}/check-runs")
        mine = [r for r in runs.body["check_runs"] if r["name"] == CHECK]
        assert [r["output"]["title"] for r in mine] == ["1 of 3 rules pass: behind devel by 2 commits (+1 more)"]
    # A bounded number of calls per PR, and no read repeated within one evaluation.
    for round_name in ("cold", "warm"):
        calls = figures[round_name]["entries"]
        assert len(calls) <= call_bound(prs), figures[round_name]["by_route"]
        reads = Counter((e["path"], e["query"]) for e in calls if e["method"] == "GET")
        assert [key for key, n in reads.items() if n > 1] == []
    # Nothing changed since: no check is written again, and every compare is answered 304 (free).
    assert figures["refresh"]["check_writes"] == 0
    assert figures["refresh"]["not_modified"] >= prs
