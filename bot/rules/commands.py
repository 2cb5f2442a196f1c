"""Reading slash commands out of a comment body, and whether a command still speaks of the head it is about (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.rules.markdown import Token, parse

_COMMAND = re.compile(r"^/([a-z][a-z0-9-]*)(?:[ \t]+(.*))?$")
_NEWLINE = re.compile(r"\r\n?")
# One mark per line that could hold a command, from Unicode's supplementary private use area A; a person's own
# characters from that range are replaced first, so a mark always names the line it was put on.
_MARKS = 0xF0000
_MARK_RANGE = re.compile("[\U000f0000-\U000ffffd]")
_DETAILS = re.compile(r"<(/?)details(?=[\s>/])", re.IGNORECASE)
_BREAKS = ("softbreak", "hardbreak")


@dataclass(frozen=True)
class Command:
    name: str  # without the slash, lower case: "cut-rc"
    args: tuple[str, ...]  # whitespace-split words after the name
    text: str  # everything after the name, stripped (for free-text arguments such as a summary)
    index: int  # 0-based position among the commands of this comment


def _folds(token: Token) -> int:
    """How many <details> this HTML opens, less those it closes."""
    return sum(-1 if closing else 1 for closing in _DETAILS.findall(token.content))


def command_lines(body: str) -> list[str]:
    """The lines of body that a reader sees as a plain line starting with a slash, in order.

    Markdown reads the body as GitHub does: a line counts only when it starts a line of a top-level paragraph
    that is not folded inside <details>. Code blocks of any fence or indent, HTML blocks and comments, code spans,
    quotes, list items, tables and headings hold no commands. The lines come back as the person wrote them.
    """
    lines = _NEWLINE.sub("\n", body).split("\n")
    candidates = [number for number, line in enumerate(lines) if line.startswith("/")]
    if not candidates:
        return []
    marked = [_MARK_RANGE.sub("\ufffd", line) for line in lines]
    for order, number in enumerate(candidates):
        marked[number] = chr(_MARKS + order) + marked[number][1:]
    seen: list[str] = []
    folded = 0
    tokens = parse("\n".join(marked))
    for at, token in enumerate(tokens):
        if token.type == "html_block":
            folded = max(0, folded + _folds(token))
        if token.type != "inline" or token.level != 1 or tokens[at - 1].type != "paragraph_open":
            continue
        paragraph = tokens[at - 1].map or [0, 0]
        children = token.children or []
        if not folded:
            for place, child in enumerate(children):
                if child.type != "text" or not child.content or (place and children[place - 1].type not in _BREAKS):
                    continue
                order = ord(child.content[0]) - _MARKS
                if 0 <= order < len(candidates) and paragraph[0] <= candidates[order] < paragraph[1]:
                    seen.append(lines[candidates[order]])
        folded = max(0, folded + sum(_folds(child) for child in children if child.type == "html_inline"))
    return seen


def parse_commands(body: str | None) -> tuple[Command, ...]:
    """The commands a reader sees in a comment: a slash and a name at the start of a visible line (command_lines).

    A quoted, fenced, indented or commented-out command is not one, so quoting someone's command never runs it
    again. The text after the name is taken from the line as written.
    """
    if not body:
        return ()
    commands: list[Command] = []
    for line in command_lines(body):
        match = _COMMAND.match(line.rstrip())
        if not match:
            continue
        name = match.group(1).lower()
        text = (match.group(2) or "").strip()
        commands.append(Command(name=name, args=tuple(text.split()), text=text, index=len(commands)))
    return tuple(commands)


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours that turn a into b."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def meant_command(name: str, known: Iterable[str]) -> str | None:
    """The known command a mistyped name is a short edit away from, or None when it is not close to one.

    A slip of one edit in a short name, or two in a name of six letters or more, is a typo; a path (``/tmp``,
    ``/home``) or another tool's command is further off and gets no answer.
    """
    best: tuple[int, str] | None = None
    for command in sorted(set(known)):
        if command == name:
            return None
        allowed = 1 if len(command) < 6 else 2
        distance = edit_distance(name, command)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, command)
    return best[1] if best else None


def unknown_command_reply(name: str, meant: str) -> str:
    """The answer to a mistyped command (name and meant are command names: letters, digits and dashes); it is
    addressed to the commenter as a refusal is."""
    return f"unknown command `/{name}`; did you mean `/{meant}`? `/help` lists them."


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def head_moved_after(written_at: str, head_arrived_at: str | None) -> bool:
    """Whether the head a command is about arrived after the comment was written, both on GitHub's clock.

    GitHub's times are whole seconds: a head that arrived in the same second as the comment counts as
    seen by its author. An arrival GitHub cannot tell (None) never refuses a command.
    """
    if head_arrived_at is None:
        return False
    return _instant(head_arrived_at) > _instant(written_at)
