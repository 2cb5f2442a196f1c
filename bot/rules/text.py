"""Making people's text safe to repeat in the bot's comments (pure)."""

from __future__ import annotations

import re

_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_ZWJ = "\u200d"
# A sentence's first word that reads the same in lower case inside a sentence ("The", "Usage"; not "I", "GitHub").
_PLAIN_CAPITAL = re.compile(r"[A-Z][a-z]+\b")


def no_pings(text: str) -> str:
    """Text with every @mention defused, so repeating it notifies no one."""
    return _MENTION.sub("@" + _ZWJ, text)


def addressed(login: str, message: str) -> str:
    """A reply that answers a person, led by their mention so that GitHub notifies them.

    The pings rule: the bot mentions the person it answers (the commenter whose command it refused, the
    person whose label it removed) and the hand-off teams, and nobody else; every other name it writes is
    defused. This is the one place that writes a person's mention.
    """
    if _PLAIN_CAPITAL.match(message):
        message = message[0].lower() + message[1:]
    return f"@{login}, {message}"


# What GitHub (and markdown-it's linkify) would make a link of without brackets: a scheme, or "www.".
_BARE_LINK = re.compile(
    r"""((?:https?|ftp)://[^\s<>|\[\]`()"']*|mailto:[^\s<>|\[\]`()"']*|www\.[^\s<>|\[\]`()"']*)""",
    re.IGNORECASE,
)


# "](" and "][" close a link's or image's text; "[label]:" at the start of a line defines a reference.
_LINK_CLOSE = re.compile(r"\](?=[(\[])")
_DEFINITION = re.compile(r"^([\s>]*)\[(?=[^\]]*\]:)")


def unlinked(text: str, *, pipes: bool = True) -> str:
    """People's text with nothing in it that Markdown would make a link, an image or HTML of.

    A ``]`` that closes a link (``[x](y)``, ``![x](y)``, ``[x][ref]``) and the ``[`` of a reference definition
    become entities, angle brackets too (no ``<http://x>`` or tag survives), a bare address is shown as code
    (no autolink), and with pipes a ``|`` cannot end a table cell. So that the code around an address cannot
    pair with a person's backticks, their backticks then become quotes.
    """
    if _BARE_LINK.search(text):
        text = text.replace("`", "'")
    shown = []
    for place, piece in enumerate(_BARE_LINK.split(text)):
        if place % 2:
            shown.append(f"`{piece}`")
            continue
        piece = _LINK_CLOSE.sub("&#93;", piece.replace("<", "&lt;").replace(">", "&gt;"))
        if place == 0:
            piece = _DEFINITION.sub(r"\1&#91;", piece)
        shown.append(piece.replace("|", "\\|") if pipes else piece)
    return "".join(shown)


def inline(text: str, limit: int = 200) -> str:
    """One line of people's text, safe inside a Markdown table cell or a sentence: no pings, no links (unlinked)."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    if flat.count("`") % 2:
        # An unpaired backtick (often from the cut above) would pull the bot's own text after it into code.
        flat = flat.replace("`", "'")
    return no_pings(unlinked(flat))


def cell(text: str) -> str:
    """The bot's own text inside a Markdown table cell: GFM ends a cell at a pipe, even inside a code span."""
    return text.replace("|", "\\|")


def plain_line(text: str, limit: int = 200) -> str:
    """One line of people's text for a place GitHub shows as plain text (an issue or check-run title):
    mentions defused, nothing escaped for Markdown, since there it would show as backslashes and entities."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return no_pings(flat)


def quoted(text: str, limit: int = 4000) -> str:
    """People's text as a Markdown block quote: mentions and links defused (unlinked), and its HTML shown rather than hidden, so no
    look-alike of the bot's markers ends up inside the bot's own text; cut to limit, so the bot's body stays
    within GitHub's 65536 characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    shown = "\n".join(unlinked(line, pipes=False) for line in no_pings(text).splitlines())
    return "\n".join("> " + line for line in shown.splitlines() or [""])


def marker(key: str) -> str:
    """A hidden marker that lets the bot find its own comment again (key: "cherry-pick:12:rc/1.5")."""
    # ">" could end the HTML comment early ("-->", "--!>"); keys carry versions, numbers and config values.
    return f"<!-- release-train:{key.replace('>', '&gt;')} -->"
