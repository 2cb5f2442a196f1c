"""ARCHITECTURE.md stays true: every path it names exists, and the layers it draws are the imports bot/ makes."""

from __future__ import annotations

import re
from pathlib import Path

from test_layering import import_graph

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "ARCHITECTURE.md"

# A path in backquotes: under one of the project's top folders, or a file at the root.
NAMED_PATH = re.compile(r"`((?:bot|tests|benchmarks)/[^`\s]*|[A-Za-z_.-]+\.(?:md|py|toml|yml|json))`")


def named_paths(text: str) -> list[str]:
    return [path for path in NAMED_PATH.findall(text) if "<" not in path]


def test_every_path_the_map_names_exists() -> None:
    paths = named_paths(MAP.read_text())
    assert len(paths) > 30, "the paths are read"
    missing = [path for path in paths if not any(ROOT.glob(path.rstrip("/")))]
    assert missing == []


def test_the_path_reader_sees_files_folders_and_globs_and_skips_placeholders() -> None:
    text = "`bot/rules/` and `tests/test_rules_*.py`, `BENCHMARKS.md`, `bot/rules/<concern>.py`, `rc/1.5`, `/repos/...`"
    assert named_paths(text) == ["bot/rules/", "tests/test_rules_*.py", "BENCHMARKS.md"]


def test_the_layers_import_as_the_map_draws_them() -> None:
    graph = import_graph()
    lower = ("bot.rules", "bot.config", "bot.github", "bot.handlers")
    upper = ("bot.worker", "bot.server", "bot.sandbox", "bot.demo")
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith(lower)
        for target in targets
        if target.startswith(upper)
    )
    assert upward == []
    into_sandbox = sorted(
        module
        for module, targets in graph.items()
        if not module.startswith("bot.sandbox") and any(t.startswith("bot.sandbox") for t in targets)
    )
    assert into_sandbox == ["bot.__main__", "bot.demo"]


def test_the_readme_points_at_the_map() -> None:
    development = (ROOT / "README.md").read_text().split("## Development", 1)[1]
    assert "ARCHITECTURE.md" in development
