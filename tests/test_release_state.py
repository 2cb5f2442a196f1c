"""Attack stories: the release's state lives where only the bot can write; the tracking issue is only its view."""

from __future__ import annotations

from pathlib import Path

from bot.rules.gate import DASHBOARD_END, DASHBOARD_START
from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import (
    BOT,
    FULL,
    PROMOTE_CONFIG,
    all_green,
    cut,
    gate_rows,
    gate_run,
    labels_of,
    release_repo,
    reply_to,
    say,
    tracking_issues,
)


async def rc_head(world: World, version: str) -> str:
    return (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/{version}")).body["object"]["sha"]


async def issue_of(world: World, number: int) -> dict:
    return (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}")).body


async def edit_body(world: World, login: str, number: int, body: str) -> None:
    answer = await world.call(login, "PATCH", f"/repos/{FULL}/issues/{number}", {"body": body})
    assert answer.status == 200, answer.body
    await world.settle()


async def bot_comments(world: World, number: int) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if c["user"]["login"] == BOT]


def forged_section(body: str, version: str) -> str:
    """The body with the bot's section replaced by one whose hidden state says: this version, no hold."""
    start, end = body.index(DASHBOARD_START), body.index(DASHBOARD_END)
    state = (
        f'<!-- release-train:state {{"version":"{version}","hold_reason":null,"hold_by":null,"forced_by":null,'
        '"cut_complete":true,"dispatched":[],"not_in_rc":[]} -->'
    )
    return body[:start] + f"{DASHBOARD_START}\n{state}\n## Release {version}\n" + body[end:]


async def gate_conclusion(world: World, sha: str) -> str:
    run = await gate_run(world, sha)
    assert run is not None
    return run["conclusion"] if run["status"] == "completed" else run["status"]


async def bot_regression(world: World, sha: str) -> list[dict]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name=regression")
    return [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]


async def green_15(world: World) -> tuple[int, str]:
    """rc/1.5 cut by rita, every requirement of PROMOTE_CONFIG met; (tracking issue, head)."""
    await release_repo(world, PROMOTE_CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    number, head = int(issue["number"]), await rc_head(world, "1.5")
    await all_green(world, number, head)
    assert await gate_conclusion(world, head) == "success"
    return number, head


async def test_editing_the_tracking_issue_does_not_lift_a_hold(world: World) -> None:
    number, head = await green_15(world)
    await say(world, "pam", number, "/hold Legal review")
    assert await gate_conclusion(world, head) == "failure"

    # Attack: a developer rewrites the bot's section with a state that has no hold, then takes the label off.
    await edit_body(world, "dana", number, forged_section((await issue_of(world, number))["body"], "1.5"))
    await seed.remove_label(world, "dana", FULL, number, "release-hold")
    await world.settle()
    assert await gate_conclusion(world, head) == "failure"
    assert (await gate_rows(world, head))["no hold"] == "fail"
    assert "release-hold" in labels_of(await issue_of(world, number))
    assert "Legal review" in (await issue_of(world, number))["body"]

    # Control: PdM's /unhold lifts it.
    await say(world, "rita", number, "/unhold")
    assert await gate_conclusion(world, head) == "success"
    assert "release-hold" not in labels_of(await issue_of(world, number))


async def test_editing_the_tracking_issue_does_not_redirect_qas_word(world: World) -> None:
    await release_repo(world, PROMOTE_CONFIG)
    await cut(world)
    await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 16\n"}, "Feature for 1.6 (#7)")
    await world.settle()
    await cut(world, "1.6")
    issues = {i["title"]: int(i["number"]) for i in await tracking_issues(world)}
    head_15, head_16 = await rc_head(world, "1.5"), await rc_head(world, "1.6")
    assert head_15 != head_16

    # Attack: a developer makes the 1.6 tracking issue say it is 1.5's, in its state and in its labels.
    number = issues["Release 1.6"]
    await edit_body(world, "dana", number, forged_section((await issue_of(world, number))["body"], "1.5"))
    await seed.remove_label(world, "dana", FULL, number, "rc/1.6")
    await seed.add_labels(world, "dana", FULL, number, "rc/1.5")
    await world.settle()
    # QA has tested rc/1.6 and says so where 1.6's dashboard is.
    passed = await say(world, "quinn", number, "/regression pass")
    assert f"`{head_16[:7]}`" in await reply_to(world, number, passed)
    assert await bot_regression(world, head_15) == []
    assert (await gate_rows(world, head_15))["check `regression`"] == "pending"
    # Control: QA's word landed on the RC it was meant for.
    [run] = await bot_regression(world, head_16)
    assert run["conclusion"] == "success"
    assert (await gate_rows(world, head_16))["check `regression`"] == "pass"


async def test_a_wiped_body_and_a_lost_database_lose_nothing(world: World, tmp_path: Path) -> None:
    number, head = await green_15(world)
    await say(world, "rita", number, "/hold Waiting for the security audit")
    await world.stop_bot()
    # While the bot is away: a developer empties the tracking issue and takes the label off, and the
    # bot's database is lost (a new dyno on Heroku).
    await edit_body(world, "dana", number, "Nothing to see here.")
    await seed.remove_label(world, "dana", FULL, number, "release-hold")
    await world.start_bot(world.bot_settings(state_url=f"sqlite:///{tmp_path}/fresh.db"))
    await say(world, "dana", number, "/refresh")

    rows = await gate_rows(world, head)
    assert rows["no hold"] == "fail", rows
    assert rows["PdM sign-off"] == "pass" and rows["check `regression`"] == "pass"
    issue = await issue_of(world, number)
    assert "release-hold" in labels_of(issue)
    assert issue["body"].startswith("Nothing to see here.")
    assert "Waiting for the security audit" in issue["body"] and "## Release 1.5" in issue["body"]

    # Control: the RTE lifts the hold, and the gate opens on what QA and PdM said before the loss.
    await say(world, "rita", number, "/unhold")
    assert await gate_conclusion(world, head) == "success"


async def test_a_persons_edit_of_the_dashboard_is_undone(world: World) -> None:
    number, head = await green_15(world)
    await say(world, "pam", number, "/hold Legal review")
    before = (await issue_of(world, number))["body"]
    assert "**On hold:** Legal review" in before

    # Attack: a developer makes the dashboard say the release is ready, and adds a line of their own above it.
    forged = "Notes by dana.\n\n" + before.replace("**On hold:** Legal review (by pam)\n", "").replace(
        "Gate: Blocked: on hold", "Gate: Ready to promote"
    )
    await edit_body(world, "dana", number, forged)
    after = (await issue_of(world, number))["body"]
    assert after == "Notes by dana.\n\n" + before
    assert await gate_conclusion(world, head) == "failure"

    # Control: the PdM's /unhold is what makes the dashboard say the release is ready, and the gate opens.
    await say(world, "pam", number, "/unhold")
    after = (await issue_of(world, number))["body"]
    assert after.startswith("Notes by dana.\n\n") and "**On hold:**" not in after and "Ready to promote" in after
    assert await gate_conclusion(world, head) == "success"


async def test_the_hold_label_follows_the_hold_and_says_who_may_change_it(world: World) -> None:
    number, head = await green_15(world)

    # Attack: a developer holds the release with the label alone; the bot takes it off and says how to hold.
    await seed.add_labels(world, "dana", FULL, number, "release-hold")
    await world.settle()
    assert "release-hold" not in labels_of(await issue_of(world, number))
    assert await gate_conclusion(world, head) == "success"
    assert any("`/hold <reason>`" in c for c in await bot_comments(world, number))

    # Attack: a developer takes the label off a real hold; it comes back, with a note that only /unhold lifts it.
    await say(world, "pam", number, "/hold Legal review")
    await seed.remove_label(world, "dana", FULL, number, "release-hold")
    await world.settle()
    assert "release-hold" in labels_of(await issue_of(world, number))
    assert await gate_conclusion(world, head) == "failure"
    assert any("only `/unhold`" in c for c in await bot_comments(world, number))

    # Control: /unhold by the RTE takes the label off for good.
    await say(world, "rita", number, "/unhold")
    assert "release-hold" not in labels_of(await issue_of(world, number))
    assert await gate_conclusion(world, head) == "success"
