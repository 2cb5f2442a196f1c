"""Reading `.github/release-train.yml` from the default branch, with ETags and the last valid config kept."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cachetools
import gidgethub

from bot.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config

if TYPE_CHECKING:
    from bot.handlers.context import Context

log = logging.getLogger("release_train.config")


@dataclass(frozen=True)
class LoadedConfig:
    config: RepoConfig | None  # None: broken and no earlier valid config: refuse role-gated actions
    errors: tuple[ConfigError, ...] = ()
    stale: bool = False  # the file is broken; config is the last valid one
    sha: str | None = None  # blob sha of the file read, None when the file is absent

    @property
    def usable(self) -> bool:
        return self.config is not None

    def refusal(self) -> str:
        lines = "\n".join(f"- {e}" for e in self.errors)
        return (
            f"`{CONFIG_PATH}` is invalid and there is no earlier valid configuration to fall back on, "
            f"so I won't take role-gated actions until it is fixed:\n{lines}"
        )


class ConfigStore:
    """Loads each repository's config; remembers the last valid one per repository (bounded)."""

    def __init__(self, max_repos: int = 4096) -> None:
        self._last_valid: cachetools.LRUCache[str, RepoConfig] = cachetools.LRUCache(max_repos)

    async def load(self, ctx: Context) -> LoadedConfig:
        try:
            answer = await ctx.gh.getitem(
                "/repos/{owner}/{repo}/contents/{+path}", {**ctx.repo_vars, "path": CONFIG_PATH}
            )
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) == 404:
                config = RepoConfig()
                self._last_valid[ctx.full_name] = config
                return LoadedConfig(config)
            raise
        text = base64.b64decode(answer.get("content", "")).decode("utf-8", errors="replace")
        result = parse_config(text)
        if result.ok and result.config is not None:
            self._last_valid[ctx.full_name] = result.config
            return LoadedConfig(result.config, sha=answer.get("sha"))
        last = self._last_valid.get(ctx.full_name)
        return LoadedConfig(last, errors=result.errors, stale=last is not None, sha=answer.get("sha"))
