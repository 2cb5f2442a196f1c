"""GitHub's references in text (pure): the issues a PR body closes, and commits shown short and linked.

GitHub closes an issue when a PR into the default branch says so with a closing keyword (close, closes,
closed, fix, fixes, fixed, resolve, resolves, resolved; any case, an optional colon) before `#N`,
`owner/repo#N` or the issue's URL. A pick PR goes into an RC branch, where the keywords do nothing, so
it names those issues as plain references: GitHub then shows the pick on each issue's timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SHORT_SHA = 7

_KEYWORD = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_REPO = r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+"
_CLOSING = re.compile(
    rf"(?<![A-Za-z0-9_]){_KEYWORD}:?[ \t]+"
    rf"(?:(?P<repo>{_REPO})?#(?P<number>[0-9]+)"
    rf"|https?://[^\s/]+/(?P<url_repo>{_REPO})/issues/(?P<url_number>[0-9]+))"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
# GitHub reads no reference inside code: fenced blocks and inline code spans.
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]+`")


@dataclass(frozen=True, order=True)
class IssueRef:
    """An issue named by number, in this repository (repo "") or in another one ("owner/repo")."""

    repo: str
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}" if self.repo else f"#{self.number}"


def closed_by(body: str | None, full_name: str = "") -> tuple[IssueRef, ...]:
    """The issues a PR body closes with GitHub's closing keywords, in the order it names them, once each.

    full_name ("owner/repo"): this repository, whose issues are given as `#N` however the body names them.
    Code is skipped: GitHub reads no reference there.
    """
    prose = _CODE_SPAN.sub("", _FENCED.sub("", body or ""))
    found: list[IssueRef] = []
    for match in _CLOSING.finditer(prose):
        repo = match.group("repo") or match.group("url_repo") or ""
        number = int(match.group("number") or match.group("url_number"))
        if repo.lower() == full_name.lower():
            repo = ""
        ref = IssueRef(repo, number)
        if number > 0 and ref not in found:
            found.append(ref)
    return tuple(found)


def plain_references(refs: Iterable[IssueRef]) -> str:
    """ "#12, acme/other#3": references that link and cross-reference, and close nothing."""
    return ", ".join(str(ref) for ref in refs)


def repository_url(html_url: str) -> str:
    """A repository's web address from one of its issues' or PRs' (`.../acme/app/pull/7` -> `.../acme/app`)."""
    return re.sub(r"/(?:pull|issues)/[0-9]+/?$", "", html_url)


def commit_url(repository: str, sha: str) -> str:
    """The commit's page, as GitHub's `html_url` names it: `{repository}/commit/{sha}` ("" without a repository)."""
    return f"{repository.rstrip('/')}/commit/{sha}" if repository else ""


def commit_link(sha: str, repository: str = "") -> str:
    """A commit as people read it: its 7-character SHA in code, linked to its page when the repository is known."""
    short = f"`{sha[:SHORT_SHA]}`"
    url = commit_url(repository, sha)
    return f"[{short}]({url})" if url else short
