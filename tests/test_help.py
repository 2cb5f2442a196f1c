"""The /help table, rendered as GitHub shows it: one row per command, four cells each, usage shown whole."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.handlers import CONCERNS
from bot.handlers.commands import help_text
from bot.rules.markdown import render


class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_every_help_row_renders_with_four_cells() -> None:
    specs = [spec for concern in CONCERNS for spec in concern.commands.specs]
    table = _Table()
    table.feed(render(help_text(specs)))
    header, *rows = table.rows
    assert header == ["command", "who", "where", "what"]
    usages = list(dict.fromkeys(spec.usage for spec in specs))
    assert [len(row) for row in rows] == [4] * len(usages)
    assert [row[0] for row in rows] == usages
    assert "/regression pass | /regression fail <summary>" in usages  # a pipe inside the code of a cell
