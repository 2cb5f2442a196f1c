"""`cherry_pick.auto_merge`, end to end through the sandbox: pick PRs get GitHub's auto-merge once, or a person hears why not."""

from __future__ import annotations

from typing import Any

from bot.rules import cherry_pick as rules
from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from pick_story import (
    FULL,
    NAME,
    ORG,
    PICK_REPO_CONFIG,
    TEXT,
    app_client,
    check_states,
    comments,
    fix_pr,
    pick_prs,
    pull,
    release_repo,
    send_again,
)

AUTO_SQUASH = PICK_REPO_CONFIG + "cherry_pick:\n  auto_merge: true\n  auto_merge_method: squash\n"


async def allow_auto_merge(world: World) -> None:
    answer = await world.call("alice", "PATCH", f"/repos/{FULL}", {"allow_auto_merge": True})
    assert answer.status == 200 and answer.body["allow_auto_merge"] is True, answer.body


async def verified_fix_merged(world: World, branch: str, line: int) -> int:
    number = await fix_pr(world, branch, {"a.txt": TEXT.replace(f"line {line}\n", f"line #{line}\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    return number


def graphql_calls(world: World, since: int = 0) -> list[dict[str, Any]]:
    return [e for e in world.app_requests(since) if e["path"] == "/graphql"]


async def the_pick(world: World, number: int) -> dict[str, Any]:
    picks = await pick_prs(world)
    assert len(picks) == 1, [p["number"] for p in picks]
    state = (await check_states(world, number))["1.5"]
    assert (state.state, state.pr) == (rules.OPENED, picks[0]["number"])
    return await pull(world, picks[0]["number"])


def forget_pick_states(world: World) -> None:
    """The crash, played on the sandbox's records: the bot's cherry-pick check runs are gone."""
    st = world.app[STORE]
    repo = st.repo(ORG, NAME)
    for run_id, run in list(repo["check_runs"].items()):
        if run["name"] == "release-train/cherry-pick":
            del repo["check_runs"][run_id]
    st.touch()


def refusals(on_pick: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in on_pick if "refused to turn on auto-merge" in c["body"]]


async def test_pick_pr_gets_auto_merge_with_the_configured_method(world: World) -> None:
    await release_repo(world)
    await seed.put_config(world, "alice", FULL, AUTO_SQUASH)
    await allow_auto_merge(world)
    since = world.last_seq()
    number = await verified_fix_merged(world, "fix/auto", 3)
    pick = await the_pick(world, number)
    auto = pick["auto_merge"]
    assert auto is not None, pick
    assert auto["merge_method"] == "squash" and auto["enabled_by"]["login"] == "release-train[bot]"
    assert "auto-merge (squash)" in pick["body"] and "Merge it once" not in pick["body"]
    assert pick["merged"] is False  # the sandbox does not merge when checks pass: a person (or GitHub) does
    calls = graphql_calls(world, since)
    assert [(c["method"], c["status"], c["actor"]) for c in calls] == [("POST", 200, "installation")]
    assert refusals(await comments(world, pick["number"])) == []


async def test_default_leaves_auto_merge_off_and_asks_graphql_nothing(world: World) -> None:
    await release_repo(world)
    await allow_auto_merge(world)
    since = world.last_seq()
    number = await verified_fix_merged(world, "fix/manual", 4)
    pick = await the_pick(world, number)
    assert pick["auto_merge"] is None
    assert "Merge it once the RC's checks pass." in pick["body"]
    assert graphql_calls(world, since) == []


async def test_refusal_reaches_a_person_once(world: World) -> None:
    # GitHub's default: the repository does not allow auto-merge, so GitHub refuses the mutation.
    await release_repo(world)
    await seed.put_config(world, "alice", FULL, AUTO_SQUASH)
    number = await verified_fix_merged(world, "fix/refused", 5)
    pick = await the_pick(world, number)
    assert pick["auto_merge"] is None
    told = refusals(await comments(world, pick["number"]))
    assert len(told) == 1, told
    assert "Pull request Auto merge is not allowed for this repository" in told[0]["body"]
    assert "merge it by hand" in told[0]["body"] and told[0]["user"]["login"] == "release-train[bot]"
    # Repeats on the original PR change nothing: the pick stands, and the refusal is not said again.
    await seed.remove_label(world, "quinn", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    again = await the_pick(world, number)
    assert again["number"] == pick["number"]
    assert len(refusals(await comments(world, pick["number"]))) == 1


async def test_repeated_events_do_not_ask_twice(world: World) -> None:
    await release_repo(world)
    await seed.put_config(world, "alice", FULL, AUTO_SQUASH)
    await allow_auto_merge(world)
    since = world.last_seq()
    number = await verified_fix_merged(world, "fix/repeat", 6)
    pick = await the_pick(world, number)
    assert pick["auto_merge"]["merge_method"] == "squash"
    assert len(graphql_calls(world, since)) == 1
    # The same deliveries again: redelivered by GitHub, then under new delivery ids past the queue's de-duplication.
    app_gh = app_client(world)
    deliveries = await app_gh.getitem("/app/hook/deliveries?per_page=10")
    for delivery in deliveries:
        await app_gh.post("/app/hook/deliveries/{delivery_id}/attempts", {"delivery_id": delivery["id"]}, data=b"")
    await world.settle()
    for delivery in deliveries:
        full = await app_gh.getitem("/app/hook/deliveries/{delivery_id}", {"delivery_id": delivery["id"]})
        await send_again(world, full["event"], full["request"]["payload"])
    await world.settle()
    assert (await the_pick(world, number))["number"] == pick["number"]
    assert len(graphql_calls(world, since)) == 1


async def test_pick_pr_found_again_gets_auto_merge_once(world: World) -> None:
    # A pick PR opened while auto_merge was off; the setting turned on; the pick asked again after its
    # recorded state is lost (as after a crash between opening the PR and writing the check run).
    await release_repo(world)
    await allow_auto_merge(world)
    number = await verified_fix_merged(world, "fix/found", 7)
    pick = await the_pick(world, number)
    assert pick["auto_merge"] is None
    await seed.put_config(world, "alice", FULL, AUTO_SQUASH)
    await world.settle()
    forget_pick_states(world)
    since = world.last_seq()
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    picked = await pick_prs(world)
    assert [p["number"] for p in picked] == [pick["number"]]
    auto = (await pull(world, pick["number"]))["auto_merge"]
    assert auto is not None and auto["merge_method"] == "squash"
    assert len(graphql_calls(world, since)) == 1
