"""Stories through the sandbox: /cut-rc checks forward-ports, cuts the RC, opens its tracking issue and posts the gate."""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import (
    FULL,
    cut,
    gate_run,
    labels_of,
    new_issue,
    release_record,
    release_repo,
    reply_to,
    say,
    tracking_issues,
)
from sandbox_calls import outage


async def reactions(world: World, comment: dict[str, Any]) -> set[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/comments/{comment['id']}/reactions")
    return {r["content"] for r in answer.body}


async def branch_sha(world: World, branch: str) -> str | None:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")
    return answer.body["object"]["sha"] if answer.status == 200 else None


def writes(world: World, since: int) -> list[dict[str, Any]]:
    return [r for r in world.app_requests(since) if r["method"] != "GET"]


async def test_cut_rc_branches_devel_opens_tracking_issue_and_posts_gate(world: World) -> None:
    await release_repo(world)
    devel = await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 2\n"}, "Feature work (#3)")
    number, made = await cut(world)
    reply = await reply_to(world, number, made)
    assert await branch_sha(world, "rc/1.5") == devel  # the next minor after rc/1.4 / v1.4.0
    [issue] = await tracking_issues(world)
    assert issue["title"] == "Release 1.5"
    assert labels_of(issue) == {"release-train", "rc/1.5"}
    record = await release_record(world, "1.5")
    assert record is not None and record.tracking == issue["number"]
    assert record.cut.complete and not record.cut.forced and record.cut.by == "rita" and record.cut.sha == devel
    assert "| requirement | state | link |" in issue["body"] and devel[:7] in issue["body"]
    gate = await gate_run(world, devel)
    assert gate is not None and gate["status"] == "in_progress"  # sanity and regression not reported yet
    assert "check `regression`" in gate["output"]["summary"]
    # a commit status named regression cannot stand in for QA's recorded result
    assert (
        await world.call(
            "dana", "POST", f"/repos/{FULL}/statuses/{devel}", {"state": "success", "context": "regression"}
        )
    ).status == 201
    await world.settle()
    assert (
        "| check `regression` | ⏳ not recorded for this commit: QA's `/regression pass` |"
        in (await gate_run(world, devel))["output"]["summary"]
    )
    assert f"tracking issue #{issue['number']}" in reply
    assert await reactions(world, made) >= {"eyes", "+1"}


async def test_cut_rc_refuses_missing_forward_port_then_force_records_who(world: World) -> None:
    await release_repo(world)
    hotfix = await seed.commit(
        world, "dana", FULL, "rc/1.4", {"hotfix.py": "fix = True\n"}, "Hotfix straight on the RC"
    )
    await world.settle()
    since = world.last_seq()
    number, made = await cut(world, "1.5")
    reply = await reply_to(world, number, made)
    assert "I did not cut `rc/1.5`" in reply and hotfix[:7] in reply and "Hotfix straight on the RC" in reply
    assert "git cherry-pick -x" in reply
    assert await branch_sha(world, "rc/1.5") is None and await tracking_issues(world) == []
    assert "-1" in await reactions(world, made)
    assert not [w for w in writes(world, since) if "/git/refs" in w["path"] or w["path"].endswith("/issues")]

    number, made = await cut(world, "1.5 --force")
    reply = await reply_to(world, number, made)
    assert "Cut forced by rita" in reply and hotfix[:7] in reply
    [issue] = await tracking_issues(world)
    record = await release_record(world, "1.5")
    assert record.cut.forced and record.cut.by == "rita"
    assert "Cut forced by** rita" in issue["body"]


async def test_bot_picks_and_forward_ports_are_not_flagged(world: World) -> None:
    await release_repo(world)
    # a fix on devel, picked into rc/1.4 with the -x trailer (as the bot's picks are)
    fix = await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 3\n"}, "Fix login (#7)")
    await seed.commit(
        world, "rita", FULL, "rc/1.4", {"app.py": "x = 3\n"}, f"Fix login (#7)\n\n(cherry picked from commit {fix})"
    )
    # a fix made on the RC and forward-ported by hand without -x: the same change
    await seed.commit(world, "dana", FULL, "rc/1.4", {"other.py": "y = 1\n"}, "Guard against empty carts")
    await seed.commit(world, "dana", FULL, "devel", {"other.py": "y = 1\n"}, "Forward-port: guard against empty carts")
    # a pick resolved by hand (another diff, no trailer) whose subject names the same PR
    await seed.commit(world, "dana", FULL, "devel", {"cart.py": "total = 0\n"}, "Fix cart totals (#8)")
    await seed.commit(
        world, "dana", FULL, "rc/1.4", {"cart.py": "total = 0  # 1.4\n"}, "[1.4] Fix cart totals (#8) (#11)"
    )
    # rc/1.4 now has commits since v1.4.0, so it is in use
    await world.settle()
    number, made = await cut(world)
    reply = await reply_to(world, number, made)
    assert "Cut `rc/1.5`" in reply, reply
    assert await branch_sha(world, "rc/1.5") is not None


async def test_second_cut_and_dry_run_change_nothing(world: World) -> None:
    await release_repo(world)
    await seed.create_branch(world, "dana", FULL, "fr/FR-1-late", "devel")
    await seed.commit(world, "dana", FULL, "fr/FR-1-late", {"late.py": "late = 1\n"}, "Late feature")
    late = await seed.open_pr(world, "dana", FULL, head="fr/FR-1-late", base="devel", title="Late @everyone feature")
    await seed.add_labels(world, "dana", FULL, late["number"], "rc/1.5")
    await world.settle()

    since = world.last_seq()
    number, made = await cut(world, "--dry-run")
    reply = await reply_to(world, number, made)
    assert "Dry run" in reply and "create `rc/1.5`" in reply
    assert f"#{late['number']}" in reply and "@\u200deveryone" in reply  # not in this RC, escaped
    assert await branch_sha(world, "rc/1.5") is None
    assert [
        w["path"] for w in writes(world, since) if "/comments" not in w["path"] and "/reactions" not in w["path"]
    ] == []

    number, made = await cut(world)
    assert "Cut `rc/1.5`" in await reply_to(world, number, made)
    [issue] = await tracking_issues(world)
    assert f"#{late['number']}" in issue["body"]  # listed as not in this RC
    since = world.last_seq()
    number, made = await cut(world, "1.5")
    assert "already exists" in await reply_to(world, number, made)
    assert [
        w["path"] for w in writes(world, since) if "/comments" not in w["path"] and "/reactions" not in w["path"]
    ] == []
    assert len(await tracking_issues(world)) == 1


async def test_next_cut_closes_previous_tracking_issue_and_refuser_is_polite(world: World) -> None:
    await release_repo(world)
    number, made = await cut(world)
    [first] = await tracking_issues(world)
    denied = await say(world, "dana", number, "/cut-rc 1.6")
    assert "reserved for the RTE" in await reply_to(world, number, denied)
    assert await branch_sha(world, "rc/1.6") is None
    await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 9\n"}, "More work")
    await world.settle()
    number, made = await cut(world)
    assert "closed the previous tracking issue" in await reply_to(world, number, made)
    first_now, second = await tracking_issues(world)
    assert first_now["number"] == first["number"] and first_now["state"] == "closed"
    assert second["title"] == "Release 1.6" and second["state"] == "open"


async def test_cut_interrupted_after_the_branch_is_finished_by_the_next_cut(world: World) -> None:
    await release_repo(world)
    # the bot creates rc/1.5, then GitHub fails every attempt to open the tracking issue
    await outage(world, f"POST /repos/{FULL}/issues")
    number = await new_issue(world)
    await say(world, "rita", number, "/cut-rc 1.5")
    await outage(world)
    sha = await branch_sha(world, "rc/1.5")
    assert sha is not None and await tracking_issues(world) == []
    made = await say(world, "rita", number, "/cut-rc 1.5")
    assert "Finished the interrupted cut of `rc/1.5`" in await reply_to(world, number, made)
    assert len(await tracking_issues(world)) == 1
    assert (await release_record(world, "1.5")).cut.complete and await gate_run(world, sha) is not None
    number, made = await cut(world, "1.5")
    assert "already exists" in await reply_to(world, number, made)
    assert len(await tracking_issues(world)) == 1


async def test_recutting_a_deleted_rc_starts_its_tracking_issue_over(world: World) -> None:
    await release_repo(world)
    await cut(world)
    [issue] = await tracking_issues(world)
    assert (
        await world.call("alice", "PATCH", f"/repos/{FULL}/issues/{issue['number']}", {"state": "closed"})
    ).status == 200
    assert (await world.call("alice", "DELETE", f"/repos/{FULL}/git/refs/heads/rc/1.5")).status == 204
    await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 7\n"}, "Rework")
    await world.settle()
    number, made = await cut(world, "1.5")
    assert "Cut `rc/1.5`" in await reply_to(world, number, made)
    [again] = await tracking_issues(world)
    assert again["number"] == issue["number"] and again["state"] == "open"
    assert await gate_run(world, await branch_sha(world, "rc/1.5")) is not None


async def test_open_prs_in_the_releases_milestone_are_listed_as_not_in_this_rc(world: World) -> None:
    await release_repo(world)

    async def milestone(title: str) -> int:
        made = await world.call("alice", "POST", f"/repos/{FULL}/milestones", {"title": title})
        assert made.status == 201, made.body
        return int(made.body["number"])

    async def in_milestone(number: int, milestone_number: int) -> None:
        answer = await world.call("alice", "PATCH", f"/repos/{FULL}/issues/{number}", {"milestone": milestone_number})
        assert answer.status == 200, answer.body

    async def feature_pr(branch: str, title: str) -> int:
        await seed.create_branch(world, "dana", FULL, branch, "devel")
        await seed.commit(world, "dana", FULL, branch, {f"{branch.replace('/', '_')}.py": "x = 1\n"}, title)
        return int((await seed.open_pr(world, "dana", FULL, head=branch, base="devel", title=title))["number"])

    ours, other = await milestone("Release 1.5"), await milestone("1.50")
    aimed = await feature_pr("fr/FR-2-aimed", "Aimed at 1.5")
    elsewhere = await feature_pr("fr/FR-3-later", "Aimed at 1.50")
    done = await feature_pr("fr/FR-4-done", "Already merged")
    await in_milestone(aimed, ours)
    await in_milestone(elsewhere, other)
    await in_milestone(done, ours)
    await seed.merge_pr(world, "alice", FULL, done, "merge")
    plain_issue = await new_issue(world, title="A bug in the 1.5 milestone")
    await in_milestone(plain_issue, ours)
    await world.settle()

    number, made = await cut(world, "--dry-run")
    reply = await reply_to(world, number, made)
    listed = reply.split("Not in this RC", 1)[1]
    assert f"#{aimed} Aimed at 1.5" in listed
    assert f"#{elsewhere} " not in listed and f"#{done} " not in listed and f"#{plain_issue} " not in listed

    number, made = await cut(world)
    assert "Cut `rc/1.5`" in await reply_to(world, number, made)
    [issue] = await tracking_issues(world)
    assert (await release_record(world, "1.5")).cut.not_in_rc == (aimed,)
    assert f"#{aimed}" in issue["body"]


async def test_cut_rc_does_not_adopt_a_developers_rc_branch(world: World) -> None:
    await release_repo(world)
    await seed.create_branch(world, "dana", FULL, "rc/1.5", "devel")
    own = await seed.commit(world, "dana", FULL, "rc/1.5", {"backdoor.py": "open = True\n"}, "Quick tweak")
    await world.settle()
    since = world.last_seq()

    number, made = await cut(world, "1.5")
    reply = await reply_to(world, number, made)
    assert "`rc/1.5`" in reply and "made by @\u200ddana" in reply and "/adopt-rc 1.5" in reply
    assert await tracking_issues(world) == []
    gate = await gate_run(world, own)  # the gate on a branch nobody cut says so; it never passes
    assert gate is None or (gate["conclusion"] != "success" and "no record" in gate["output"]["summary"])
    assert not [w for w in writes(world, since) if w["path"].endswith("/issues") or "/check-runs" in w["path"]]
    assert "-1" in await reactions(world, made)

    # a developer cannot take it over either
    denied = await say(world, "dana", number, "/adopt-rc 1.5")
    assert "reserved for the RTE" in await reply_to(world, number, denied)
    assert await tracking_issues(world) == []


async def test_the_rte_adopts_an_rc_cut_by_hand_before_the_app_was_installed(world: World) -> None:
    await release_repo(world)
    world.point_webhooks_at(None)  # the app is not installed yet: nobody hears the branch being made
    sha = await seed.create_branch(world, "alice", FULL, "rc/1.5", "devel")
    await world.settle()
    assert world.bot_url is not None
    world.point_webhooks_at(world.bot_url)

    number, made = await cut(world, "1.5")
    reply = await reply_to(world, number, made)
    assert "/adopt-rc 1.5" in reply and await tracking_issues(world) == []

    # control: the RTE takes it over explicitly; the record says who and at which head
    made = await say(world, "rita", number, "/adopt-rc 1.5")
    reply = await reply_to(world, number, made)
    assert "Adopted `rc/1.5`" in reply and sha[:7] in reply
    [issue] = await tracking_issues(world)
    assert labels_of(issue) == {"release-train", "rc/1.5"} and "adopted by rita" in issue["body"]
    assert await gate_run(world, sha) is not None
    number, made = await cut(world, "1.5")
    assert "already exists" in await reply_to(world, number, made)
    assert len(await tracking_issues(world)) == 1
