"""Write pacing: content-creating requests per installation under GitHub's per-minute and per-hour limits, one at a time."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

MINUTE = 60.0
HOUR = 3600.0


def is_paced_write(method: str, url: str) -> bool:
    """GitHub's content-creation limit counts POSTs and merges (PUT .../merge) (pure)."""
    method = method.upper()
    if method == "POST":
        return True
    path = url.split("?", 1)[0].rstrip("/")
    return method == "PUT" and path.endswith("/merge")


def wait_needed(sent_at: list[float] | deque[float], now: float, per_minute: int, per_hour: int) -> float:
    """Seconds to wait before one more write fits both windows, given past write times (pure)."""
    wait = 0.0
    recent_minute = [t for t in sent_at if t > now - MINUTE]
    if per_minute > 0 and len(recent_minute) >= per_minute:
        wait = max(wait, recent_minute[-per_minute] + MINUTE - now)
    recent_hour = [t for t in sent_at if t > now - HOUR]
    if per_hour > 0 and len(recent_hour) >= per_hour:
        wait = max(wait, recent_hour[-per_hour] + HOUR - now)
    return max(0.0, wait)


class Pacer(Protocol):
    async def acquire(self, installation_id: int | None, url: str) -> None: ...

    async def release(self, installation_id: int | None) -> None: ...


class WritePacer:
    """In-process pacing: one write in flight per installation, and sliding one-minute and one-hour windows."""

    def __init__(
        self,
        writes_per_minute: int,
        writes_per_hour: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.writes_per_minute = writes_per_minute
        self.writes_per_hour = writes_per_hour
        self._clock = clock
        self._sleep = sleeper
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._sent: dict[int | None, deque[float]] = {}
        self.waited_seconds = 0.0

    def in_flight(self, installation_id: int | None) -> bool:
        lock = self._locks.get(installation_id)
        return bool(lock and lock.locked())

    async def acquire(self, installation_id: int | None, url: str) -> None:
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        await lock.acquire()
        try:
            sent = self._sent.setdefault(installation_id, deque())
            while True:
                now = self._clock()
                while sent and sent[0] <= now - HOUR:
                    sent.popleft()
                wait = wait_needed(sent, now, self.writes_per_minute, self.writes_per_hour)
                if wait <= 0:
                    break
                self.waited_seconds += wait
                await self._sleep(wait)
            sent.append(self._clock())
        except BaseException:
            lock.release()
            raise

    async def release(self, installation_id: int | None) -> None:
        lock = self._locks.get(installation_id)
        if lock is not None and lock.locked():
            lock.release()


class RedisWritePacer:
    """Pacing shared by every replica: a Redis lock per installation and a sorted set of write times."""

    def __init__(
        self, redis: Any, writes_per_minute: int, writes_per_hour: int, *, prefix: str = "rt", lock_ttl_ms: int = 5_000
    ) -> None:
        self.redis = redis
        self.writes_per_minute = writes_per_minute
        self.writes_per_hour = writes_per_hour
        self.prefix = prefix
        # Short, and kept alive while held: a replica killed mid-write holds up the installation's
        # writes on every other replica only until the lock lapses (a 60 s lock stalled them all).
        self.lock_ttl_ms = lock_ttl_ms
        self._tokens: dict[int | None, str] = {}
        self._local: dict[int | None, asyncio.Lock] = {}
        self._keepers: dict[int | None, asyncio.Task[None]] = {}

    async def _keep(self, lock_key: str, token: str) -> None:
        """Extend our own lock every third of its lifetime while we hold it."""
        while True:
            await asyncio.sleep(self.lock_ttl_ms / 3000)
            try:
                await self.redis.eval(
                    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
                    1,
                    lock_key,
                    token,
                    self.lock_ttl_ms,
                )
            except Exception:  # Redis gone for a moment: the lock may lapse, which only loosens pacing
                pass

    def _keys(self, installation_id: int | None) -> tuple[str, str]:
        return f"{self.prefix}:pace:{installation_id}:lock", f"{self.prefix}:pace:{installation_id}:sent"

    async def acquire(self, installation_id: int | None, url: str) -> None:
        import uuid

        local = self._local.setdefault(installation_id, asyncio.Lock())
        await local.acquire()
        lock_key, sent_key = self._keys(installation_id)
        token = uuid.uuid4().hex
        try:
            delay = 0.005
            while not await self.redis.set(lock_key, token, nx=True, px=self.lock_ttl_ms):
                await asyncio.sleep(delay)
                delay = min(0.2, delay * 2)
            self._tokens[installation_id] = token
            self._keepers[installation_id] = asyncio.get_running_loop().create_task(self._keep(lock_key, token))
            while True:
                now = time.time()
                await self.redis.zremrangebyscore(sent_key, "-inf", now - HOUR)
                times = [float(score) for _, score in await self.redis.zrange(sent_key, 0, -1, withscores=True)]
                wait = wait_needed(times, now, self.writes_per_minute, self.writes_per_hour)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            now = time.time()
            await self.redis.zadd(sent_key, {f"{now}:{token}": now})
            await self.redis.expire(sent_key, int(HOUR) + 60)
        except BaseException:
            await self._unlock(installation_id, token)
            local.release()
            raise

    async def _unlock(self, installation_id: int | None, token: str) -> None:
        keeper = self._keepers.pop(installation_id, None)
        if keeper is not None:
            keeper.cancel()
        lock_key, _ = self._keys(installation_id)
        # Delete only our own lock: compare-and-delete in one step.
        await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
            1,
            lock_key,
            token,
        )

    async def release(self, installation_id: int | None) -> None:
        token = self._tokens.pop(installation_id, None)
        if token is not None:
            await self._unlock(installation_id, token)
        local = self._local.get(installation_id)
        if local is not None and local.locked():
            local.release()
