"""What `release-train demo` prints, read as a story: each step says who did what.

Shared by tests/test_wheel.py, which plays the installed command, and tests/test_demo.py, which plays
it in-process with --verbose and reads the same story between the raw lines.
"""

from __future__ import annotations

import re

from bot.demo import PEOPLE

# "▶ rita (RTE) comments /cut-rc 1.5 on #3": a person (or CI), their role, then what they did.
STEP = re.compile(r"^▶ (?P<who>[a-z-]+) \((?P<role>[^)]+)\) (?P<did>[a-z]+) ")
RAW = ("webhooks → bot", "bot → GitHub")


def is_raw(line: str) -> bool:
    """A webhook or API line, which only --verbose prints."""
    return any(raw in line for raw in RAW)


def assert_story(lines: list[str]) -> None:
    """The demo's words, without the raw lines: steps naming who did what, the refusal, the outcome count."""
    steps = [line for line in lines if line.startswith("▶")]
    assert len(steps) > 25
    for line in steps:
        match = STEP.match(line)
        assert match is not None, line
        assert match["role"] == PEOPLE[match["who"]][0], line
    assert "▶ rita (RTE) comments /cut-rc 1.5 on #3" in lines
    assert "▶ dev (developer) comments /promote on #4" in lines
    assert not [line for line in lines if is_raw(line)]
    text = "\n".join(lines)
    assert "himself" not in text and not re.search(r"\b1 (writes|calls|more lines)\b", text)
    # The bot answered the developer it refused, by name.
    assert "    │ @dev, `/cut-rc` is reserved for the RTE" in text
    assert lines[-1] == "28 outcomes as expected, 0 not."
