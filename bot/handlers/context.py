"""What a handler receives: the repository's API, the event, and the repository's config and roles."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from gidgethub.sansio import Event

from bot.github import events
from bot.github.client import GitHubClient
from bot.github.repo import PullRequest, RepoAPI, read
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.config import RepoConfig
    from bot.github.auth import GitHubApp
    from bot.repo_config import ConfigStore, LoadedConfig
    from bot.roles import RoleResolver


@dataclass
class Services:
    """Process-wide parts, built once in the app factory."""

    settings: Settings
    github: GitHubApp
    config_store: ConfigStore
    roles: RoleResolver
    metrics: Any = None


P = TypeVar("P", bound=events.Payload)


def as_pull(pull: events.PullRequest) -> PullRequest:
    """A webhook's PR as the API's record: what the webhook left out takes the record's default."""
    fields = msgspec.to_builtins(pull)
    for end in ("head", "base"):
        if fields[end].get("label") is None:
            fields[end].pop("label", None)  # null for a branch of a deleted fork
    return read(PullRequest, fields)


@dataclass
class Context:
    """One job's view: `api` is the door to the repository; `gh` is the installation client under it."""

    gh: GitHubClient
    event: Event
    owner: str
    repo: str
    installation_id: int
    bot_login: str
    services: Services
    # The delivery's payload as its typed record (bot/github/events.py); read it with payload_of().
    payload: events.Payload = field(default_factory=events.Payload)
    repo_api: InitVar[RepoAPI | None] = None  # tests pass an in-memory stand-in; jobs let it be built on gh
    api: RepoAPI = field(init=False, repr=False)
    _loaded: LoadedConfig | None = field(default=None, repr=False)

    def __post_init__(self, repo_api: RepoAPI | None) -> None:
        self.api = repo_api or RepoAPI(
            self.gh, self.owner, self.repo, app_id=self.services.github.app_id, bot_login=self.bot_login
        )

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def repo_vars(self) -> dict[str, str]:
        """url_vars for gidgethub templates such as "/repos/{owner}/{repo}/pulls{/number}"."""
        return {"owner": self.owner, "repo": self.repo}

    def payload_of(self, kind: type[P]) -> P:
        """The payload as the record its route guarantees (`events.PullRequestLabeled`, or a family such as
        `events.PullRequestEvent` for a handler of several actions); TypeError for a route it is not."""
        return events.expect(self.payload, kind, self.event.event)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def loaded_config(self) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = await self.services.config_store.load(self.api)
        return self._loaded

    def forget_config(self) -> None:
        """Read the config from GitHub again on next use (the processor calls it before dispatch)."""
        self.services.config_store.invalidate(self.full_name)
        self._loaded = None

    async def config(self) -> RepoConfig:
        """The config to act on: the current one, or the last valid one, or the defaults.

        Role-gated actions must use `loaded_config()` and refuse when it has no usable config.
        """
        from bot.config import RepoConfig

        loaded = await self.loaded_config()
        return loaded.config if loaded.config is not None else RepoConfig()

    async def has_role(self, login: str, role: str) -> bool:
        """role: "qa", "rte", "pdm" (from the config) or "write" (repository permission)."""
        loaded = await self.loaded_config()
        return await self.services.roles.has_role(self, loaded.config, login, role)

    def is_bot(self, login: str | None) -> bool:
        return bool(login) and login == self.bot_login
