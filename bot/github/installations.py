"""The app's own side of GitHub: its webhook deliveries, its installations and their repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bot.github.auth import GitHubApp, TokenScope
from bot.github.client import GitHubClient
from bot.github.repo.base import Record, or_none, read


class HookDelivery(Record, frozen=True, kw_only=True):
    """One attempt to deliver a webhook, as `GET /app/hook/deliveries` lists it."""

    id: int
    guid: str = ""
    event: str = ""
    action: str | None = None
    status_code: int = 0  # 0: no answer at all
    delivered_at: str | None = None
    redelivery: bool = False


class Installation(Record, frozen=True, kw_only=True):
    id: int


class InstallationRepos:
    """One installation's repositories, through its own client (whose rate limit says what is left)."""

    def __init__(self, gh: GitHubClient) -> None:
        self.gh = gh

    @property
    def requests_left(self) -> int | None:
        return self.gh.rate_limit.remaining if self.gh.rate_limit is not None else None

    async def repositories(self) -> AsyncIterator[dict[str, Any]]:
        """Each repository as GitHub describes it (kept whole: a sweep job carries it as its payload)."""
        async for repo in self.gh.getiter(
            "/installation/repositories{?per_page}", {"per_page": 100}, iterable_key="repositories"
        ):
            yield repo


class AppAPI:
    """What the app does as itself (JWT), not as one installation."""

    def __init__(self, github: GitHubApp) -> None:
        self.github = github

    async def hook_deliveries(self) -> AsyncIterator[HookDelivery]:
        """The app's webhook delivery attempts, newest first, page after page."""
        async for item in self.github.app_client().getiter("/app/hook/deliveries{?per_page}", {"per_page": 100}):
            yield read(HookDelivery, item)

    async def redeliver(self, delivery_id: int) -> None:
        await self.github.app_client().post(
            "/app/hook/deliveries/{delivery_id}/attempts", {"delivery_id": delivery_id}, data=b""
        )

    async def installations(self) -> AsyncIterator[Installation]:
        async for item in self.github.app_client().getiter("/app/installations{?per_page}", {"per_page": 100}):
            yield read(Installation, item)

    async def repository_installation(self, owner: str, repo: str) -> Installation | None:
        """The installation that reaches the repository, or None when the app is not installed on it."""
        answer = await or_none(
            self.github.app_client().getitem("/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo})
        )
        return None if answer is None else read(Installation, answer)

    async def installation(self, installation_id: int) -> InstallationRepos:
        """An installation's repositories, read with a token that may only read metadata."""
        scope = TokenScope.of({"metadata": "read"})
        return InstallationRepos(await self.github.installation_client(installation_id, scope))
