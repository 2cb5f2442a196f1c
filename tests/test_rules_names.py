"""Tables for the one name grammar: versions, RC branches, tags, target and RC labels, pick branches, with odd inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import RepoConfig, parse_config
from bot.rules import names

DEFAULT = RepoConfig().names


@dataclass(frozen=True)
class Label:
    name: str


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5", (1, 5)),
        ("0.9", (0, 9)),
        ("10.0", (10, 0)),
        ("0.0", (0, 0)),
        ("999999999.999999999", (999999999, 999999999)),
        ("1000000000.1", None),  # ten digits: no version
        ("1." + "9" * 5000, None),  # never handed to int()
        ("01.5", None),
        ("1.05", None),
        ("00.1", None),
        ("1.5.0", None),
        ("1", None),
        ("v1.5", None),
        (" 1.5", None),
        ("1.5 ", None),
        ("1.5\n", None),
        ("1 .5", None),
        ("", None),
        (".", None),
        ("1.", None),
        (".5", None),
        ("1,5", None),
        ("+1.5", None),
        ("-1.5", None),
        ("1_0.5", None),
        ("\u0661.\u0665", None),  # Arabic-Indic digits, which int() would read as 1 and 5
        ("\uff11.\uff15", None),  # full-width digits
        ("\u00b9.5", None),  # a superscript one
        ("1\u20285", None),  # a line separator in place of the dot
    ],
)
def test_versions(text: str, expected: tuple[int, int] | None) -> None:
    assert names.parse_version(text) == expected
    assert names.is_version(text) is (expected is not None)
    if expected is not None:
        assert names.version_text(*expected) == text


def test_versions_sort_by_number_and_what_is_none_sorts_first() -> None:
    assert sorted(["1.10", "1.9", "2.0", "0.1", "nonsense", "01.5"], key=names.version_key) == [
        "nonsense",
        "01.5",
        "0.1",
        "1.9",
        "1.10",
        "2.0",
    ]
    assert names.sorted_versions(["1.10", "1.9", "1.9", "01.9", "x"]) == ("1.9", "1.10")


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ((), "1.0"),
        (("1.4", "1.5"), "1.6"),
        (("1.4", "1.9"), "1.10"),
        (("1.10", "1.9"), "1.11"),
        (("2.0", "nonsense", "1.3"), "2.1"),
        (("01.5", "nonsense"), "1.0"),
        (("1.999999999",), "2.0"),
        (("999999999.999999999",), None),
    ],
)
def test_next_version(versions: tuple[str, ...], expected: str | None) -> None:
    assert names.next_version(versions) == expected


@pytest.mark.parametrize(
    ("words", "template", "versions", "rejected"),
    [
        (("1.5",), "rc/{version}", ("1.5",), ()),
        (("1.5", "1.4,", "v1.3", "rc/1.2"), "rc/{version}", ("1.2", "1.3", "1.4", "1.5"), ()),
        (("1.5", "latest", "1"), "rc/{version}", ("1.5",), ("latest", "1")),
        (
            ("01.5", "v01.5", "rc/01.5", "1.5.0", "V1.5"),
            "rc/{version}",
            (),
            ("01.5", "v01.5", "rc/01.5", "1.5.0", "V1.5"),
        ),
        (("release/2.0", "rc/2.0"), "release/{version}", ("2.0",), ("rc/2.0",)),
        ((",", "1.5,", "1.5"), "rc/{version}", ("1.5",), ()),
        (("\u0661.\u0665",), "rc/{version}", (), ("\u0661.\u0665",)),
        ((), "rc/{version}", (), ()),
    ],
)
def test_command_versions(
    words: tuple[str, ...], template: str, versions: tuple[str, ...], rejected: tuple[str, ...]
) -> None:
    assert names.command_versions(words, template) == (versions, rejected)


@pytest.mark.parametrize(
    ("template", "branch", "version"),
    [
        ("rc/{version}", "rc/1.5", "1.5"),
        ("rc/{version}", "refs/heads/rc/1.5", "1.5"),
        ("rc/{version}", "rc/10.22", "10.22"),
        ("rc/{version}", "rc/01.5", None),
        ("rc/{version}", "rc/1.5.1", None),
        ("rc/{version}", "rc/1", None),
        ("rc/{version}", "rc/", None),
        ("rc/{version}", "rc/next", None),
        ("rc/{version}", "RC/1.5", None),  # git compares branch names exactly
        ("rc/{version}", "xrc/1.5", None),
        ("rc/{version}", "rc/1.5-hotfix", None),
        ("rc/{version}", "rc/1.5\n", None),
        ("rc/{version}", "rc/\u0661.\u0665", None),
        ("rc/{version}", "refs/tags/rc/1.5", None),
        ("rc+{version}.x", "rc+1.5.x", "1.5"),
        ("rc+{version}.x", "rcc1.5.x", None),
        ("rc/(.*){version}", "rc/(.*)1.5", "1.5"),  # regex characters in a template are literal
        ("rc/(.*){version}", "rc/anything1.5", None),
        ("release/v{version}/final", "release/v2.10/final", "2.10"),
        ("{version}", "1.5", "1.5"),
        ("{version}", "devel", None),
        ("rc/{version}-{version}", "rc/1.5-1.5", "1.5"),  # a placeholder used twice reads the same both times
        ("rc/{version}-{version}", "rc/1.5-1.6", None),
        ("rc/{version}#$(id);`w`'q'&%41ü", "rc/1.4#$(id);`w`'q'&%41ü", "1.4"),
    ],
)
def test_rc_branches(template: str, branch: str, version: str | None) -> None:
    assert names.rc_version_of(template, branch) == version
    if version is not None:
        assert names.rc_branch(template, version) == branch.removeprefix("refs/heads/")


@pytest.mark.parametrize(
    ("template", "tag", "expected"),
    [
        ("v{version}.{patch}", "v1.5.0", ("1.5", 0)),
        ("v{version}.{patch}", "v1.5.12", ("1.5", 12)),
        ("v{version}.{patch}", "v1.5.999999999", ("1.5", 999999999)),
        ("v{version}.{patch}", "v1.5.1234567890", None),
        ("v{version}.{patch}", "v1.5.01", None),
        ("v{version}.{patch}", "v01.5.0", None),
        ("v{version}.{patch}", "1.5.0", None),
        ("v{version}.{patch}", "v1.5", None),
        ("v{version}.{patch}", "V1.5.0", None),
        ("v{version}.{patch}", "v1.5.0-rc1", None),
        ("v{version}.{patch}", "v\u0661.\u0665.0", None),
        ("release-{version}-p{patch}", "release-2.0-p3", ("2.0", 3)),
        ("v{version}", "v1.5", ("1.5", 0)),
        ("{patch}.{version}", "3.10.12", ("10.12", 3)),
    ],
)
def test_tags(template: str, tag: str, expected: tuple[str, int] | None) -> None:
    assert names.parse_tag(template, tag) == expected
    if expected is not None and "{patch}" in template:
        assert names.tag_name(template, *expected) == tag


@pytest.mark.parametrize(
    ("template", "ambiguous"),
    [
        ("v{version}.{patch}", False),
        ("release-{version}-p{patch}", False),
        ("{patch}.{version}", False),
        ("v{version}{patch}", True),  # v1.512: 1.5 patch 12, or 1.51 patch 2?
        ("{patch}{version}", True),
    ],
)
def test_tag_templates_that_cannot_be_read_back(template: str, ambiguous: bool) -> None:
    assert (names.tag_template_problem(template) is not None) is ambiguous


def test_the_config_refuses_an_ambiguous_tag_template() -> None:
    result = parse_config("release:\n  tag: 'v{version}{patch}'\n")
    assert [(e.line, e.key) for e in result.errors] == [(2, "release.tag")]
    assert "v1.512" in result.errors[0].message
    assert parse_config("release:\n  tag: 'release-{version}-p{patch}'\n").ok


@pytest.mark.parametrize(
    ("label", "version", "names_no_target"),
    [
        ("cherry-pick/1.5", "1.5", False),
        ("Cherry-Pick/1.5", "1.5", False),  # GitHub compares label names without regard to case
        ("CHERRY-PICK/12.0", "12.0", False),
        ("cherry-pick/01.5", None, True),
        ("cherry-pick/1.05", None, True),
        ("cherry-pick/1.5.2", None, True),
        ("cherry-pick/v1.5", None, True),
        ("cherry-pick/ 1.5", None, True),
        ("cherry-pick/1.5 ", None, True),
        ("cherry-pick/1.5/x", None, True),
        ("cherry-pick/\u0661.\u0665", None, True),
        ("cherry-pick/next", None, True),
        ("cherry-pick/", None, True),
        ("cherry-pick", None, False),  # the label on the bot's pick PRs, not under the prefix
        ("cherry-pick-conflict", None, False),
        ("rc/1.5", None, False),
        ("", None, False),
    ],
)
def test_target_labels(label: str, version: str | None, names_no_target: bool) -> None:
    assert DEFAULT.target_version_of(label) == version
    assert DEFAULT.names_no_target(label) is names_no_target
    assert DEFAULT.targets_of([label]) == ((version,) if version else ())
    assert names.target_version_of("", label) is None  # no prefix, no targets


def test_targets_are_each_version_once_in_order() -> None:
    labels = ["cherry-pick/1.10", "cherry-pick/1.5", "Cherry-Pick/1.5", "bug", "cherry-pick/01.5", "cherry-pick/1"]
    assert DEFAULT.targets_of(labels) == ("1.5", "1.10")
    assert DEFAULT.target_label("1.5") == "cherry-pick/1.5"


@pytest.mark.parametrize(
    ("label", "version"),
    [("rc/1.5", "1.5"), ("RC/1.5", "1.5"), ("rc/01.5", None), ("rc/next", None), ("rc/", None), ("xrc/1.5", None)],
)
def test_rc_labels(label: str, version: str | None) -> None:
    assert DEFAULT.rc_version_of_label(label) == version
    assert DEFAULT.rc_label("1.5") == "rc/1.5"


@pytest.mark.parametrize(
    ("number", "rc", "branch"),
    [
        (42, "rc/1.5", "cherry-pick/42-to-rc-1.5"),
        (7, "release/v2/1.0", "cherry-pick/7-to-release-v2-1.0"),
        (2147483647, "rc/1.5", "cherry-pick/2147483647-to-rc-1.5"),
    ],
)
def test_pick_branches(number: int, rc: str, branch: str) -> None:
    assert names.pick_branch(number, rc) == branch
    assert names.pick_source(branch) == number


@pytest.mark.parametrize(
    "branch",
    [
        "cherry-pick/042-to-rc-1.5",
        "cherry-pick/0-to-rc-1.5",
        "cherry-pick/\u0664\u0662-to-rc-1.5",  # Arabic-Indic digits: int() would read 42
        "cherry-pick/42-to-",
        "cherry-pick/42",
        "Cherry-Pick/42-to-rc-1.5",
        "xcherry-pick/42-to-rc-1.5",
        "cherry-pick/-42-to-rc-1.5",
        "fix/42-to-rc-1.5",
    ],
)
def test_branches_that_are_no_pick_branch(branch: str) -> None:
    assert names.pick_source(branch) is None


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"labels": [{"name": "bug"}, {"name": "Cherry-Pick/1.5"}]}, ("bug", "Cherry-Pick/1.5")),
        ({"labels": None}, ()),
        ({}, ()),
        ([{"name": "a"}, "b"], ("a", "b")),
        ([{"name": None}, {"id": 1}, ""], ()),
        ((Label("bug"), Label("rc/1.5")), ("bug", "rc/1.5")),  # typed records with a name
        (None, ()),
    ],
)
def test_label_names(item: Any, expected: tuple[str, ...]) -> None:
    assert names.label_names(item) == expected


def test_a_configured_repository_reads_its_own_names() -> None:
    config = parse_config(
        "branches:\n  release_candidate: 'release/{version}'\n"
        "labels:\n  cherry_pick_prefix: 'pick/'\n  rc_prefix: 'for/'\n"
        "release:\n  tag: 'release-{version}-{patch}'\n"
    ).config
    assert config is not None
    grammar = config.names
    assert grammar.rc_branch("2.10") == "release/2.10" and grammar.rc_version_of("release/2.10") == "2.10"
    assert grammar.rc_version_of("rc/2.10") is None
    assert grammar.target_version_of("pick/2.10") == "2.10" and grammar.target_version_of("cherry-pick/2.10") is None
    assert grammar.rc_version_of_label("for/2.10") == "2.10"
    assert grammar.tag("2.10", 1) == "release-2.10-1" and grammar.tag_version("release-2.10-1") == "2.10"
    assert grammar.command_versions(["release/2.10", "v2.9"]) == (("2.9", "2.10"), ())


def test_the_grammar_has_one_home() -> None:
    """No module of the bot but the grammar holds a pattern for a version or a pick branch (the sandbox models GitHub)."""
    import ast
    import re
    from pathlib import Path

    bot = Path(names.__file__).resolve().parents[1]
    version_shaped = re.compile(r"(\\d|\[0-9\])[+*{][^ ]*\\\.|cherry-pick/\(")
    found = []
    for path in sorted(bot.rglob("*.py")):
        relative = path.relative_to(bot).as_posix()
        if relative.startswith("sandbox/") or relative in ("rules/names.py", "demo.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and version_shaped.search(node.value):
                found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert found == [], "parse names with bot.rules.names:\n" + "\n".join(found)
