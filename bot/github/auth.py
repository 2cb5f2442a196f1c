"""GitHub App authentication: the app JWT, cached installation tokens, and one client per installation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import cachetools

from bot.github.client import CallObserver, GitHubClient, RateObserver
from bot.github.pacing import Pacer

log = logging.getLogger("release_train.auth")

REQUESTER = "release-train"
# Refresh an installation token this long before GitHub says it expires.
TOKEN_MARGIN_SECONDS = 5 * 60


LEVELS = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class TokenScope:
    """What one installation token may do: some repositories (by id) and some permissions.

    The empty scope is the installation's full grant, for the few calls that are about no one
    repository (listing the installation's repositories).
    """

    repository_ids: tuple[int, ...] = ()
    permissions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, permissions: Mapping[str, str], *repository_ids: int) -> TokenScope:
        return cls(tuple(sorted(set(repository_ids))), tuple(sorted(permissions.items())))

    def request_body(self) -> dict[str, Any]:
        """The body of POST /app/installations/{id}/access_tokens for this scope."""
        body: dict[str, Any] = {}
        if self.repository_ids:
            body["repository_ids"] = list(self.repository_ids)
        if self.permissions:
            body["permissions"] = dict(self.permissions)
        return body


FULL_GRANT = TokenScope()


def union(*grants: Mapping[str, str]) -> dict[str, str]:
    """The least permissions that cover every grant (the higher level of each)."""
    merged: dict[str, str] = {}
    for grant in grants:
        for name, level in grant.items():
            if LEVELS[level] > LEVELS.get(merged.get(name, ""), 0):
                merged[name] = level
    return merged


def _expiry(expires_at: str) -> float:
    return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()


class GitHubApp:
    """Holds the app's identity and hands out installation clients.

    There is one aiohttp session per process (passed in), one installation token per installation
    and scope (cached until a few minutes before it expires) and one ETag cache per installation and
    repository scope, because gidgethub keys its cache by URL alone and two tokens may see different
    answers at one URL. Tokens for the same repositories that differ only in permissions share a
    cache: GitHub checks a token's permission before it answers 304, and what it answers at a URL of
    those repositories is the same for every token allowed to read it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: int,
        private_key: str,
        base_url: str,
        pacer: Pacer | None = None,
        observer: CallObserver | None = None,
        rate_observer: RateObserver | None = None,
        retry_observer: Callable[[str], None] | None = None,
        etag_entries_per_installation: int = 2048,
        max_installations_cached: int = 1024,
    ) -> None:
        self.session = session
        self.app_id = app_id
        self._private_key = private_key
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.observer = observer
        self.rate_observer = rate_observer
        self.retry_observer = retry_observer
        self.token_requests = 0
        self._tokens: dict[tuple[int, TokenScope], tuple[str, float]] = {}
        self._token_locks: dict[tuple[int, TokenScope], asyncio.Lock] = {}
        self._etag_entries = etag_entries_per_installation
        self._caches: cachetools.LRUCache[tuple[int, TokenScope], cachetools.LRUCache[str, Any]] = cachetools.LRUCache(
            max_installations_cached
        )
        self._slug: str | None = None
        self._app_gh: GitHubClient | None = None

    def _client(self, **kwargs: Any) -> GitHubClient:
        return GitHubClient(
            self.session,
            REQUESTER,
            base_url=self.base_url,
            observer=self.observer,
            rate_observer=self.rate_observer,
            retry_observer=self.retry_observer,
            **kwargs,
        )

    def app_client(self) -> GitHubClient:
        """The one client that authenticates as the app itself (JWT), for /app endpoints.

        It is kept for the process because gidgethub signs the app JWT once per client and reuses it
        until shortly before it expires: signing with a 2048-bit key costs tens of milliseconds of CPU
        on the event loop, which a fresh client per token request would pay every time.
        """
        if self._app_gh is None:
            self._app_gh = self._client(app_id=str(self.app_id), private_key=self._private_key)
        return self._app_gh

    def etag_cache(self, installation_id: int, scope: TokenScope = FULL_GRANT) -> cachetools.LRUCache[str, Any]:
        key = (installation_id, TokenScope(scope.repository_ids))
        cache = self._caches.get(key)
        if cache is None:
            cache = cachetools.LRUCache(self._etag_entries)
            self._caches[key] = cache
        return cache

    async def installation_token(self, installation_id: int, scope: TokenScope = FULL_GRANT) -> str:
        """A token for the installation narrowed to scope (GitHub refuses it anything else)."""
        key = (installation_id, scope)
        cached = self._tokens.get(key)
        if cached and cached[1] - TOKEN_MARGIN_SECONDS > time.time():
            return cached[0]
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached and cached[1] - TOKEN_MARGIN_SECONDS > time.time():
                return cached[0]
            gh = self.app_client()
            self.token_requests += 1
            # Not gidgethub's apps.get_installation_access_token: it signs a new JWT on every call.
            body = scope.request_body()
            answer = await gh.post(
                "/app/installations/{installation_id}/access_tokens",
                {"installation_id": installation_id},
                data=body if body else b"",
            )
            token = str(answer["token"])
            self._tokens[key] = (token, _expiry(answer["expires_at"]))
            log.debug("new installation token for installation %s (%s)", installation_id, body or "full grant")
            return token

    def forget_token(self, installation_id: int, scope: TokenScope = FULL_GRANT) -> None:
        self._tokens.pop((installation_id, scope), None)

    async def installation_client(self, installation_id: int, scope: TokenScope = FULL_GRANT) -> GitHubClient:
        token = await self.installation_token(installation_id, scope)
        return self._client(
            oauth_token=token,
            cache=self.etag_cache(installation_id, scope),
            installation_id=installation_id,
            pacer=self.pacer,
        )

    async def slug(self) -> str:
        """The app's slug; its bot user is '<slug>[bot]'."""
        if self._slug is None:
            me = await self.app_client().getitem("/app")
            self._slug = me["slug"]
        return self._slug

    async def bot_login(self) -> str:
        return f"{await self.slug()}[bot]"
