"""The one door to GitHub: a gidgethub GitHubAPI subclass with retry, rate-limit handling and call records."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp
from gidgethub import HTTPException

from bot.github.pacing import Pacer, is_paced_write

log = logging.getLogger("release_train.github")

# Methods that are safe to repeat at the HTTP level: reads, and writes that set a state.
# POST creates things (comments, PRs, issues, commits); a failed POST is retried by re-running
# the job, whose reconcile step finds what the first attempt made.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
# Git objects (blobs, trees, commits, tag objects) are invisible until a ref points at them: a repeated
# create at worst leaves an unreferenced object, so these POSTs are repeated at the HTTP level too
# (a cherry-pick makes several; re-running its whole job for each failed one would rarely get through a flaky GitHub).
_GIT_OBJECT_CREATE = re.compile(r"/repos/[^/]+/[^/]+/git/(?:blobs|trees|commits|tags)/?$")


def repeatable(method: str, url: str) -> bool:
    """True when the request is safe to send again after a transient failure."""
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and _GIT_OBJECT_CREATE.search(url.split("?", 1)[0]) is not None


CallObserver = Callable[[str, str, int], None]  # (method, url, status) -> None
RateObserver = Callable[[int | None, int], None]  # (installation_id, x-ratelimit-remaining) -> None


class TransientError(Exception):
    """GitHub could not be reached or answered with a temporary failure; the job should be retried."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_delay(exc: HTTPException) -> float | None:
    """How long to wait before retrying a failed answer, or None when it is permanent (pure)."""
    status = int(exc.status_code)
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 1.0
    if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset")
        if reset:
            try:
                return max(0.0, float(reset) - time.time()) + 1.0
            except ValueError:
                return 60.0
        return 60.0
    if status == 429:
        return 60.0
    if status >= 500:
        return 0.0  # backoff alone decides
    return None


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter for the given 1-based attempt, for requests and for jobs alike."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def graphql_endpoint(api_url: str) -> str:
    """GitHub's GraphQL URL for a REST base URL: `<base>/graphql`, or `https://host/api/graphql` on Enterprise Server (pure)."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


class GitHubClient(gidgethub.aiohttp.GitHubAPI):
    """An installation's (or the app's) view of GitHub.

    Retries transient failures with exponential backoff and jitter on requests that are safe to
    repeat, paces content-creating writes through an optional pacer, and reports every HTTP call to
    an observer (metrics, and the call-counting tests).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        requester: str,
        *,
        installation_id: int | None = None,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_wait: float = 120.0,
        pacer: Pacer | None = None,
        observer: CallObserver | None = None,
        rate_observer: RateObserver | None = None,
        retry_observer: Callable[[str], None] | None = None,
        sleeper: Callable[[float], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(session, requester, **kwargs)
        self.installation_id = installation_id
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        self.pacer = pacer
        self.observer = observer
        self.rate_observer = rate_observer
        self.retry_observer = retry_observer
        self._sleeper = sleeper
        self.retries = 0

    @property
    def graphql_url(self) -> str:
        return graphql_endpoint(self.base_url)

    async def graphql(self, query: str, *, endpoint: str | None = None, **variables: Any) -> Any:
        """gidgethub's GraphQL call, at this GitHub's GraphQL URL; a GitHub that is down is a transient failure."""
        # GraphQL answers carry GraphQL's own rate-limit headers: keep REST's budget as REST last reported it.
        rest_limit = self.rate_limit
        try:
            return await super().graphql(query, endpoint=endpoint or self.graphql_url, **variables)
        except gidgethub.GitHubBroken as exc:
            raise TransientError(f"POST {endpoint or self.graphql_url}: {exc}") from exc
        except gidgethub.BadGraphQLRequest as exc:
            if int(exc.status_code) in (403, 429) and "rate limit" in str(exc).lower():
                raise TransientError(f"POST {endpoint or self.graphql_url}: {exc}", retry_after=60.0) from exc
            raise
        finally:
            self.rate_limit = rest_limit

    async def sleep(self, seconds: float) -> None:
        if self._sleeper is not None:
            await self._sleeper(seconds)
        else:
            await asyncio.sleep(seconds)

    def _count_retry(self, reason: str) -> None:
        self.retries += 1
        if self.retry_observer is not None:
            self.retry_observer(reason)

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        # gidgethub counts down `rate_limit.remaining` before each request; once the primary limit is
        # spent, wait for its reset here, or hand the wait to the job queue when it is long.
        limit = self.rate_limit
        if limit is None or limit.remaining > 0:
            return
        wait = limit.reset_datetime.timestamp() - time.time() + 1.0
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise TransientError(f"{method} {url}: rate limit spent for {wait:.0f}s more", retry_after=wait)
        await self.sleep(wait)

    async def handle_rate_limit_error(self, *, method: str, url: str, exception: HTTPException, attempt: int) -> bool:
        delay = retry_delay(exception)
        if delay is None:
            return False
        if not repeatable(method, url) or attempt > self.max_retries:
            raise TransientError(
                f"{method} {url} answered {int(exception.status_code)}", retry_after=delay
            ) from exception
        wait = max(delay, backoff(attempt, self.backoff_base, self.backoff_cap))
        if wait > self.max_wait:
            raise TransientError(f"{method} {url}: rate limited for {wait:.0f}s", retry_after=wait) from exception
        self._count_retry("http")
        log.info("retrying %s %s after %s (attempt %d, %.2fs)", method, url, int(exception.status_code), attempt, wait)
        await self.sleep(wait)
        return True

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        # Pacing wraps one HTTP exchange, so its slot is released however the exchange ends.
        pacer = self.pacer if is_paced_write(method, url) else None
        if pacer is not None:
            await pacer.acquire(self.installation_id, url)
        try:
            return await self._exchange(method, url, headers, body)
        finally:
            if pacer is not None:
                await pacer.release(self.installation_id)

    async def _exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        attempt = 0
        while True:
            attempt += 1
            try:
                status, resp_headers, resp_body = await super()._request(method, url, headers, body)
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                if self.observer is not None:
                    self.observer(method, url, 0)
                if not repeatable(method, url) or attempt > self.max_retries:
                    raise TransientError(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc
                self._count_retry("network")
                await self.sleep(backoff(attempt, self.backoff_base, self.backoff_cap))
                continue
            if self.observer is not None:
                self.observer(method, url, status)
            if self.rate_observer is not None:
                remaining = resp_headers.get("x-ratelimit-remaining")
                if remaining is not None and remaining.isdigit():
                    self.rate_observer(self.installation_id, int(remaining))
            return status, resp_headers, resp_body
