"""Attack stories through the sandbox: another app's check runs named as the bot's own, a replayed /promote, a backdated
commit."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.rules.release_state import encode_record
from bot.sandbox import seed
from bot.sandbox.harness import World
from bot.server import CATCHUP
from release_story import (
    FULL,
    all_green,
    ci_check,
    gate_rows,
    gate_state,
    green_rc,
    labels_of,
    release_record,
    reply_to,
    say,
    status,
    tracking_issues,
)
from sandbox_calls import captured, next_second, send_again
from test_cherry_pick_custody import BOT, merge_rules_run, picked_fix_on_a_cut_rc, verdict
from test_deployments import answered, deploy


async def head_of(world: World, branch: str) -> str:
    return str((await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")).body["object"]["sha"])


async def released(world: World) -> tuple[int, list[str], list[dict[str, Any]]]:
    """What /promote leaves behind: (the v1.5.0 tag's status, the releases' tags, the deployments)."""
    tag = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")).status
    releases = (await world.call("alice", "GET", f"/repos/{FULL}/releases?per_page=100")).body
    deployments = (await world.call("alice", "GET", f"/repos/{FULL}/deployments?per_page=100")).body
    return tag, [r["tag_name"] for r in releases], deployments


async def nothing_released(world: World) -> None:
    assert await released(world) == (404, [], [])


async def promoted(world: World, head: str) -> None:
    tag, releases, deployments = await released(world)
    assert tag == 200 and releases == ["v1.5.0"] and len(deployments) == 1
    assert await head_of(world, "production") == head


async def other_app_run(world: World, sha: str, name: str, app: str, **fields: Any) -> None:
    """Another GitHub App installed on the repository posts a completed check run of its own on sha."""
    body = {"name": name, "head_sha": sha, "status": "completed", "app_slug": app, **fields}
    answer = await world.call(None, "POST", f"/_sandbox/ci/{FULL}/check-runs", body)
    assert answer.status == 201, answer.body
    await world.settle()


async def test_another_apps_release_record_does_not_lift_a_hold(world: World) -> None:
    number, head = await green_rc(world)
    await say(world, "pam", number, "/hold Legal review")
    record = await release_record(world, "1.5")
    assert record is not None and record.hold is not None

    # Attack: another app writes the bot's record on the RC head, the same in every way but the hold.
    forged = encode_record(dataclasses.replace(record, hold=None))
    output = {"title": "Release 1.5", "summary": "Release 1.5", "text": forged}
    await other_app_run(
        world, head, "release-train/release", "deploy-helper", conclusion="neutral", external_id="1.5", output=output
    )
    made = await say(world, "rita", number, "/promote")
    await say(world, "dana", number, "/refresh")

    assert await gate_state(world, head) == "failure"
    assert (await gate_rows(world, head))["no hold"] == "fail"
    [issue] = await tracking_issues(world)
    assert "release-hold" in labels_of(issue) and "Legal review" in issue["body"]
    assert "I did not promote" in await reply_to(world, number, made)
    await nothing_released(world)

    # Control: the PdM lifts her own hold, and the RTE's /promote publishes.
    await say(world, "pam", number, "/unhold")
    assert await gate_state(world, head) == "success"
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    await promoted(world, head)


async def test_another_apps_signoff_and_gate_runs_are_not_the_pdms_signoff(world: World) -> None:
    number, signed = await green_rc(world)
    # A fix lands on the RC: CI, the nightly and QA pass it; the PdM has not signed off this head.
    fix = await seed.commit(world, "rita", FULL, "rc/1.5", {"app.py": "x = 15\n"}, "Fix checkout (#21)")
    await world.settle()
    await ci_check(world, fix, "sanity")
    await status(world, "dana", fix, "nightly")
    await say(world, "quinn", number, "/regression pass")
    assert await gate_state(world, fix) != "success"

    # Attack: another app posts `release-train/signoff` and `release-train/gate` successes of its own.
    await other_app_run(world, fix, "release-train/signoff", "deploy-helper", conclusion="success")
    await other_app_run(world, fix, "release-train/gate", "deploy-helper", conclusion="success")
    made = await say(world, "rita", number, "/promote")

    assert "I did not promote" in await reply_to(world, number, made)
    assert (await gate_rows(world, fix))["PdM sign-off"] != "pass"
    assert await gate_state(world, fix) != "success"
    await nothing_released(world)
    assert await head_of(world, "production") != signed

    # Control: the PdM signs off the head she now sees, and the RTE's /promote publishes it.
    await say(world, "pam", number, "/signoff")
    assert await gate_state(world, fix) == "success"
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    await promoted(world, fix)


async def test_a_replayed_promote_that_was_refused_does_not_promote_once_the_gate_is_green(world: World) -> None:
    number, head = await green_rc(world)
    await ci_check(world, head, "sanity", conclusion="failure")
    refused = await say(world, "rita", number, "/promote")
    assert "I did not promote" in await reply_to(world, number, refused)
    await nothing_released(world)
    payload = captured(world, "issue_comment", lambda p: (p.get("comment") or {}).get("id") == refused["id"])

    # Attack: CI passes again, and someone replays rita's refused /promote, signed, under a new delivery id.
    await ci_check(world, head, "sanity")
    assert await gate_state(world, head) == "success"
    await send_again(world, "issue_comment", payload)
    await nothing_released(world)

    # Control: rita asks again on the green gate, and the release is published.
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    await promoted(world, head)


async def test_another_apps_gate_run_does_not_open_production_to_a_red_release(world: World) -> None:
    number, head = await green_rc(world)
    await seed.require_app_for_environment(world, FULL, "production", world.sandbox.config.app_id)
    await say(world, "rita", number, "/promote")
    await promoted(world, head)
    bug = await world.call(
        "quinn", "POST", f"/repos/{FULL}/issues", {"title": "Payments fail", "labels": ["release-blocker", "rc/1.5"]}
    )
    assert bug.status == 201
    await world.settle()
    assert await gate_state(world, head) == "failure"

    # Attack: another app posts a green `release-train/gate` on the released commit, then a deploy job runs.
    await other_app_run(world, head, "release-train/gate", "deploy-helper", conclusion="success")
    state, conclusion, comment = answered(await deploy(world, head))
    assert (state, conclusion) == ("rejected", "failure") and "gate is not green" in comment

    # Control: QA closes the blocker, the bot's gate is green again, and the job runs.
    closed = await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{bug.body['number']}", {"state": "closed"})
    assert closed.status == 200
    await world.settle()
    assert await gate_state(world, head) == "success"
    job = await deploy(world, head)
    assert answered(job)[:2] == ("approved", "success") and job["deployment_statuses"][-1] == "success"


async def backdated_push(
    world: World, login: str, branch: str, files: dict[str, str], date: str, *, as_who: tuple[str, str] | None = None
) -> str:
    """login pushes a commit onto branch whose author and committer dates say date, in the name and email as_who
    when given; its sha."""
    ref = (await world.call(login, "GET", f"/repos/{FULL}/git/ref/heads/{branch}")).body["object"]["sha"]
    parent = (await world.call(login, "GET", f"/repos/{FULL}/git/commits/{ref}")).body
    items = [{"path": p, "mode": "100644", "type": "blob", "content": c} for p, c in files.items()]
    tree = await world.call(
        login, "POST", f"/repos/{FULL}/git/trees", {"base_tree": parent["tree"]["sha"], "tree": items}
    )
    assert tree.status == 201, tree.body
    name, email = as_who or (login, f"{login}@example.com")
    person = {"name": name, "email": email, "date": date}
    body = {
        "message": "Fix checkout",
        "tree": tree.body["sha"],
        "parents": [ref],
        "author": person,
        "committer": person,
    }
    made = await world.call(login, "POST", f"/repos/{FULL}/git/commits", body)
    assert made.status == 201, made.body
    pushed = await world.call(login, "PATCH", f"/repos/{FULL}/git/refs/heads/{branch}", {"sha": made.body["sha"]})
    assert pushed.status == 200, pushed.body
    await world.settle()
    return str(made.body["sha"])


async def test_a_backdated_commit_does_not_take_a_regression_pass_written_before_it_arrived(world: World) -> None:
    number, _head = await green_rc(world)
    assert world.bot_app is not None
    await world.call(None, "POST", "/_sandbox/pause", {"down": True})  # the bot is unreachable
    passed = await seed.comment(world, "quinn", FULL, number, "/regression pass")  # quinn tested `head`
    await next_second(passed["created_at"])
    # Attack: a fix arrives after quinn's word, dated a day before it; then CI passes it.
    fix = await backdated_push(world, "dana", "rc/1.5", {"app.py": "x = 15\n"}, "2020-01-01T00:00:00Z")
    await world.call(None, "POST", "/_sandbox/pause", {"down": False})
    assert await world.bot_app[CATCHUP].redeliver_failed() >= 2
    await world.settle()
    await ci_check(world, fix, "sanity")
    await status(world, "dana", fix, "nightly")
    await say(world, "pam", number, "/signoff")

    assert [r for r in await bot_runs(world, fix, "regression") if r["conclusion"] == "success"] == []
    assert await gate_state(world, fix) != "success"
    made = await say(world, "rita", number, "/promote")
    assert "I did not promote" in await reply_to(world, number, made)
    await nothing_released(world)

    # Control: quinn tests the new head and says so; the gate opens and the RTE's /promote publishes it.
    await say(world, "quinn", number, "/regression pass")
    assert await gate_state(world, fix) == "success"
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    await promoted(world, fix)


async def bot_runs(world: World, sha: str, name: str) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name={name}&filter=all")
    return [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]


async def test_a_developers_commit_dressed_as_the_bots_on_the_pick_branch_fails_merge_rules(world: World) -> None:
    tracking, _number, pick = await picked_fix_on_a_cut_rc(world)
    assert verdict(await merge_rules_run(world, pick["head"]["sha"])) == "success"  # control: the bot's own pick
    # Attack: dana pushes to the pick branch a commit whose author and committer are the bot, by name and email.
    app_id = world.sandbox.config.app_id
    bot = (BOT, f"{app_id}+{BOT}@users.noreply.github.com")
    pushed = await backdated_push(
        world, "dana", pick["head"]["ref"], {"backdoor.py": "open = True\n"}, "2026-01-01T00:00:00Z", as_who=bot
    )
    run = await merge_rules_run(world, pushed)
    assert verdict(run) == "failure" and pushed[:7] in run["output"]["summary"]
    await seed.merge_pr(world, "rita", FULL, pick["number"], "merge")
    await world.settle()
    head = await head_of(world, "rc/1.5")
    await all_green(world, tracking, head)
    assert await gate_state(world, head) != "success"

    # Control: QA verifies the pick as it now is; the gate opens.
    await seed.add_labels(world, "quinn", FULL, pick["number"], "qa/verified")
    await world.settle()
    await all_green(world, tracking, head)
    assert await gate_state(world, head) == "success"


async def test_a_replayed_unhold_whose_comment_was_deleted_does_not_lift_a_newer_hold(world: World) -> None:
    number, head = await green_rc(world)
    await say(world, "pam", number, "/hold waiting for legal")
    lifted = await say(world, "pam", number, "/unhold")
    assert await gate_state(world, head) == "success"  # control: the PdM lifts her own hold
    payload = captured(world, "issue_comment", lambda p: (p.get("comment") or {}).get("id") == lifted["id"])
    await say(world, "rita", number, "/hold security review of the payment change")

    # Attack: dana (write) deletes pam's /unhold, so no verdict of the bot is left on it, and replays it.
    gone = await world.call("dana", "DELETE", f"/repos/{FULL}/issues/comments/{lifted['id']}")
    assert gone.status == 204, gone.body
    await world.settle()
    await send_again(world, "issue_comment", payload)
    [issue] = await tracking_issues(world)
    assert "release-hold" in labels_of(issue) and "security review" in issue["body"]
    assert await gate_state(world, head) == "failure"
    made = await say(world, "rita", number, "/promote")
    assert "I did not promote" in await reply_to(world, number, made)
    await nothing_released(world)

    # Control: the RTE lifts her hold, and her /promote publishes.
    await say(world, "rita", number, "/unhold")
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    await promoted(world, head)
