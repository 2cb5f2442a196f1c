"""Reading and rendering Markdown as GitHub does for a comment: GFM tokens, and HTML sanitised as GitHub does (pure).

markdown-it-py's ``gfm-like`` preset (tables, strikethrough, autolinks, raw HTML) with task lists, and nh3 with an
allowlist modelled on GitHub's html-pipeline sanitisation filter: what a person could not make GitHub show
(scripts, event handlers, ``javascript:`` links, forms, styles) is not shown here either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.tasklists import tasklists_plugin

__all__ = ["Token", "parse", "render"]

_TAGS = frozenset(
    {
        *(f"h{level}" for level in range(1, 7)),
        *("div", "span", "p", "br", "hr", "b", "i", "strong", "em", "a", "img", "pre", "code", "tt", "kbd", "samp"),
        *("var", "q", "blockquote", "dl", "dt", "dd", "ol", "ul", "li", "table", "thead", "tbody", "tfoot", "tr"),
        *("td", "th", "caption", "s", "strike", "del", "ins", "sub", "sup", "details", "summary", "figure"),
        *("figcaption", "abbr", "bdo", "cite", "dfn", "mark", "small", "time", "wbr", "ruby", "rt", "rp"),
        *("picture", "source", "input"),
    }
)
_EVERYWHERE = frozenset(
    {
        *("abbr", "align", "alt", "aria-describedby", "aria-hidden", "aria-label", "aria-labelledby", "axis"),
        *("border", "cellpadding", "cellspacing", "char", "charoff", "clear", "colspan", "color", "compact"),
        *("datetime", "dir", "headers", "height", "hreflang", "hspace", "lang", "nowrap", "open", "rowspan"),
        *("rules", "scope", "span", "start", "summary", "title", "valign", "value", "width", "itemprop"),
    }
)
_ATTRIBUTES = {
    "*": set(_EVERYWHERE),
    "a": {"href"},
    "img": {"src", "longdesc"},
    "source": {"srcset", "media"},
    "blockquote": {"cite"},
    "del": {"cite"},
    "ins": {"cite"},
    "q": {"cite"},
    "input": {"checked"},
    "code": {"class"},  # language-python, from a fence's info string
    "li": {"class"},  # task-list-item
    "ul": {"class"},  # contains-task-list
}
# A task list's box is the only input GitHub shows, and it never takes a click: any other input becomes one.
_FORCED = {"input": {"type": "checkbox", "disabled": "disabled"}}
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "textarea", "title", "noscript", "iframe", "object"})
_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "nofollow noopener noreferrer"


# GitHub links what starts with a scheme or "www." (and e-mail addresses), not any word with a dot ("app.py").
_WWW_TAIL = re.compile(r"(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(?:[/?#](?:[^\s<]*[^\s<.,:;!?\"')\]*_~])?)?")


def _with_scheme(_linkify: Any, match: Any) -> None:
    match.url = "http://" + match.url


@cache
def _parser() -> MarkdownIt:
    # GitHub renders a single newline inside a comment's paragraph as a line break.
    parser = MarkdownIt("gfm-like", {"breaks": True}).use(tasklists_plugin)
    linkify = parser.linkify
    assert linkify is not None  # gfm-like turns linkify on, and markdown-it-py[linkify] brings linkify-it
    linkify.set({"fuzzy_link": False})
    linkify.add("www.", {"validate": _WWW_TAIL, "normalize": _with_scheme})
    linkify.add("//", None)  # GitHub does not link a protocol-relative "//host"
    return parser


def parse(text: str) -> Sequence[Token]:
    """The block and inline tokens GitHub's grammar reads from a comment body (``token.map`` gives source lines)."""
    return _parser().parse(text)


def render(text: str) -> str:
    """A comment body as the HTML GitHub would show: rendered, then sanitised to GitHub's allowlist."""
    return nh3.clean(
        _parser().render(text),
        tags=set(_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        set_tag_attribute_values={tag: dict(attrs) for tag, attrs in _FORCED.items()},
        url_schemes=set(_SCHEMES),
        link_rel=_LINK_REL,
        strip_comments=True,
    )
