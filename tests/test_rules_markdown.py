"""Table tests for Markdown as GitHub reads and shows a comment: GFM tokens, and HTML sanitised to GitHub's allowlist."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bot.rules.markdown import parse, render


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        # GFM tables, with an escaped pipe kept inside its cell
        (
            "| a | b |\n|---|---|\n| 1 \\| x | 2 |",
            "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1 | x</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n",
        ),
        # details and summary are kept, and the Markdown inside them is read
        (
            "<details><summary>Log</summary>\n\nit **failed**\n</details>",
            "<details><summary>Log</summary>\n<p>it <strong>failed</strong></p>\n</details>",
        ),
        # code keeps its language class and shows its HTML as text
        ("```python\n<b>x</b>\n```", '<pre><code class="language-python">&lt;b&gt;x&lt;/b&gt;\n</code></pre>\n'),
        ("`<i>x</i>`", "<p><code>&lt;i&gt;x&lt;/i&gt;</code></p>\n"),
        # strikethrough; a single newline is a line break, as in a GitHub comment
        ("~~gone~~\nnext", "<p><s>gone</s><br>\nnext</p>\n"),
        # links get rel, bare URLs become links as GitHub's autolinker makes them
        (
            "[docs](https://example.com/d) and https://example.com/x",
            '<p><a href="https://example.com/d" rel="nofollow noopener noreferrer">docs</a> and '
            '<a href="https://example.com/x" rel="nofollow noopener noreferrer">https://example.com/x</a></p>\n',
        ),
        # an HTML comment is not shown
        ("seen\n\n<!-- not seen -->", "<p>seen</p>\n"),
    ],
)
def test_a_comment_renders_as_github_shows_it(body: str, shown: str) -> None:
    assert render(body) == shown


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("<script>alert(1)</script>ok", "ok"),
        ("<style>body{display:none}</style>ok", "ok"),
        ("<iframe src=https://evil.example></iframe>ok", "ok"),
        ('<a href="javascript:alert(1)">x</a>', '<p><a rel="nofollow noopener noreferrer">x</a></p>\n'),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),  # markdown-it refuses the link itself
        ('<img src="https://example.com/p.png" onerror="alert(1)">', '<img src="https://example.com/p.png">'),
        ('<b onclick="alert(1)" style="color:red" class="x" id="y">b</b>', "<p><b>b</b></p>\n"),
        ('<form action="https://evil.example"><button>go</button></form>', "go"),
        (
            '<a href="https://example.com" rel="opener" target="_blank">x</a>',
            '<p><a href="https://example.com" rel="nofollow noopener noreferrer">x</a></p>\n',
        ),
    ],
)
def test_what_github_would_not_show_is_stripped(body: str, shown: str) -> None:
    rendered = render(body)
    assert rendered.strip() == shown.strip()
    for unsafe in ("<script", "onerror", "onclick", 'href="javascript:', "<style", "<iframe", "<form", "style="):
        assert unsafe not in rendered


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Start tags with their attributes (nh3 does not keep an order of attributes)."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


def test_a_task_list_shows_boxes_that_take_no_click() -> None:
    rendered = render("- [x] done\n- [ ] todo")
    boxes = [attrs for tag, attrs in elements(rendered) if tag == "input"]
    assert boxes == [
        {"checked": "checked", "type": "checkbox", "disabled": "disabled"},
        {"type": "checkbox", "disabled": "disabled"},
    ]
    assert [attrs for tag, attrs in elements(rendered) if tag == "li"] == [{"class": "task-list-item"}] * 2
    assert "> done</li>" in rendered and "> todo</li>" in rendered


def test_any_other_input_becomes_a_box_that_takes_no_click() -> None:
    assert elements(render('<input type="text" value="v" name="q" onfocus="x()">')) == [
        ("input", {"value": "v", "type": "checkbox", "disabled": "disabled"})
    ]


def test_parse_gives_the_source_lines_of_each_block() -> None:
    tokens = parse("hello\n\n```\n/promote\n```\n\n> quoted\n")
    blocks = [(token.type, token.map) for token in tokens if token.nesting >= 0 and token.level == 0]
    assert blocks == [
        ("paragraph_open", [0, 1]),
        ("fence", [2, 5]),
        ("blockquote_open", [6, 7]),
    ]


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("see https://example.com/x.", ["https://example.com/x"]),
        ("see www.example.com/a?b=1.", ["http://www.example.com/a?b=1"]),
        ("(www.example.com)", ["http://www.example.com"]),
        ("mail qa@example.com", ["mailto:qa@example.com"]),
        ("<https://example.com>", ["https://example.com"]),
        ("fix app.py and example.com", []),  # GitHub links a scheme or www., not any word with a dot
    ],
)
def test_bare_links_are_made_as_github_makes_them(body: str, links: list[str]) -> None:
    assert [attrs["href"] for tag, attrs in elements(render(body)) if tag == "a"] == links
