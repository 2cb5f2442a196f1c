"""Attack stories through the sandbox: a developer's Markdown links and images in a fix's title are no links in the bot's pick PR."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.rules.markdown import render
from bot.sandbox import seed
from bot.sandbox.harness import World
from pick_story import FULL, TEXT, fix_pr, pick_prs, release_repo

# A fix PR's title as a phisher writes it: a disguised link, an image, a reference link and its definition.
TITLE = "Fix login [see the fix](https://evil.example/phish) ![ok](https://evil.example/pixel.png) [docs][d] [d]: https://evil.example/d"


class Links(HTMLParser):
    """The links (href, text) and images (src) of rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.images: list[str] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", ""
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None


def shown(markdown: str) -> Links:
    """What a reader of the bot's Markdown on GitHub can click and sees loaded."""
    links = Links()
    links.feed(render(markdown))
    return links


async def test_a_developers_links_and_images_in_a_title_are_not_links_in_the_pick_pr(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/login", {"a.txt": TEXT.replace("line 3", "line three")}, title=TITLE)
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()

    # Control: QA's verified fix is picked, its pick PR names it, and the bot's own links are links.
    [pick] = await pick_prs(world)
    body = shown(pick["body"])
    assert "see the fix" in render(pick["body"]) and f"#{number}" in pick["body"]
    assert any("/commit/" in href for href, _ in body.links)

    # The attack: the title's link text, image and reference link became nothing anyone can click or load.
    assert body.images == []
    disguised = [(href, text) for href, text in body.links if "evil.example" in href and text != href]
    assert disguised == []


def test_people_text_the_bot_repeats_links_nothing_and_still_reads_as_written() -> None:
    from bot.rules.text import inline, quoted

    for repeat in (inline, quoted):
        written = repeat(TITLE + " <https://evil.example/angle> [WIP] done")
        links = shown(f"- #7 {written}" if repeat is inline else written)
        assert links.images == []
        assert [(href, text) for href, text in links.links if text != href] == []
        # Control: a reader sees the text as it was written, brackets and all.
        seen = render(written).replace("\u200d", "")
        assert "[see the fix](" in seen and "![ok](" in seen and "[WIP] done" in seen
