"""docs/security-stories.md names, for every attack of the chain of custody, stories that exist: an attack and its control."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "security-stories.md"
STORY = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")
ITEMS = {f"1.{n}" for n in range(1, 14)} | {"3", "4"}


def rows() -> list[tuple[str, list[str], list[str]]]:
    """(item, attack stories, control stories) of each row of the map's tables."""
    found = []
    for line in MAP.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and re.fullmatch(r"\d+(\.\d+)?", cells[0]):
            attacks = ["::".join(m) for m in STORY.findall(cells[2])]
            controls = ["::".join(m) for m in STORY.findall(cells[3])]
            found.append((cells[0], attacks, controls))
    return found


@cache
def stories_in(file: str) -> frozenset[str]:
    path = ROOT / "tests" / file
    if not path.is_file():
        return frozenset()
    tree = ast.parse(path.read_text())
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return frozenset(n.name for n in tree.body if isinstance(n, functions) and n.name.startswith("test_"))


def named() -> list[str]:
    """Every story the map names, in its order, once."""
    return list(dict.fromkeys("::".join(m) for m in STORY.findall(MAP.read_text())))


def test_every_story_the_map_names_exists() -> None:
    missing = [story for story in named() if story.split("::")[1] not in stories_in(story.split("::")[0])]
    assert missing == []


def test_every_attack_has_a_story_and_a_control() -> None:
    table = rows()
    assert len(table) >= 50
    assert [item for item, attacks, controls in table if not attacks or not controls] == []


def test_every_item_of_sections_1_3_and_4_has_an_attack() -> None:
    assert {item for item, _, _ in rows()} == ITEMS


if __name__ == "__main__":
    # The node ids of the attack and control stories, for `pytest $(python tests/test_security_stories.py)`.
    stories = dict.fromkeys(story for _, attacks, controls in rows() for story in attacks + controls)
    sys.stdout.write("\n".join(f"tests/{story}" for story in stories) + "\n")
