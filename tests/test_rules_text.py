"""Table tests: people's text repeated in the bot's Markdown renders with no link, image or HTML of theirs."""

from __future__ import annotations

import pytest

from bot.rules.markdown import render
from bot.rules.release import published_notes
from bot.rules.text import inline, quoted, unlinked
from test_rules_markdown import elements

ATTACKS = [
    "[click](https://evil.example)",
    "![x](https://evil.example/p.png)",
    "[ref][1]\n\n[1]: https://evil.example",
    "[shortcut]\n\n[shortcut]: https://evil.example",
    "[def]: https://evil.example/d\n\n[def]",
    "> [def]: https://evil.example/d\n[def]",
    "<https://evil.example>",
    "https://evil.example/bare",
    "HTTPS://EVIL.EXAMPLE",
    "www.evil.example",
    "see (www.evil.example) and [x]",
    "<a href='https://evil.example'>a</a>",
    "<img src=https://evil.example/i.png>",
    "\\[x](https://evil.example)",  # a person's backslash cannot undo the bot's escape
    "`a https://evil.example b`",  # code around an address cannot pair with the bot's own
    "`a` [x](https://evil.example) `b`",
    "&#91;x&#93;(https://evil.example)",
    "mailto:qa@evil.example",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_people_s_links_render_as_text(text: str) -> None:
    for shown in (inline(text, 500), quoted(text), f"| cell | {inline(text, 500)} |\n| --- | --- |\n| x | y |"):
        made = [(tag, attrs) for tag, attrs in elements(render(shown)) if tag in ("a", "img", "script")]
        assert made == [], shown
        assert "evil.example" in render(shown).replace("EVIL.EXAMPLE", "evil.example")  # shown, not dropped


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Fix [WIP] crash", "Fix [WIP] crash"),  # no link without a definition, and people's text defines none
        ("[x](y) ![i](j) [r][1] [c][]", "[x&#93;(y) ![i&#93;(j) [r&#93;[1] [c&#93;[]"),
        ("[1]: https://evil.example", "&#91;1]: `https://evil.example`"),
        ("roles.rte[0]: not checked", "roles.rte[0]: not checked"),
        ("see https://ci.example/1 | a", "see `https://ci.example/1` \\| a"),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_unlinked(text: str, shown: str) -> None:
    assert unlinked(text) == shown


def test_what_renders_is_what_the_person_wrote() -> None:
    assert render(inline("Fix [WIP] <crash> | www.x.example")) == (
        "<p>Fix [WIP] &lt;crash&gt; | <code>www.x.example</code></p>\n"
    )


def test_published_release_notes_keep_github_s_links_and_defuse_the_titles() -> None:
    generated = (
        "## What's Changed\n"
        "* Search [click](https://evil.example) for @everyone by @dana in https://github.com/acme/app/pull/7\n"
        "\n"
        "**Full Changelog**: https://github.com/acme/app/compare/v1.4.0...v1.5.0"
    )
    published = published_notes(generated)
    links = [attrs["href"] for tag, attrs in elements(render(published)) if tag == "a"]
    assert links == ["https://github.com/acme/app/pull/7", "https://github.com/acme/app/compare/v1.4.0...v1.5.0"]
    assert "Search [click&#93;(`https://evil.example`) for @\u200deveryone by @\u200ddana in" in published
