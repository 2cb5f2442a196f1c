"""Branches, commits and compares: what a branch points at, and what one ref has that another lacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from bot.github.repo.base import Record, RepoBase, User, or_none, read


class Branch(Record, frozen=True, kw_only=True):
    name: str
    sha: str
    tree_sha: str | None = None  # only a single-branch read says


class GitPerson(Record, frozen=True, kw_only=True):
    name: str = ""
    email: str = ""
    date: str | None = None


class ShaRef(Record, frozen=True, kw_only=True):
    sha: str


class CommitDetails(Record, frozen=True, kw_only=True):
    message: str = ""
    author: GitPerson | None = None
    committer: GitPerson | None = None
    tree: ShaRef | None = None


class ChangedFile(Record, frozen=True, kw_only=True):
    filename: str
    status: str = ""
    sha: str | None = None  # the file's blob on the head side
    previous_filename: str | None = None
    patch: str | None = None


class Commit(Record, frozen=True, kw_only=True):
    """A commit as the commits, compare and pull-commits listings show it."""

    sha: str
    commit: CommitDetails = msgspec.field(default_factory=CommitDetails)
    parents: tuple[ShaRef, ...] = ()
    author: User | None = None  # the GitHub accounts, None when git's emails match none
    committer: User | None = None
    html_url: str = ""
    files: tuple[ChangedFile, ...] = ()  # only a single-commit read lists them

    @property
    def message(self) -> str:
        return self.commit.message

    @property
    def parent_shas(self) -> tuple[str, ...]:
        return tuple(parent.sha for parent in self.parents)


class Comparison(Record, frozen=True, kw_only=True):
    status: str = ""  # ahead, behind, diverged or identical
    ahead_by: int = 0
    behind_by: int = 0
    total_commits: int = 0
    commits: tuple[Commit, ...] = ()
    files: tuple[ChangedFile, ...] = ()


class Activity(Record, frozen=True, kw_only=True):
    """A change of a branch as the repository's activity lists it, on GitHub's clock."""

    id: int = 0
    before: str = ""
    after: str = ""
    ref: str = ""
    timestamp: str
    activity_type: str = "push"  # push, force_push, branch_creation, branch_deletion, pr_merge, merge_queue_merge
    actor: User | None = None


def _branch(answer: dict[str, Any]) -> Branch:
    commit = answer["commit"]
    tree = ((commit.get("commit") or {}).get("tree") or {}).get("sha")
    return Branch(name=answer["name"], sha=commit["sha"], tree_sha=tree)


class Branches(RepoBase):
    async def branch(self, name: str) -> Branch | None:
        """The branch's head (and its tree), or None when there is no such branch."""
        answer = await or_none(self.gh.getitem("/repos/{owner}/{repo}/branches/{branch}", self._vars(branch=name)))
        return _branch(answer) if answer is not None else None

    async def branch_head(self, name: str) -> str | None:
        branch = await self.branch(name)
        return branch.sha if branch is not None else None

    async def branches(self) -> AsyncIterator[Branch]:
        async for answer in self.gh.getiter("/repos/{owner}/{repo}/branches{?per_page}", self._vars(per_page=100)):
            yield _branch(answer)

    async def branch_activity(self, branch: str, *, per_page: int = 30) -> tuple[Activity, ...] | None:
        """The branch's newest changes, newest first; None where GitHub serves no activity (older Enterprise Servers)."""
        answer = await or_none(
            self.gh.getitem(
                "/repos/{owner}/{repo}/activity{?ref,per_page}",
                self._vars(ref=f"refs/heads/{branch}", per_page=per_page),
            ),
            missing=(403, 404),
        )
        return read(tuple[Activity, ...], answer) if answer is not None else None

    async def compare(self, base: str, head: str, *, per_page: int | None = None) -> Comparison | None:
        """What head has that base lacks (three-dot), or None when either is missing or they share no history."""
        answer = await or_none(
            self.gh.getitem(
                "/repos/{owner}/{repo}/compare/{basehead}{?per_page}",
                self._vars(basehead=f"{base}...{head}", per_page=per_page),
            ),
            missing=(404, 422),
        )
        return read(Comparison, answer) if answer is not None else None

    async def compare_commits(self, base: str, head: str) -> AsyncIterator[Commit]:
        """Every commit head has and base lacks, page by page (a compare lists 250 at most per answer)."""
        async for commit in self._iter(
            "/repos/{owner}/{repo}/compare/{basehead}{?per_page}",
            Commit,
            iterable_key="commits",
            basehead=f"{base}...{head}",
            per_page=100,
        ):
            yield commit

    async def is_on(self, sha: str, branch: str) -> bool:
        """Whether the commit is in the branch's history."""
        comparison = await self.compare(sha, branch)
        return comparison is not None and comparison.status in ("ahead", "identical")

    async def commits(self, sha: str, *, per_page: int = 100) -> tuple[Commit, ...]:
        """The newest commits of sha's history, one page."""
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/commits{?sha,per_page}", self._vars(sha=sha, per_page=per_page)
        )
        return read(tuple[Commit, ...], answer)

    async def commit(self, ref: str) -> Commit:
        """One commit, with its changed files and their patches."""
        return await self._get("/repos/{owner}/{repo}/commits/{ref}", Commit, ref=ref)
