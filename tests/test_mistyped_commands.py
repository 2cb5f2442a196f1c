"""Stories through the sandbox: a mistyped command gets one answer naming the command meant; a path gets none."""

from __future__ import annotations

from typing import Any

from bot.sandbox.harness import World
from release_story import FULL, new_issue, release_repo, say
from sandbox_calls import captured, send_again
from test_hidden_commands import bot_reacted, replies_to


async def bot_comments(world: World, number: int) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if c["user"]["login"] == "release-train[bot]"]


def delivery_of(world: World, comment: dict[str, Any]) -> dict[str, Any]:
    return captured(world, "issue_comment", lambda p: (p.get("comment") or {}).get("id") == comment["id"])


async def test_a_mistyped_command_gets_one_answer_naming_the_command_meant(world: World) -> None:
    await release_repo(world)
    number = await new_issue(world)
    made = await say(world, "dana", number, "Ready to ship?\n/promte")
    [reply] = await replies_to(world, number, made)
    assert reply.splitlines()[-1] == "@dana, unknown command `/promte`; did you mean `/promote`? `/help` lists them."
    assert await bot_reacted(world, made) == ["eyes", "-1"]

    # the same comment delivered again, or edited, is not answered again
    await send_again(world, "issue_comment", delivery_of(world, made))
    edited = await world.call("dana", "PATCH", f"/repos/{FULL}/issues/comments/{made['id']}", {"body": "/prmote"})
    assert edited.status == 200, edited.body
    await world.settle()
    assert len(await bot_comments(world, number)) == 1

    # a typo next to a real command: the command runs and the typo is answered
    both = await say(world, "dana", number, "/hlep\n/help")
    replies = await replies_to(world, number, both)
    assert len(replies) == 2
    assert "did you mean `/help`?" in replies[0] and "Release Train commands" in replies[1]


async def test_paths_urls_and_other_tools_commands_get_no_answer(world: World) -> None:
    await release_repo(world)
    number = await new_issue(world)
    for body in (
        "/etc/hosts points at the old box",
        "/tmp is full",
        "/home",
        "/shrug",
        "/cc @quinn",
        "/s",
        "/lgtm",
        "/usr/local/bin/app crashed",
        "see /promte in the docs",  # not at the start of a line
        "```\n/promte\n```",  # in code
        "> /promte",  # quoted
    ):
        made = await say(world, "dana", number, body)
        assert await bot_reacted(world, made) == [], body
    assert await bot_comments(world, number) == []
