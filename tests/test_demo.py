"""`release-train demo --verbose`: the webhook and API lines come between the story's steps.

tests/test_wheel.py plays the installed command and reads its story (tests/demo_story.py); this
plays the same release in-process with --verbose, once, and reads the same story between the raw lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.demo import counted, play
from demo_story import assert_story, is_raw


async def test_verbose_puts_the_raw_lines_between_the_story_s_steps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert await play(state_dir=tmp_path, verbose=True) == 0
    verbose = capsys.readouterr().out.splitlines()
    raw = [line for line in verbose if is_raw(line)]
    assert len(raw) > 20 and all(line.startswith("  · ") for line in raw)
    # Without the raw lines, what is left is the story the plain demo tells.
    assert_story([line for line in verbose if line not in raw])
    assert not re.search(r"\b1 (writes|calls)\b", "\n".join(raw))


def test_counted() -> None:
    assert [counted(0, "write"), counted(1, "write"), counted(2, "more line")] == [
        "0 writes",
        "1 write",
        "2 more lines",
    ]
    assert counted(1, "reply", "replies") == "1 reply" and counted(3, "reply", "replies") == "3 replies"
