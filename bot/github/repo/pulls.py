"""Pull requests: reading and listing them, their commits and files, opening them, and GitHub's auto-merge."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.github.repo.base import Label, Record, RepoBase, User, or_none, read
from bot.github.repo.branches import ChangedFile, Commit
from bot.rules.names import label_names


class RepoRef(Record, frozen=True, kw_only=True):
    full_name: str = ""


class PullEnd(Record, frozen=True, kw_only=True):
    ref: str
    sha: str
    label: str = ""  # "owner:branch"
    repo: RepoRef | None = None  # None when the fork was deleted


class AutoMerge(Record, frozen=True, kw_only=True):
    merge_method: str = ""
    enabled_by: User | None = None


class PullRequest(Record, frozen=True, kw_only=True):
    number: int
    head: PullEnd
    base: PullEnd
    state: str = "open"
    title: str = ""
    body: str | None = None
    html_url: str = ""
    node_id: str = ""
    user: User | None = None  # None for a deleted account in REST answers
    labels: tuple[Label, ...] = ()
    draft: bool = False
    merged: bool | None = None  # single-PR reads only; listings say merged_at
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    commits: int | None = None  # single-PR reads only
    auto_merge: AutoMerge | None = None
    updated_at: str | None = None

    @property
    def is_merged(self) -> bool:
        return bool(self.merged) or self.merged_at is not None

    @property
    def author(self) -> str | None:
        return self.user.login if self.user is not None else None

    @property
    def label_names(self) -> tuple[str, ...]:
        return label_names(self.labels)

    def head_in(self, full_name: str) -> bool:
        """Whether the head branch lives in that repository (not in a fork)."""
        return self.head.repo is not None and self.head.repo.full_name.lower() == full_name.lower()


ENABLE_AUTO_MERGE = """
mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}
"""


class Pulls(RepoBase):
    async def pull(self, number: int) -> PullRequest:
        return await self._get("/repos/{owner}/{repo}/pulls/{pull_number}", PullRequest, pull_number=number)

    async def pulls(
        self,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
    ) -> AsyncIterator[PullRequest]:
        """Every PR that matches, page after page; head is "owner:branch"."""
        async for pull in self._iter(
            "/repos/{owner}/{repo}/pulls{?state,head,base,sort,direction,per_page}",
            PullRequest,
            state=state,
            head=head,
            base=base,
            sort=sort,
            direction=direction,
            per_page=100,
        ):
            yield pull

    async def open_pulls(self, *, head: str | None = None, base: str | None = None) -> list[PullRequest]:
        return [pull async for pull in self.pulls(head=head, base=base)]

    async def pull_commits(self, number: int) -> tuple[Commit, ...]:
        """The PR's commits, oldest first (one page of 100)."""
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}/commits{?per_page}", self._vars(pull_number=number, per_page=100)
        )
        return read(tuple[Commit, ...], answer)

    async def pull_files(self, number: int) -> AsyncIterator[ChangedFile]:
        """The files the PR changes; raises a 404 BadRequest where GitHub has no files listing for it."""
        async for changed in self._iter(
            "/repos/{owner}/{repo}/pulls/{pull_number}/files{?per_page}", ChangedFile, pull_number=number, per_page=100
        ):
            yield changed

    async def create_pull(
        self, *, title: str, head: str, base: str, body: str, maintainer_can_modify: bool = True
    ) -> PullRequest:
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/pulls",
            self._vars(),
            data={
                "title": title,
                "head": head,
                "base": base,
                "body": body,
                "maintainer_can_modify": maintainer_can_modify,
            },
        )
        return read(PullRequest, answer)

    async def find_pull(self, number: int) -> PullRequest | None:
        """The PR, or None when there is none with this number."""
        return await or_none(self.pull(number))

    async def enable_auto_merge(self, node_id: str, method: str) -> None:
        """GitHub's auto-merge with this method (merge, squash, rebase); a refusal raises gidgethub.GraphQLException."""
        await self.gh.graphql(ENABLE_AUTO_MERGE, pullRequestId=node_id, mergeMethod=method.upper())
