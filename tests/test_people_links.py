"""Stories through the sandbox: links, images and HTML in people's text never become links in the bot's words."""

from __future__ import annotations

from bot.rules.markdown import render
from bot.sandbox import seed
from bot.sandbox.harness import World
from people_text_checks import bot_texts, people_wrote
from release_story import FULL, cut, release_repo, reply_to, say, tracking_issues
from test_rules_markdown import elements

EVIL = (
    "[click](https://evil.example/a) ![x](https://evil.example/p.png) <a href='https://evil.example/h'>h</a> "
    "<img src=https://evil.example/i.png> <https://evil.example/auto> https://evil.example/bare "
    "www.evil.example/www [ref][1] `code https://evil.example/code` [1]: https://evil.example/ref"
)


def targets(markdown: str) -> list[str]:
    """Where the rendered text links to or loads from."""
    return [
        str(attrs.get("href") or attrs.get("src"))
        for tag, attrs in elements(render(markdown))
        if tag in ("a", "img") and (attrs.get("href") or attrs.get("src"))
    ]


async def test_people_s_links_do_not_render_as_links_in_the_bot_s_words(world: World) -> None:
    await release_repo(world)
    await seed.create_branch(world, "dana", FULL, "feat/late", "devel")
    await seed.commit(world, "dana", FULL, "feat/late", {"late.txt": "late\n"}, "Late")
    late = await seed.open_pr(world, "dana", FULL, head="feat/late", base="devel", title="Late " + EVIL)
    await seed.add_labels(world, "dana", FULL, late["number"], "rc/1.5")
    where, cut_comment = await cut(world)
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    bug = await world.call(
        "dana", "POST", f"/repos/{FULL}/issues", {"title": "Crash " + EVIL, "labels": ["release-blocker", "rc/1.5"]}
    )
    assert bug.status == 201, bug.body
    await world.settle()
    failed = await say(world, "quinn", number, "/regression fail " + EVIL)
    held = await say(world, "rita", number, "/hold " + EVIL)
    written = people_wrote(world)
    await world.settle()

    # Markdown places only: GitHub shows issue and check-run titles as plain text.
    texts = [(place, text) for place, text in bot_texts(world, written) if not place.endswith(" title")]
    evil = {place: [t for t in targets(text) if "evil.example" in t] for place, text in texts}
    stray = {place: found for place, found in evil.items() if found}
    assert stray == {}, "\n".join(f"{place}: {found}" for place, found in stray.items())
    # the check saw people's text where the bot repeated it
    assert sum("evil.example" in text for _, text in texts) >= 5

    # control: the bot's own links still render, to the blocker, the PR and the regression bug it opened
    body = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}")).body["body"]
    linked = targets(body)
    assert any(t.endswith(f"/{FULL}/issues/{bug.body['number']}") for t in linked), linked
    cut_reply = await reply_to(world, where, cut_comment)
    assert f"#{late['number']}" in cut_reply
    assert "evil.example" in await reply_to(world, number, held)  # the hold's reason is repeated, as text and code
    assert "opened blocker bug" in await reply_to(world, number, failed)
