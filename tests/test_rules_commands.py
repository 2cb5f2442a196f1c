"""Table tests for the pure command rules: does a command still speak of the head it is about."""

from __future__ import annotations

import pytest

from bot.rules.commands import edit_distance, head_moved_after, meant_command, parse_commands, unknown_command_reply


@pytest.mark.parametrize(
    ("written_at", "arrived_at", "moved"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T09:59:59Z", False),  # the head was there when the comment was written
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", False),  # the same second counts as seen
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z", True),
        ("2024-05-01T10:00:00Z", "2024-05-02T00:00:00Z", True),
        ("2024-05-01T10:00:00Z", "2024-05-01T11:59:59+02:00", False),  # offsets are read, not compared as text
        ("2024-05-01T10:00:00Z", None, False),  # GitHub cannot tell: the dedupe by comment still holds
    ],
)
def test_a_head_that_arrived_after_the_comment_was_written_moved(
    written_at: str, arrived_at: str | None, moved: bool
) -> None:
    assert head_moved_after(written_at, arrived_at) is moved


READ = [
    # (body, the commands a reader sees: (name, text))
    ("/promote", [("promote", "")]),
    ("QA and PdM are done.\n/promote", [("promote", "")]),
    (
        "/hold  waiting on @alice | a | <!-- x --> `y` ünï 🚀  ",
        [("hold", "waiting on @alice | a | <!-- x --> `y` ünï 🚀")],
    ),
    ("/promote\r\n/signoff looks good\r\n", [("promote", ""), ("signoff", "looks good")]),
    ("/Promote", []),  # names are lower case
    ("done  \n/promote", [("promote", "")]),  # after a hard break
    ("**done**\n/promote *now*", [("promote", "*now*")]),
    ("<span>x</span>\n/promote", [("promote", "")]),
    ("<!-- one line -->\n\n/promote", [("promote", "")]),
    ("<details><summary>log</summary>\n\nok\n\n</details>\n\n/promote", [("promote", "")]),
    ("```\n/x\n```\n/promote", [("promote", "")]),  # a fence closes, and what follows is read
    # hidden: code of every kind
    ("```\n/promote\n```", []),
    ("````\n/promote\n````", []),
    ("`````text\n/promote\n`````", []),
    ("````\n```\n/promote\n```\n````", []),  # a fence holding a shorter fence
    ("~~~\n/promote\n~~~", []),
    ("~~~~\n~~~\n/promote\n~~~~", []),
    ("```\n/promote", []),  # an unclosed fence runs to the end
    ("   ```\n/promote\n   ```", []),
    ("Example:\n\n    /promote", []),  # indented code
    ("\t/promote", []),
    ("Type `/cut-rc, then\n/promote now` once green.", []),  # a code span across lines
    # hidden: HTML comments and folded text
    ("Not yet.\n<!--\n/promote\n-->", []),
    ("<!--\n/promote\n-->", []),
    ("Waiting <!-- then\n/promote\n--> before we ship.", []),
    ("<details>\n<summary>Runbook</summary>\n/promote\n</details>", []),
    ("<details>\n<summary>Runbook</summary>\n\n/promote\n\n</details>", []),
    ("<DETAILS open>\n\n/promote\n\n</DETAILS>", []),
    ("<pre>\n/promote\n</pre>", []),
    # hidden: quotes, lists, tables, headings
    ("> /promote", []),
    ("> QA is done.\n/promote", []),  # a lazy continuation of the quote
    ("- /promote", []),
    ("1. /promote", []),
    ("| a |\n| - |\n| /promote |", []),
    ("/promote\n---", []),  # a heading, not a line
    ("# /promote", []),
    # not commands at all
    ("/etc/hosts is wrong", []),
    ("see /promote", []),
    ("\\/promote", []),
    ("", []),
    # a person's own private-use characters cannot pose as a visible line
    ("\U000f0000promote\n```\n/promote\n```", []),
]


@pytest.mark.parametrize(("body", "seen"), READ)
def test_commands_are_read_as_github_renders_the_comment(body: str, seen: list[tuple[str, str]]) -> None:
    assert [(command.name, command.text) for command in parse_commands(body)] == seen


def test_the_commands_are_numbered_in_order_and_split_into_words() -> None:
    commands = parse_commands("/regression  fail  checkout is slow\n\n> /promote\n\n/signoff")
    assert [(c.index, c.name, c.args) for c in commands] == [
        (0, "regression", ("fail", "checkout", "is", "slow")),
        (1, "signoff", ()),
    ]


KNOWN = ("cut-rc", "adopt-rc", "regression", "signoff", "hold", "unhold", "refresh", "promote", "cherry-pick", "help")


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("promte", "promote"),  # a letter left out
        ("prmote", "promote"),
        ("promtoe", "promote"),  # two letters swapped count once
        ("hlep", "help"),
        ("hel", "help"),
        ("cutrc", "cut-rc"),
        ("signof", "signoff"),
        ("regresion", "regression"),
        ("cherrypick", "cherry-pick"),
        ("refesh", "refresh"),
        ("unhol", "unhold"),
        ("holds", "hold"),
        ("promote", None),  # known: not a typo
        ("help", None),
        ("tmp", None),
        ("home", None),  # two edits from hold: too far for a short name
        ("etc", None),
        ("usr", None),
        ("lgtm", None),
        ("shrug", None),
        ("cc", None),
        ("s", None),
        ("cut", None),
        ("retest", None),
        ("approve", None),
        ("promote-all", None),
    ],
)
def test_a_mistyped_name_is_a_short_edit_from_the_command_meant(name: str, meant: str | None) -> None:
    assert meant_command(name, KNOWN) == meant


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "acb", 1), ("abc", "", 3), ("kitten", "sitting", 3), ("ca", "abc", 3)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_the_answer_to_a_typo() -> None:
    assert (
        unknown_command_reply("promte", "promote")
        == "unknown command `/promte`; did you mean `/promote`? `/help` lists them."
    )
