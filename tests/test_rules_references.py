"""Tables for GitHub's references in text: the issues a PR body closes, and commits shown short and linked."""

from __future__ import annotations

import pytest

from bot.rules import cherry_pick as picks
from bot.rules.references import IssueRef, closed_by, commit_link, commit_url, plain_references, repository_url

HERE = "acme/app"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Fixes #12", ["#12"]),
        # Every closing keyword GitHub knows, in any case, with or without a colon.
        *[(f"{word} #3", ["#3"]) for word in ("close", "closes", "closed", "fix", "fixes", "fixed")],
        *[(f"{word} #3", ["#3"]) for word in ("resolve", "resolves", "resolved", "FIXES", "Resolved", "cLoSeS")],
        ("Fixes: #12", ["#12"]),
        ("fixes:  #12", ["#12"]),
        ("Fixes #12, fixes #13 and closes #12", ["#12", "#13"]),
        ("Fixes acme/other#4", ["acme/other#4"]),
        ("Fixes acme/app#4", ["#4"]),  # this repository's own issue
        ("Fixes ACME/App#4", ["#4"]),
        ("Resolves https://github.com/acme/app/issues/5", ["#5"]),
        ("Resolves https://ghe.example.com/acme/other/issues/5.", ["acme/other#5"]),
        ("First line\n\nThis fixes #7 for good.\nCloses #8", ["#7", "#8"]),
        # Not closing keywords, not references, or where GitHub reads none.
        ("Refs #12", []),
        ("See #12; fix it later", []),
        ("prefixes #12", []),
        ("fixes#12", []),
        ("fixes #12abc", []),
        ("Fixes #0", []),
        ("Fixes https://github.com/acme/app/pull/5", []),
        ("`fixes #12`", []),
        ("```\nfixes #12\n```", []),
        ("", []),
        (None, []),
    ],
)
def test_closed_by_reads_githubs_closing_keywords(body, expected):
    assert [str(ref) for ref in closed_by(body, HERE)] == expected


def test_closed_by_reads_a_long_body_at_once():
    body = ("fixes " * 20000) + "#1 " + "x" * 60000
    assert closed_by(body, HERE) == (IssueRef("", 1),)


@pytest.mark.parametrize(
    ("sha", "repository", "expected"),
    [
        ("a" * 40, "https://github.com/acme/app", f"[`aaaaaaa`](https://github.com/acme/app/commit/{'a' * 40})"),
        (
            "b" * 40,
            "http://127.0.0.1:9/_html/acme/app/",
            f"[`bbbbbbb`](http://127.0.0.1:9/_html/acme/app/commit/{'b' * 40})",
        ),
        ("c" * 40, "", "`ccccccc`"),
    ],
)
def test_commits_are_short_and_linked(sha, repository, expected):
    assert commit_link(sha, repository) == expected


@pytest.mark.parametrize(
    ("html_url", "expected"),
    [
        ("https://github.com/acme/app/pull/7", "https://github.com/acme/app"),
        ("https://github.com/acme/app/issues/12", "https://github.com/acme/app"),
        ("http://127.0.0.1:9/_html/acme/app/pull/7/", "http://127.0.0.1:9/_html/acme/app"),
        ("https://github.com/acme/app", "https://github.com/acme/app"),
    ],
)
def test_repository_url(html_url, expected):
    assert repository_url(html_url) == expected


def test_commit_url_and_plain_references():
    assert commit_url("https://github.com/acme/app", "d" * 40) == f"https://github.com/acme/app/commit/{'d' * 40}"
    assert commit_url("", "d" * 40) == ""
    assert plain_references((IssueRef("", 12), IssueRef("acme/other", 3))) == "#12, acme/other#3"


SRC, NEW, OLD = "1" * 40, "2" * 40, "3" * 40
REPO = "https://github.com/acme/app"


def test_the_pick_body_names_the_fixed_issues_plainly_and_links_short_shas():
    body = picks.pick_body(
        6,
        "Apply discounts",
        "rc/1.5",
        [(SRC, NEW)],
        [OLD],
        "quinn",
        None,
        fixes=closed_by("Fixes #5 and closes acme/other#2", HERE),
        repository=REPO,
    )
    assert "Fixes in the source PR: #5, acme/other#2" in body
    # Named, not closed: no closing keyword stands before a reference.
    assert closed_by(body, HERE) == ()
    assert f"- [`2222222`]({REPO}/commit/{NEW}) (cherry picked from commit [`1111111`]({REPO}/commit/{SRC}))" in body
    assert f"Already present on the RC, so not picked: [`3333333`]({REPO}/commit/{OLD})" in body
    assert SRC not in body.replace(f"/commit/{SRC}", "")  # the full SHA only inside the link
    plain = picks.pick_body(6, "Apply discounts", "rc/1.5", [(SRC, NEW)], [], None, None)
    assert "Fixes in the source PR" not in plain and "- `2222222` (cherry picked from commit `1111111`)" in plain


def test_the_conflict_note_links_the_commit_and_keeps_full_shas_in_the_commands():
    notice = picks.conflict_notice(9, "1.5", "rc/1.5", SRC, ["src/banner.txt"], [SRC], True, REPO)
    assert f"conflicts (at commit [`1111111`]({REPO}/commit/{SRC}))" in notice.body
    assert f"git cherry-pick -x -m 1 {SRC}" in notice.body  # git is given the whole SHA
