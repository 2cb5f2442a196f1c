"""Reading `.github/release-train.yml` from the default branch, with ETags and the last valid config kept."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cachetools
import gidgethub

from bot.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config

if TYPE_CHECKING:
    from bot.handlers.context import Context

log = logging.getLogger("release_train.config")

CONTENTS_URL = "/repos/{owner}/{repo}/contents/{+path}"


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

    def notice(self) -> str | None:
        """A note for people when the config in force is not the file as written, else None."""
        if not self.errors:
            return None
        if self.config is None:
            return self.refusal()
        lines = "\n".join(f"- {e}" for e in self.errors)
        return f"`{CONFIG_PATH}` is invalid, so I am still using the last valid configuration I read:\n{lines}"


def decode_config_file(answer: object) -> tuple[str | None, ConfigError | None]:
    """The text of a contents-API answer for the config file, or the reason it cannot be used (pure)."""
    if not isinstance(answer, dict) or answer.get("type", "file") != "file":
        return None, ConfigError(None, "", f"`{CONFIG_PATH}` is not a file")
    if answer.get("encoding") != "base64" or "content" not in answer:
        # GitHub leaves out the content of files over 1 MB (encoding "none").
        return None, ConfigError(None, "", f"`{CONFIG_PATH}` is too large to be a configuration")
    try:
        raw = base64.b64decode(answer["content"])
    except (binascii.Error, ValueError):
        return None, ConfigError(None, "", f"`{CONFIG_PATH}` could not be decoded")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, ConfigError(None, "", f"the file is not UTF-8 text (byte {exc.start})")


class ConfigStore:
    """Each repository's config, kept in process for a short TTL and remembered when it was last valid.

    Within the TTL a handler costs no request; after it, the read is a conditional GET that GitHub
    answers 304 (free of rate limit) while the file is unchanged. A push that changes the file calls
    `invalidate`, so the very next event reads it again.
    """

    def __init__(
        self,
        ttl_seconds: float | None = None,
        max_repos: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds  # None: Settings.config_ttl_seconds
        self._max_repos = max_repos
        self._clock = clock
        self._recent: OrderedDict[str, tuple[float, LoadedConfig]] = OrderedDict()
        self._last_valid: cachetools.LRUCache[str, RepoConfig] = cachetools.LRUCache(max_repos)

    def invalidate(self, full_name: str) -> None:
        self._recent.pop(full_name.lower(), None)

    def last_valid(self, full_name: str) -> RepoConfig | None:
        return self._last_valid.get(full_name.lower())

    async def load(self, ctx: Context) -> LoadedConfig:
        key = ctx.full_name.lower()
        now = self._clock()
        recent = self._recent.get(key)
        if recent is not None and recent[0] > now:
            self._recent.move_to_end(key)
            return recent[1]
        loaded, cacheable = await self._read(ctx)
        ttl = self._ttl if self._ttl is not None else ctx.settings.config_ttl_seconds
        if cacheable and ttl > 0:
            self._recent[key] = (now + ttl, loaded)
            self._recent.move_to_end(key)
            while len(self._recent) > self._max_repos:
                self._recent.popitem(last=False)
        return loaded

    async def _read(self, ctx: Context) -> tuple[LoadedConfig, bool]:
        key = ctx.full_name.lower()
        try:
            # A plain GET with no query: the client's per-installation ETag cache makes it conditional.
            answer = await ctx.gh.getitem(CONTENTS_URL, {**ctx.repo_vars, "path": CONFIG_PATH})
        except gidgethub.BadRequest as exc:
            if isinstance(exc, gidgethub.RateLimitExceeded):
                raise  # says nothing about the file: the job is retried later
            status = int(exc.status_code)
            if status == 404:
                config = RepoConfig()
                self._last_valid[key] = config
                return LoadedConfig(config), True
            # Not a verdict on the file: keep acting on what we knew, and do not remember this answer.
            log.warning("reading %s in %s answered %s", CONFIG_PATH, ctx.full_name, status)
            last = self._last_valid.get(key)
            error = ConfigError(None, "", f"`{CONFIG_PATH}` could not be read (GitHub answered {status})")
            return LoadedConfig(last, errors=(error,), stale=last is not None), False
        sha = answer.get("sha") if isinstance(answer, dict) else None
        text, problem = decode_config_file(answer)
        if problem is not None:
            errors: tuple[ConfigError, ...] = (problem,)
        else:
            result = parse_config(text)
            if result.ok and result.config is not None:
                self._last_valid[key] = result.config
                return LoadedConfig(result.config, sha=sha), True
            errors = result.errors
        last = self._last_valid.get(key)
        log.info(
            "%s in %s is invalid (%d errors); %s",
            CONFIG_PATH,
            ctx.full_name,
            len(errors),
            "using the last valid one" if last else "no valid one to fall back on",
        )
        return LoadedConfig(last, errors=errors, stale=last is not None, sha=sha), True
