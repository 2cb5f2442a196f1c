"""Issues and the conversation on them and on PRs: labels, comments (the bot's, found by marker), reactions, events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from typing import Any

from bot.github.repo.base import Label, Record, RepoBase, User, or_none, read
from bot.rules.names import label_names
from bot.rules.text import marker


class IssuePullRef(Record, frozen=True, kw_only=True):
    merged_at: str | None = None


class Issue(Record, frozen=True, kw_only=True):
    """An issue, or a PR as the issues API shows it (pull_request set)."""

    number: int
    state: str = "open"
    state_reason: str | None = None
    title: str = ""
    body: str | None = None
    html_url: str = ""
    user: User | None = None
    labels: tuple[Label, ...] = ()
    pull_request: IssuePullRef | None = None

    @property
    def is_pull(self) -> bool:
        return self.pull_request is not None

    @property
    def author(self) -> str | None:
        return self.user.login if self.user is not None else None

    @property
    def label_names(self) -> tuple[str, ...]:
        return label_names(self.labels)


class Comment(Record, frozen=True, kw_only=True):
    id: int
    body: str | None = None
    user: User | None = None
    html_url: str = ""

    @property
    def author(self) -> str | None:
        return self.user.login if self.user is not None else None


class Reaction(Record, frozen=True, kw_only=True):
    id: int = 0
    content: str
    user: User | None = None


class IssueEvent(Record, frozen=True, kw_only=True):
    id: int = 0
    event: str = ""  # labeled, unlabeled, closed, ...
    actor: User | None = None
    label: Label | None = None
    created_at: str | None = None


class Milestone(Record, frozen=True, kw_only=True):
    number: int
    title: str = ""
    state: str = "open"


class Issues(RepoBase):
    # -- issues ----------------------------------------------------------------------------------
    async def issue(self, number: int) -> Issue:
        return await self._get("/repos/{owner}/{repo}/issues/{issue_number}", Issue, issue_number=number)

    async def issues(
        self, *, labels: Iterable[str] = (), state: str = "open", milestone: int | None = None
    ) -> list[Issue]:
        """Every issue and PR that carries all these labels (and is in the milestone), page after page."""
        return [
            issue
            async for issue in self._iter(
                "/repos/{owner}/{repo}/issues{?labels,milestone,state,per_page}",
                Issue,
                labels=",".join(labels) or None,
                milestone=str(milestone) if milestone is not None else None,
                state=state,
                per_page=100,
            )
        ]

    async def create_issue(self, *, title: str, body: str, labels: Collection[str] = ()) -> Issue:
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/issues", self._vars(), data={"title": title, "body": body, "labels": list(labels)}
        )
        return read(Issue, answer)

    async def update_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
        labels: Collection[str] | None = None,
        assignees: Collection[str] | None = None,
    ) -> Issue:
        """Change what is given (an issue or a PR); labels and assignees replace the current ones."""
        fields: dict[str, Any] = {"title": title, "body": body, "state": state, "state_reason": state_reason}
        update = {k: v for k, v in fields.items() if v is not None}
        if labels is not None:
            update["labels"] = list(labels)
        if assignees is not None:
            update["assignees"] = list(assignees)
        answer = await self.gh.patch(
            "/repos/{owner}/{repo}/issues/{issue_number}", self._vars(issue_number=number), data=update
        )
        return read(Issue, answer)

    async def milestones(self, *, state: str = "open") -> list[Milestone]:
        """The repository's milestones; none when the repository has the feature off (404)."""

        async def listing() -> list[Milestone]:
            url = "/repos/{owner}/{repo}/milestones{?state,per_page}"
            return [milestone async for milestone in self._iter(url, Milestone, state=state, per_page=100)]

        return await or_none(listing()) or []

    # -- labels ----------------------------------------------------------------------------------
    async def add_labels(self, number: int, labels: Iterable[str], *, present: Iterable[str] = ()) -> None:
        """Add the labels that are not already present (one request, or none)."""
        missing = sorted(set(labels) - set(present))
        if missing:
            await self.gh.post(
                "/repos/{owner}/{repo}/issues/{issue_number}/labels",
                self._vars(issue_number=number),
                data={"labels": missing},
            )

    async def remove_label(self, number: int, label: str) -> None:
        """Remove the label; one that is already gone is fine."""
        await or_none(
            self.gh.delete(
                "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", self._vars(issue_number=number, name=label)
            )
        )

    async def issue_events(self, number: int) -> list[IssueEvent]:
        """The issue's or PR's timeline of events (labeled, unlabeled, ...), oldest first."""
        return [
            event
            async for event in self._iter(
                "/repos/{owner}/{repo}/issues/{issue_number}/events", IssueEvent, issue_number=number
            )
        ]

    # -- comments --------------------------------------------------------------------------------
    async def comments(self, number: int) -> AsyncIterator[Comment]:
        async for comment in self._iter(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments", Comment, issue_number=number
        ):
            yield comment

    async def find_bot_comment(self, number: int, key: str) -> Comment | None:
        """The bot's comment on an issue or PR that carries the hidden marker for key (a person's copy never counts)."""
        tag = marker(key)
        async for comment in self.comments(number):
            if tag in (comment.body or "") and self.is_bot(comment.author):
                return comment
        return None

    async def post_comment(self, number: int, body: str) -> Comment:
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments", self._vars(issue_number=number), data={"body": body}
        )
        return read(Comment, answer)

    async def edit_comment(self, comment_id: int, body: str) -> Comment:
        answer = await self.gh.patch(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}", self._vars(comment_id=comment_id), data={"body": body}
        )
        return read(Comment, answer)

    async def ensure_comment(self, number: int, key: str, body: str) -> Comment:
        """One comment per key on the issue, kept equal to body (created, edited, or left alone)."""
        text = f"{marker(key)}\n{body}"
        existing = await self.find_bot_comment(number, key)
        if existing is None:
            return await self.post_comment(number, text)
        if existing.body != text:
            return await self.edit_comment(existing.id, text)
        return existing

    async def post_once(self, number: int, key: str, body: str) -> Comment:
        """A comment that is posted once per key and never edited afterwards (replies, notices)."""
        existing = await self.find_bot_comment(number, key)
        if existing is not None:
            return existing
        return await self.post_comment(number, f"{marker(key)}\n{body}")

    async def post_keyed(self, number: int, key: str, body: str) -> Comment:
        """A comment with key's marker, posted without looking for an earlier one (the issue is brand new)."""
        return await self.post_comment(number, f"{marker(key)}\n{body}")

    async def comment_reactions(self, comment_id: int) -> list[Reaction] | None:
        """Every reaction on an issue comment; None when the comment is gone."""

        async def listing() -> list[Reaction]:
            url = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions{?per_page}"
            return [r async for r in self._iter(url, Reaction, comment_id=comment_id, per_page=100)]

        return await or_none(listing())

    async def react(self, comment_id: int, content: str) -> None:
        """React to an issue comment; GitHub answers 200 instead of 201 when the reaction exists."""
        await self.gh.post(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            self._vars(comment_id=comment_id),
            data={"content": content},
            accept="application/vnd.github+json",
        )
