"""`release-train demo` read as a story: each step says who did what; the webhook and API lines come with --verbose.

tests/test_wheel.py plays the installed command; these play the same release in-process and read what it prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.demo import PEOPLE, counted, play

# "▶ rita (RTE) comments /cut-rc 1.5 on #3": a person (or CI), their role, then what they did.
STEP = re.compile(r"^▶ (?P<who>[a-z-]+) \((?P<role>[^)]+)\) (?P<did>[a-z]+) ")
RAW = ("webhooks → bot", "bot → GitHub")


def same(line: str) -> str:
    """A line with what differs between two plays (commits, ports) left out."""
    return re.sub(r"\b[0-9a-f]{7,40}\b", "<sha>", re.sub(r"127\.0\.0\.1:[0-9]+", "<host>", line))


async def told(capsys: pytest.CaptureFixture[str], tmp_path: Path, **kw: bool) -> list[str]:
    assert await play(state_dir=tmp_path, **kw) == 0
    return capsys.readouterr().out.splitlines()


async def test_the_demo_tells_who_did_what_and_keeps_the_raw_lines_for_verbose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = await told(capsys, tmp_path / "story")
    steps = [line for line in lines if line.startswith("▶")]
    assert len(steps) > 25
    for line in steps:
        match = STEP.match(line)
        assert match is not None, line
        assert match["role"] == PEOPLE[match["who"]][0], line
    assert "▶ rita (RTE) comments /cut-rc 1.5 on #3" in lines
    assert "▶ dev (developer) comments /promote on #4" in lines
    assert not [line for line in lines if any(raw in line for raw in RAW)]
    text = "\n".join(lines)
    assert "himself" not in text and not re.search(r"\b1 (writes|calls|more lines)\b", text)
    # The bot answered the developer it refused, by name.
    assert "    │ @dev, `/cut-rc` is reserved for the RTE" in text
    assert lines[-1] == "28 outcomes as expected, 0 not."

    verbose = await told(capsys, tmp_path / "verbose", verbose=True)
    raw = [line for line in verbose if any(r in line for r in RAW)]
    assert len(raw) > 20 and all(line.startswith("  · ") for line in raw)
    # The same story, with the raw lines between its steps.
    assert [same(line) for line in verbose if line not in raw] == [same(line) for line in lines]
    assert not re.search(r"\b1 (writes|calls)\b", "\n".join(raw))


def test_counted() -> None:
    assert [counted(0, "write"), counted(1, "write"), counted(2, "more line")] == [
        "0 writes",
        "1 write",
        "2 more lines",
    ]
    assert counted(1, "reply", "replies") == "1 reply" and counted(3, "reply", "replies") == "3 replies"
