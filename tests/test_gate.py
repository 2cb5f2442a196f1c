"""Stories through the sandbox: the release-train/gate check on the RC head, QA's regression, sign-off, holds, picks."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from bot.sandbox import seed
from bot.sandbox.common import HOOKS
from bot.sandbox.harness import WEBHOOK_SECRET, World
from release_story import (
    FULL,
    all_green,
    ci_check,
    cut,
    gate_rows,
    gate_run,
    gate_state,
    labels_of,
    release_record,
    release_repo,
    reply_to,
    say,
    status,
    tracking_issues,
)

CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks:
    - {name: sanity, app: ci}
    - nightly
    - {name: regression, app: release-train}
  require_signoff: true
"""


async def cut_15(world: World) -> tuple[int, str]:
    """rc/1.5 cut by rita; (tracking issue number, head sha)."""
    await release_repo(world, CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    return int(issue["number"]), head


async def replay(world: World, event: str, match: Any) -> None:
    """Send a delivery the bot already processed again, as a new delivery (the job runs twice)."""
    hooks = world.app[HOOKS]
    full = (hooks.delivery(entry["id"]) for entry in reversed(hooks.deliveries) if entry["event"] == event)
    record = next(d for d in full if match(d["request"]["payload"]))
    body = json.dumps(record["request"]["payload"]).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
    }
    async with world.session.post(world.bot_url, data=body, headers=headers) as resp:
        assert resp.status == 202
    await world.settle()


async def test_gate_counts_only_trusted_results_on_the_current_head(world: World) -> None:
    number, head = await cut_15(world)
    assert await gate_state(world, head) == "in_progress"
    # commit statuses anyone with write access can post do not satisfy checks meant for an app
    await status(world, "dana", head, "sanity")
    await status(world, "dana", head, "regression")
    rows = await gate_rows(world, head)
    assert rows["check `sanity`"] == "pending" and rows["check `regression`"] == "pending"
    await ci_check(world, head, "sanity", app="someone-else")
    assert (await gate_rows(world, head))["check `sanity`"] == "pending"
    await ci_check(world, head, "sanity")
    await status(world, "dana", head, "nightly")
    denied = await say(world, "dana", number, "/regression pass")
    assert "reserved for the QA" in await reply_to(world, number, denied)
    assert (await gate_rows(world, head))["check `regression`"] == "pending"
    await say(world, "quinn", number, "/regression pass")
    assert await gate_state(world, head) == "in_progress"  # sign-off still missing
    await say(world, "pam", number, "/signoff")
    assert await gate_state(world, head) == "success"
    [issue] = await tracking_issues(world)
    assert "Gate: Ready to promote" in issue["body"]

    # the latest result of a name counts: CI re-runs sanity and it fails
    await ci_check(world, head, "sanity", conclusion="failure")
    assert await gate_state(world, head) == "failure"
    await ci_check(world, head, "sanity")
    assert await gate_state(world, head) == "success"
    # the same delivery handled twice changes nothing the second time, and its reads stay bounded
    since = world.last_seq()
    await replay(world, "check_run", lambda p: p["action"] == "completed" and p["check_run"]["name"] == "sanity")
    handled = world.app_requests(since)
    assert [(r["method"], r["path"]) for r in handled if r["method"] != "GET"] == []
    # the RC heads, then rc/1.4 and rc/1.5 (one commit here) at 11 reads each: the gate's 8, and 3 for its
    # protection row (the rules in force on the RC branch, its protection summary, the repository's rulesets)
    assert len(handled) <= 1 + 2 * 11

    # a new commit on the RC: regression and sign-off must happen again for it
    new_head = await seed.commit(world, "rita", FULL, "rc/1.5", {"app.py": "x = 5\n"}, "Fix from QA (#9)")
    await world.settle()
    rows = await gate_rows(world, new_head)
    assert rows["check `regression`"] == "pending" and rows["PdM sign-off"] == "pending"
    assert await gate_state(world, head) == "success"  # the old head keeps its verdict
    [issue] = await tracking_issues(world)
    assert new_head[:7] in issue["body"]


async def test_regression_fail_opens_one_blocker_bug_even_when_the_job_runs_twice(world: World) -> None:
    number, head = await cut_15(world)
    made = await say(world, "quinn", number, "/regression fail Checkout crashes for @everyone")
    reply = await reply_to(world, number, made)
    bugs = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=bug&state=all")).body
    assert len(bugs) == 1
    bug = bugs[0]
    assert labels_of(bug) == {"bug", "release-blocker", "rc/1.5"}
    assert head[:7] in bug["body"] and "Found by QA: quinn" in bug["body"] and "@\u200deveryone" in bug["body"]
    assert "@quinn" not in bug["body"]  # the bug answers nobody, so it mentions nobody
    assert f"#{bug['number']}" in reply
    rows = await gate_rows(world, head)
    assert rows["check `regression`"] == "fail" and rows["no blocker bugs"] == "fail"

    await replay(world, "issue_comment", lambda p: p.get("comment", {}).get("id") == made["id"])
    bugs = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=bug&state=all")).body
    assert len(bugs) == 1

    # the fix lands and QA passes regression; QA closing the bug clears the blocker row
    answer = await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{bug['number']}", {"state": "closed"})
    assert answer.status == 200
    await world.settle()
    assert (await gate_rows(world, head))["no blocker bugs"] == "pass"


async def test_hold_picks_and_peoples_text(world: World) -> None:
    number, head = await cut_15(world)
    await all_green(world, number, head)
    assert await gate_state(world, head) == "success"

    # people's text in the tracking issue survives every dashboard update
    [issue] = await tracking_issues(world)
    edited = "Ship notes by @alice: watch the cache.\n\n" + issue["body"] + "\n\nFooter by people."
    assert (await world.call("alice", "PATCH", f"/repos/{FULL}/issues/{number}", {"body": edited})).status == 200
    await world.settle()

    denied = await say(world, "quinn", number, "/hold because")
    assert "reserved for the RTE" in await reply_to(world, number, denied)
    await say(world, "pam", number, "/hold Legal review of @bob's change")
    assert await gate_state(world, head) == "failure"
    [issue] = await tracking_issues(world)
    assert "release-hold" in labels_of(issue)
    record = await release_record(world, "1.5")
    assert record.hold.reason == "Legal review of @bob's change" and record.hold.by == "pam"
    assert "Legal review of @\u200dbob's change" in issue["body"]  # the dashboard shows it
    assert issue["body"].startswith("Ship notes by @alice: watch the cache.") and issue["body"].endswith(
        "Footer by people."
    )
    assert "@\u200dbob" in (await gate_run(world, head))["output"]["summary"]
    # removing the label by hand does not release the hold: it comes back
    await seed.remove_label(world, "dana", FULL, number, "release-hold")
    await world.settle()
    assert await gate_state(world, head) == "failure"
    [issue] = await tracking_issues(world)
    assert "release-hold" in labels_of(issue)
    await say(world, "rita", number, "/unhold")
    assert await gate_state(world, head) == "success"
    [issue] = await tracking_issues(world)
    assert "release-hold" not in labels_of(issue) and (await release_record(world, "1.5")).hold is None

    # an open PR into the RC keeps the gate waiting; a conflicted pick blocks it; unverified picks are listed
    await seed.create_branch(world, "dana", FULL, "fix/late", "rc/1.5")
    await seed.commit(world, "dana", FULL, "fix/late", {"late.py": "late = 1\n"}, "Late fix")
    late = await seed.open_pr(world, "dana", FULL, head="fix/late", base="rc/1.5", title="Late fix")
    await world.settle()
    assert (await gate_rows(world, head))["no open PRs into the RC"] == "pending"
    assert (
        await world.call("dana", "PATCH", f"/repos/{FULL}/pulls/{late['number']}", {"state": "closed"})
    ).status == 200
    await world.settle()
    assert await gate_state(world, head) == "success"

    await seed.create_branch(world, "dana", FULL, "fix/source", "devel")
    await seed.commit(world, "dana", FULL, "fix/source", {"src.py": "s = 1\n"}, "Source fix")
    source = await seed.open_pr(world, "dana", FULL, head="fix/source", base="devel", title="Source fix")
    await seed.add_labels(world, "dana", FULL, source["number"], "cherry-pick/1.5")
    await world.settle()
    rows = await gate_rows(world, head)
    assert rows["picks waiting for QA"] == "info" and await gate_state(world, head) == "success"
    # a source PR closed without merging waits for nothing
    await seed.create_branch(world, "dana", FULL, "fix/dropped", "devel")
    await seed.commit(world, "dana", FULL, "fix/dropped", {"drop.py": "d = 1\n"}, "Dropped fix")
    dropped = await seed.open_pr(world, "dana", FULL, head="fix/dropped", base="devel", title="Dropped fix")
    await seed.add_labels(world, "dana", FULL, dropped["number"], "cherry-pick/1.5")
    assert (
        await world.call("dana", "PATCH", f"/repos/{FULL}/pulls/{dropped['number']}", {"state": "closed"})
    ).status == 200
    await world.settle()
    waiting = [
        line
        for line in (await gate_run(world, head))["output"]["summary"].splitlines()
        if "picks waiting for QA" in line
    ]
    assert f"#{source['number']}]" in waiting[0] and f"#{dropped['number']}]" not in waiting[0]
    # the PR-wide conflict label says nothing about this RC: only the pick's own state for 1.5 counts
    await seed.add_labels(world, "rita", FULL, source["number"], "cherry-pick-conflict")
    await world.settle()
    assert (await gate_rows(world, head))["no failed cherry-picks"] == "pass"
    [issue] = await tracking_issues(world)
    assert f"| [#{source['number']}]" in issue["body"] and "| waiting for merge |" in issue["body"]


async def test_the_sweep_repairs_a_gate_whose_events_were_missed(world: World) -> None:
    from bot.handlers import release
    from sweeps import sweep_context

    number, head = await cut_15(world)
    await all_green(world, number, head)
    assert await gate_state(world, head) == "success"
    await world.stop_bot()
    # while the bot is away: CI re-runs sanity and it fails, and QA files a blocker by hand
    await ci_check(world, head, "sanity", conclusion="failure")
    bug = await world.call(
        "quinn", "POST", f"/repos/{FULL}/issues", {"title": "Crash", "labels": ["release-blocker", "rc/1.5"]}
    )
    assert bug.status == 201
    await world.start_bot(world.bot_settings(redelivery_interval_seconds=0, sweep_interval_seconds=0))
    await world.settle()
    assert await gate_state(world, head) == "success"  # nothing told the bot yet

    ctx = await sweep_context(world, "app")
    await release.sweep(ctx)
    rows = await gate_rows(world, head)
    assert rows["check `sanity`"] == "fail" and rows["no blocker bugs"] == "fail"
    [issue] = await tracking_issues(world)
    assert f"#{bug.body['number']}" in issue["body"]
    await world.settle()  # the webhooks of the first sweep's own writes are handled before we count
    since = world.last_seq()
    await release.sweep(ctx)
    assert [e for e in world.app_requests(since) if e["method"] != "GET"] == []


async def test_a_pick_that_conflicts_for_one_rc_blocks_only_that_rcs_gate(world: World) -> None:
    from bot.rules import cherry_pick as pick_rules

    await release_repo(world, CONFIG)
    await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 2\n"}, "Feature work (#3)")
    await cut(world)
    [tracking] = await tracking_issues(world)
    # rc/1.4 moved on with a change to the README that devel never got (forward-ported under another text)
    head_14 = await seed.commit(world, "rita", FULL, "rc/1.4", {"README.md": "# app 1.4 (hotfix)\n"}, "RC hotfix")
    await world.settle()
    head_15 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]

    # one fix aimed at both RCs: it applies to rc/1.5 and conflicts on rc/1.4
    await seed.create_branch(world, "dana", FULL, "fix/readme", "devel")
    await seed.commit(world, "dana", FULL, "fix/readme", {"README.md": "# app (fixed)\n"}, "Fix the README")
    fix = await seed.open_pr(world, "dana", FULL, head="fix/readme", base="devel", title="Fix the README")
    await seed.add_labels(world, "dana", FULL, fix["number"], "cherry-pick/1.4", "cherry-pick/1.5")
    await seed.merge_pr(world, "alice", FULL, fix["number"], "squash")
    await seed.add_labels(world, "quinn", FULL, fix["number"], "qa/verified")
    await world.settle()

    source = (await world.call("alice", "GET", f"/repos/{FULL}/pulls/{fix['number']}")).body
    assert "cherry-pick-conflict" in labels_of(source)  # the label is PR-wide
    runs = (
        await world.call(
            "alice",
            "GET",
            f"/repos/{FULL}/commits/{source['head']['sha']}/check-runs?check_name=release-train/cherry-pick",
        )
    ).body
    states = pick_rules.decode_states(max(runs["check_runs"], key=lambda r: r["id"])["output"]["text"])
    assert states["1.4"].state == "conflict" and states["1.5"].state == "opened"

    rows_14 = await gate_rows(world, head_14)
    assert rows_14["no failed cherry-picks"] == "fail" and await gate_state(world, head_14) == "failure"
    assert f"#{fix['number']}]" in (await gate_run(world, head_14))["output"]["summary"]
    rows_15 = await gate_rows(world, head_15)
    assert rows_15["no failed cherry-picks"] == "pass" and rows_15["no open PRs into the RC"] == "pending"

    # the 1.5 pick merges: the new 1.5 head has nothing unfinished, and the dashboard names the pick merged
    [pick] = [p for p in (await world.call("alice", "GET", f"/repos/{FULL}/pulls?base=rc/1.5&state=open")).body]
    await seed.merge_pr(world, "rita", FULL, pick["number"], "merge")
    await world.settle()
    head_15 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    rows_15 = await gate_rows(world, head_15)
    assert rows_15["no failed cherry-picks"] == "pass" and rows_15["no open PRs into the RC"] == "pass"
    assert "picks waiting for QA" not in rows_15
    body = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{tracking['number']}")).body["body"]
    assert f"| [#{pick['number']}]" in body and "| merged |" in body and "| conflict |" not in body
    assert "merged 1 · open 0 · conflicting 0 · waiting for QA 0" in body
    # a merged pick is settled by its source's record (which says whether it held only the pick): re-evaluating
    # reads that record again only conditionally, so an unchanged one costs no rate limit
    since = world.last_seq()
    await say(world, "rita", tracking["number"], "/refresh")
    requests = world.app_requests(since)
    paths = [r["path"] for r in requests]
    source_reads = [r for r in requests if r["path"] == f"/repos/{FULL}/commits/{source['head']['sha']}/check-runs"]
    assert source_reads and all(r["status"] == 304 for r in source_reads)
    assert f"/repos/{FULL}/commits/{head_15}/check-runs" in paths  # the gate did run
    assert (await gate_rows(world, head_14))["no failed cherry-picks"] == "fail"
    # a person finishes the 1.4 pick by hand, on the pick branch the conflict comment names: once QA verified that
    # PR, the 1.4 gate waits on it instead of failing, and passes the pick row once it is merged
    resolved_branch = f"cherry-pick/{fix['number']}-to-rc-1.4"
    await seed.create_branch(world, "dana", FULL, resolved_branch, "rc/1.4")
    await seed.commit(
        world,
        "dana",
        FULL,
        resolved_branch,
        {"README.md": "# app 1.4 (hotfix, fixed)\n"},
        "Fix the README, resolved for 1.4",
    )
    by_hand = await seed.open_pr(
        world, "dana", FULL, head=resolved_branch, base="rc/1.4", title="[rc/1.4] Fix the README"
    )
    await world.settle()
    # unverified, a person's PR from the pick branch stands for nothing
    assert (await gate_rows(world, head_14))["no failed cherry-picks"] == "fail"
    await seed.add_labels(world, "quinn", FULL, by_hand["number"], "qa/verified")
    await world.settle()
    rows_14 = await gate_rows(world, head_14)
    assert rows_14["no failed cherry-picks"] == "pass" and rows_14["no open PRs into the RC"] == "pending"
    await seed.merge_pr(world, "rita", FULL, by_hand["number"], "merge")
    await world.settle()
    head_14 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    rows_14 = await gate_rows(world, head_14)
    assert rows_14["no failed cherry-picks"] == "pass" and rows_14["no open PRs into the RC"] == "pass"
