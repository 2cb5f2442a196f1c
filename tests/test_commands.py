"""Attack stories through the sandbox: a command acts once, on the RC head its author saw (replays, late deliveries, catch-up)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox import seed
from bot.sandbox.harness import World
from bot.server import CATCHUP
from release_story import (
    FULL,
    PROMOTE_CONFIG,
    ci_check,
    cut,
    labels_of,
    release_repo,
    reply_to,
    say,
    status,
    tracking_issues,
)
from sandbox_calls import captured, next_second, send_again


async def rc_15(world: World) -> tuple[int, str]:
    """rc/1.5 cut by rita with PROMOTE_CONFIG's gate; (tracking issue, head)."""
    await release_repo(world, PROMOTE_CONFIG)
    v140 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    await seed.create_branch(world, "alice", FULL, "production", v140)
    await cut(world)
    [issue] = await tracking_issues(world)
    return int(issue["number"]), await head_of(world, "rc/1.5")


async def head_of(world: World, branch: str) -> str:
    return str((await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")).body["object"]["sha"])


async def bot_runs(world: World, sha: str, name: str) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name={name}")
    return [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]


async def regression_on(world: World, sha: str) -> str | None:
    runs = await bot_runs(world, sha, "regression")
    return max(runs, key=lambda r: r["id"])["conclusion"] if runs else None


async def signed_off(world: World, sha: str) -> bool:
    return any(r["conclusion"] == "success" for r in await bot_runs(world, sha, "release-train/signoff"))


def comment_delivery(world: World, comment: dict[str, Any]) -> dict[str, Any]:
    return captured(world, "issue_comment", lambda p: (p.get("comment") or {}).get("id") == comment["id"])


async def fix_lands(world: World, after: dict[str, Any], content: str = "x = 15\n") -> str:
    """rita pushes a fix to rc/1.5 in a later second than the comment after was written; the new head."""
    await next_second(after["created_at"])
    fix = await seed.commit(world, "rita", FULL, "rc/1.5", {"app.py": content}, "Fix checkout (#21)")
    await world.settle()
    return fix


async def replies(world: World, number: int, comment: dict[str, Any]) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if f"release-train:reply:{comment['id']}:" in c["body"]]


async def test_a_replayed_regression_pass_records_nothing_on_a_newer_head(world: World) -> None:
    number, head = await rc_15(world)
    passed = await say(world, "quinn", number, "/regression pass")
    assert await regression_on(world, head) == "success"  # control: QA's own word counts
    payload = comment_delivery(world, passed)
    fix = await fix_lands(world, passed)
    assert await regression_on(world, fix) is None

    await send_again(world, "issue_comment", payload)
    assert await regression_on(world, fix) is None
    assert len(await replies(world, number, passed)) == 1

    again = await say(world, "quinn", number, "/regression pass")  # control: QA says it again for the new head
    assert await regression_on(world, fix) == "success"
    assert "passed" in await reply_to(world, number, again)


async def test_a_replayed_unhold_does_not_lift_a_newer_hold(world: World) -> None:
    number, _head = await rc_15(world)
    await say(world, "pam", number, "/hold waiting for legal")
    lifted = await say(world, "pam", number, "/unhold")
    [issue] = await tracking_issues(world)
    assert "release-hold" not in labels_of(issue)  # control: PdM lifts her own hold
    payload = comment_delivery(world, lifted)
    await say(world, "rita", number, "/hold security review of the payment change")

    await send_again(world, "issue_comment", payload)
    [issue] = await tracking_issues(world)
    assert "release-hold" in labels_of(issue) and "security review" in issue["body"]

    await say(world, "rita", number, "/unhold")  # control: the RTE lifts it
    [issue] = await tracking_issues(world)
    assert "release-hold" not in labels_of(issue)


async def test_a_replayed_cut_rc_cuts_nothing_more(world: World) -> None:
    await release_repo(world)
    number, made = await cut(world)
    assert "Cut `rc/1.5`" in await reply_to(world, number, made)  # control: the RTE's cut
    payload = comment_delivery(world, made)

    await send_again(world, "issue_comment", payload)
    assert (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.6")).status == 404
    [issue] = await tracking_issues(world)
    assert issue["state"] == "open" and labels_of(issue) >= {"rc/1.5"}
    assert len(await replies(world, number, made)) == 1


@pytest.mark.parametrize(("login", "command"), [("quinn", "/regression pass"), ("pam", "/signoff")])
async def test_a_command_written_before_the_head_moved_is_refused_after_downtime(
    world: World, login: str, command: str
) -> None:
    number, head = await rc_15(world)
    assert world.bot_app is not None
    await world.call(None, "POST", "/_sandbox/pause", {"down": True})  # the bot is unreachable
    made = await seed.comment(world, login, FULL, number, command)
    fix = await fix_lands(world, made)
    await world.call(None, "POST", "/_sandbox/pause", {"down": False})
    assert await world.bot_app[CATCHUP].redeliver_failed() >= 2  # the comment and the push
    await world.settle()

    assert await regression_on(world, fix) is None and not await signed_off(world, fix)
    assert await regression_on(world, head) is None and not await signed_off(world, head)
    reply = await reply_to(world, number, made)
    assert fix[:7] in reply and command in reply  # it names the new head and asks for the command again
    # A refusal: it answers the commenter by name, and links the new head.
    html = (await world.call("alice", "GET", f"/repos/{FULL}")).body["html_url"]
    assert reply.split("\n", 1)[1].startswith(f"@{login}, `rc/1.5` moved to [`{fix[:7]}`]({html}/commit/{fix})")

    await say(world, login, number, command)  # control: said again, on the head they now see, it counts
    assert await regression_on(world, fix) == "success" or await signed_off(world, fix)


async def test_a_promote_written_before_the_head_moved_does_not_promote_the_new_head(world: World) -> None:
    number, _head = await rc_15(world)
    assert world.bot_app is not None
    await world.call(None, "POST", "/_sandbox/pause", {"down": True})
    promote = await seed.comment(world, "rita", FULL, number, "/promote")  # rita saw `head`
    await world.call(None, "POST", "/_sandbox/pause", {"down": False})
    fix = await fix_lands(world, promote)
    # The new head passes everything while rita's comment is still undelivered.
    await ci_check(world, fix, "sanity")
    await status(world, "dana", fix, "nightly")
    await say(world, "quinn", number, "/regression pass")
    await say(world, "pam", number, "/signoff")
    assert await world.bot_app[CATCHUP].redeliver_failed() == 1
    await world.settle()

    assert (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")).status == 404
    assert (await world.call("alice", "GET", f"/repos/{FULL}/releases?per_page=100")).body == []
    assert (await world.call("alice", "GET", f"/repos/{FULL}/deployments")).body == []
    reply = await reply_to(world, number, promote)
    assert fix[:7] in reply and "/promote" in reply

    made = await say(world, "rita", number, "/promote")  # control: rita promotes the head she now sees
    assert "v1.5.0" in await reply_to(world, number, made)
    assert (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")).status == 200
    assert await head_of(world, "production") == fix
