"""Attack stories through the sandbox: a /promote a reader does not see as a command (in code, in an HTML comment,
quoted, folded away) does nothing, while the one they see promotes."""

from __future__ import annotations

from typing import Any

from bot.sandbox.harness import World
from release_story import FULL, green_rc, say
from test_promote import deployments, peeled, releases

# Each body shows /promote to a reader as code, a note, a quote or folded text, never as a command.
HIDDEN = {
    "fence of 3 backticks": "To ship it, the RTE says:\n\n```\n/promote\n```",
    "fence of 4 backticks": "````\n/promote\n````",
    "fence of 5 backticks": "`````text\n/promote\n`````",
    "fence holding a shorter fence": "How to quote a command:\n\n````markdown\n```\n/promote\n```\n````",
    "tilde fence": "~~~\n/promote\n~~~",
    "unclosed fence": "```\n/promote",
    "indented code": "Example:\n\n    /promote\n",
    "multi-line HTML comment": "Not yet.\n<!--\n/promote\n-->",
    "HTML comment inside a paragraph": "Waiting for QA <!-- then\n/promote\n--> before we ship.",
    "code span across lines": "Type `/cut-rc, then\n/promote now` once green.",
    "block quote": "> QA and PdM are done.\n> /promote\n\nrita said that yesterday.",
    "details block": "<details>\n<summary>Runbook</summary>\n/promote\n</details>",
    "details with a Markdown paragraph": "<details>\n<summary>Runbook</summary>\n\n/promote\n\n</details>",
    "list item": "Steps:\n- /promote",
}


async def bot_reacted(world: World, comment: dict[str, Any]) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/comments/{comment['id']}/reactions")
    return [r["content"] for r in answer.body if r["user"]["login"] == "release-train[bot]"]


async def replies_to(world: World, number: int, comment: dict[str, Any]) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if f"<!-- release-train:reply:{comment['id']}:" in c["body"]]


async def test_a_promote_no_reader_sees_as_a_command_does_nothing(world: World) -> None:
    number, _head = await green_rc(world)
    acted: dict[str, list[str]] = {}
    for form, body in HIDDEN.items():
        for author in ("dana", "rita"):  # a developer, and the RTE who could promote
            made = await say(world, author, number, body)
            seen = [f"reply: {text[:60]!r}" for text in await replies_to(world, number, made)]
            seen += [f"reaction {content}" for content in await bot_reacted(world, made)]
            if seen:
                acted[f"{form} by {author}"] = seen
    assert acted == {}, "\n".join(f"{key}: {seen}" for key, seen in acted.items())
    assert await peeled(world, "v1.5.0") is None
    assert await releases(world) == [] and await deployments(world) == []


async def test_control_the_rte_s_visible_promote_tags_the_rc_head(world: World) -> None:
    number, head = await green_rc(world)
    made = await say(world, "rita", number, "QA and PdM are done.\n/promote")
    assert await bot_reacted(world, made) == ["eyes", "+1"]
    [reply] = await replies_to(world, number, made)
    assert "as `v1.5.0`" in reply
    assert await peeled(world, "v1.5.0") == ("tag", head)
    assert [r["tag_name"] for r in await releases(world)] == ["v1.5.0"]
    assert [d["sha"] for d in await deployments(world)] == [head]
