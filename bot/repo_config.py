"""Reading `.github/release-train.yml` from the default branch, with ETags, the last valid config kept, and what makes it stale."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cachetools
import gidgethub

from bot.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config
from bot.github.repo import ContentFile
from bot.rules.commands import parse_commands

log = logging.getLogger("release_train.config")

# GitHub lists at most 20 commits in a push payload; a longer push may hide a change to the file.
PUSH_COMMITS_LISTED = 20


class ConfigAPI(Protocol):
    """What reading the config does to GitHub: one file, at the default branch or at a commit."""

    @property
    def full_name(self) -> str: ...

    async def file(self, path: str, *, ref: str | None = ...) -> ContentFile | None: ...


def push_touches_config(push: dict[str, Any]) -> bool | None:
    """Whether a push changed the config file: True, False, or None when the payload cannot tell (pure)."""
    commits = push.get("commits")
    if push.get("forced") or push.get("created") or not isinstance(commits, list) or not commits:
        return None
    if len(commits) >= PUSH_COMMITS_LISTED:
        return None
    unknown = False
    for commit in commits:
        lists = [commit.get(k) for k in ("added", "modified", "removed")]
        if not all(isinstance(files, list) for files in lists):
            unknown = True
            continue
        if any(CONFIG_PATH in files for files in lists):
            return True
    return None if unknown else False


def asks_for_refresh(event: str, payload: dict[str, Any]) -> bool:
    """Whether the delivery is a new comment with `/refresh`, which asks for everything to be read again (pure)."""
    if event != "issue_comment" or payload.get("action") != "created":
        return False
    body = (payload.get("comment") or {}).get("body")
    return any(command.name == "refresh" for command in parse_commands(body if isinstance(body, str) else None))


def makes_config_stale(event: str, payload: dict[str, Any]) -> bool:
    """Whether a cached config may be out of date for this delivery (pure): a push to the default branch that
    changed the file, or may have, and `/refresh`."""
    if event == "push":
        default = (payload.get("repository") or {}).get("default_branch")
        return (
            bool(default)
            and payload.get("ref") == f"refs/heads/{default}"
            and not payload.get("deleted")
            and push_touches_config(payload) is not False
        )
    return asks_for_refresh(event, payload)


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


def decode_config_file(answer: ContentFile) -> tuple[str | None, ConfigError | None]:
    """The text of the contents API's answer for the config file, or the reason it cannot be used (pure)."""
    if answer.type != "file":
        return None, ConfigError(None, "", f"`{CONFIG_PATH}` is not a file")
    if answer.encoding != "base64" or answer.content is None:
        # GitHub leaves out the content of files over 1 MB (encoding "none").
        return None, ConfigError(None, "", f"`{CONFIG_PATH}` is too large to be a configuration")
    try:
        raw = base64.b64decode(answer.content)
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
        ttl_seconds: float = 60.0,
        max_repos: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_repos = max_repos
        self._clock = clock
        self._recent: OrderedDict[str, tuple[float, LoadedConfig]] = OrderedDict()
        self._last_valid: cachetools.LRUCache[str, RepoConfig] = cachetools.LRUCache(max_repos)

    def invalidate(self, full_name: str) -> None:
        self._recent.pop(full_name.lower(), None)

    def last_valid(self, full_name: str) -> RepoConfig | None:
        return self._last_valid.get(full_name.lower())

    async def load(self, api: ConfigAPI) -> LoadedConfig:
        key = api.full_name.lower()
        now = self._clock()
        recent = self._recent.get(key)
        if recent is not None and recent[0] > now:
            self._recent.move_to_end(key)
            return recent[1]
        loaded, cacheable = await self._read(api)
        if cacheable and self._ttl > 0:
            self._recent[key] = (now + self._ttl, loaded)
            self._recent.move_to_end(key)
            while len(self._recent) > self._max_repos:
                self._recent.popitem(last=False)
        return loaded

    async def _read(self, api: ConfigAPI) -> tuple[LoadedConfig, bool]:
        key = api.full_name.lower()
        try:
            answer = await api.file(CONFIG_PATH)
        except gidgethub.BadRequest as exc:
            if isinstance(exc, gidgethub.RateLimitExceeded):
                raise  # says nothing about the file: the job is retried later
            status = int(exc.status_code)
            # Not a verdict on the file: keep acting on what we knew, and do not remember this answer.
            log.warning("reading %s in %s answered %s", CONFIG_PATH, api.full_name, status)
            last = self._last_valid.get(key)
            error = ConfigError(None, "", f"`{CONFIG_PATH}` could not be read (GitHub answered {status})")
            return LoadedConfig(last, errors=(error,), stale=last is not None), False
        if answer is None:
            config = RepoConfig()
            self._last_valid[key] = config
            return LoadedConfig(config), True
        sha = answer.sha
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
            api.full_name,
            len(errors),
            "using the last valid one" if last else "no valid one to fall back on",
        )
        return LoadedConfig(last, errors=errors, stale=last is not None, sha=sha), True
