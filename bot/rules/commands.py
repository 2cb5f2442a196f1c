"""Reading slash commands out of a comment body, and whether a command still speaks of the head it is about (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_COMMAND = re.compile(r"^/([a-z][a-z0-9-]*)(?:[ \t]+(.*))?$")
_FENCE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class Command:
    name: str  # without the slash, lower case: "cut-rc"
    args: tuple[str, ...]  # whitespace-split words after the name
    text: str  # everything after the name, stripped (for free-text arguments such as a summary)
    index: int  # 0-based position among the commands of this comment


def parse_commands(body: str | None) -> tuple[Command, ...]:
    """Commands at the start of a line, outside quotes and fenced code blocks.

    Indented lines (Markdown code), quoted lines (`> /promote`) and anything inside ``` or ~~~
    fences are ignored, so quoting someone's command never runs it again.
    """
    if not body:
        return ()
    commands: list[Command] = []
    fence: str | None = None
    for raw_line in body.replace("\r\n", "\n").split("\n"):
        stripped = raw_line.strip()
        fence_match = _FENCE.match(stripped)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker == fence:
                fence = None
            continue
        if fence is not None:
            continue
        if raw_line[:1] in (" ", "\t") or not raw_line.startswith("/"):
            continue
        line = raw_line.rstrip()
        match = _COMMAND.match(line)
        if not match:
            continue
        name = match.group(1).lower()
        text = (match.group(2) or "").strip()
        commands.append(Command(name=name, args=tuple(text.split()), text=text, index=len(commands)))
    return tuple(commands)


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
