"""The shared queue for several replicas (STATE_URL=redis://...): per-repository lists, leased repository locks, a ready set.

Keys (prefix `rt`):
  rt:seen:<delivery>   the delivery's state (queued, running, done, ignored, failed, dead): dedupe
  rt:job:<delivery>    hash of the stored delivery (event, body, repository, installation, attempts)
  rt:repo:<repo>       list of the repository's delivery ids, in arrival order; the head is the next job
  rt:ready             sorted set of repositories with work, scored by when they may next run
  rt:lock:<repo>       the replica running the repository's head job, with a lease (PX) kept alive by a heartbeat
  rt:pending           how many stored jobs are not finished (all replicas)

A replica takes the repository with the lowest score that is due, locks it, pushes its score to
the lease's end, and runs the head job. When the job finishes the head is popped and the repository
goes to the back of the ready set (a turn each: a flood in one repository does not starve the
others). A replica that dies stops renewing its lease; once the lease ends, another replica takes
the repository and runs the same head job again (the handlers reconcile, so that is harmless).
Durability is Redis's own: run it with appendonly for the queue to survive a Redis restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.queue import Delivery, FailureReporter, JobProcessor, QueueStopping, StoreUnavailable
from bot.queue.jobs import attempt, log_recorded, tell_people

if TYPE_CHECKING:
    from bot.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger("release_train.queue")

REMEMBER_IDS_SECONDS = 7 * 24 * 3600

PUT = """
local state = redis.call('GET', KEYS[1])
if state and state ~= 'dead' then return 0 end
redis.call('SET', KEYS[1], 'queued')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'event', ARGV[2], 'body', ARGV[3], 'repo_key', ARGV[4], 'installation_id', ARGV[5], 'attempts', 0)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', ARGV[6], ARGV[4])
redis.call('INCR', KEYS[5])
return 1
"""

TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 20)
for _, repo in ipairs(due) do
  if redis.call('SET', ARGV[5] .. ':lock:' .. repo, ARGV[3], 'NX', 'PX', ARGV[4]) then
    local head = redis.call('LINDEX', ARGV[5] .. ':repo:' .. repo, 0)
    if head then
      redis.call('ZADD', KEYS[1], ARGV[2], repo)
      return {repo, head}
    end
    redis.call('ZREM', KEYS[1], repo)
    redis.call('DEL', ARGV[5] .. ':lock:' .. repo)
  end
end
return false
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
"""

# Finish the head job: pop it, record its state, send the repository to the back of the line, unlock.
FINISH = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
  -- Another replica finished it after our lease ran out; it has done the bookkeeping.
  if redis.call('GET', KEYS[5]) == ARGV[7] then redis.call('DEL', KEYS[5]) end
  return 0
end
redis.call('LPOP', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[5])
if ARGV[2] == 'dead' then redis.call('EXPIRE', KEYS[3], ARGV[5]) else redis.call('EXPIRE', KEYS[3], ARGV[6]) end
if redis.call('LLEN', KEYS[1]) > 0 then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4]) else redis.call('ZREM', KEYS[4], ARGV[4]) end
redis.call('DECR', KEYS[6])
if redis.call('GET', KEYS[5]) == ARGV[7] then redis.call('DEL', KEYS[5]) end
return 1
"""

# Put the head job back (a retry later, or a release on shutdown) and unlock.
PARK = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], 'queued')
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""


def without_password(url: str) -> str:
    """The URL fit for a log: a password (Heroku's REDIS_URL carries one) is left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisQueue:
    def __init__(
        self, settings: Settings, metrics: Metrics | None = None, *, prefix: str = "rt", redis: Any = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.prefix = prefix
        self._redis = redis
        self._owns_redis = redis is None
        self.replica = uuid.uuid4().hex[:12]
        self._processor: JobProcessor | None = None
        self._reporter: FailureReporter | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Future[None]] = set()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._pending_seen = 0
        self._scripts: dict[str, Any] = {}

    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis.asyncio as aioredis

            url = self.settings.state_url
            tls = {}
            if url.startswith("rediss://") and "ssl_cert_reqs=" not in url:  # the URL's own word wins
                tls = {"ssl_cert_reqs": self.settings.redis_ssl_cert_reqs}
            self._redis = aioredis.from_url(url, decode_responses=False, **tls)
        return self._redis

    def write_pacer(self) -> Any:
        from bot.github.pacing import RedisWritePacer

        return RedisWritePacer(
            self.redis, self.settings.writes_per_minute, self.settings.writes_per_hour, prefix=self.prefix
        )

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def lease_ms(self) -> int:
        return max(100, int(self.settings.job_lease_seconds * 1000))

    async def _script(self, name: str, source: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(source)
        return await script(keys=keys, args=args)

    # lifecycle ------------------------------------------------------------------------------
    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None:
        self._processor = processor
        self._reporter = reporter
        try:
            await self.redis.ping()
        except Exception as exc:
            raise StoreUnavailable(
                f"Redis at {without_password(self.settings.state_url)} cannot be reached: {exc}"
            ) from exc
        loop = asyncio.get_running_loop()
        for _ in range(max(1, self.settings.concurrency)):
            self._workers.append(loop.create_task(self._work()))

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        if self._owns_redis and self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # the queue's surface ----------------------------------------------------------------------
    async def put(self, delivery: Delivery, *, ignored: bool = False) -> bool:
        if self._stopping:
            raise QueueStopping("the server is shutting down")
        if ignored:
            # No handler wants it: only the id is remembered, for dedupe of redeliveries; no job.
            remember = int(self.settings.finished_retention_seconds + REMEMBER_IDS_SECONDS)
            try:
                return bool(await self.redis.set(self._k("seen", delivery.id), "ignored", nx=True, ex=remember))
            except Exception as exc:
                raise StoreUnavailable(f"Redis could not store the delivery: {exc}") from exc
        try:
            fresh = await self._script(
                "put",
                PUT,
                [
                    self._k("seen", delivery.id),
                    self._k("job", delivery.id),
                    self._k("repo", delivery.repo_key),
                    self._k("ready"),
                    self._k("pending"),
                ],
                [
                    delivery.id,
                    delivery.event,
                    delivery.body,
                    delivery.repo_key,
                    str(delivery.installation_id or ""),
                    time.time(),
                ],
            )
        except Exception as exc:
            raise StoreUnavailable(f"Redis could not store the delivery: {exc}") from exc
        if fresh:
            self._wakeup.set()
        return bool(fresh)

    async def state_of(self, delivery_id: str) -> str | None:
        state = await self.redis.get(self._k("seen", delivery_id))
        return state.decode() if state is not None else None

    async def seen(self, delivery_id: str) -> bool:
        return (await self.state_of(delivery_id)) not in (None, "dead")

    async def claim_round(self, name: str, seconds: float) -> bool:
        """True for one replica per `seconds` (periodic rounds such as the catch-up run once, not once per replica)."""
        return bool(await self.redis.set(self._k("round", name), self.replica, nx=True, px=max(1, int(seconds * 1000))))

    # the failure ledger: one hash per repository, shared by every replica -------------------
    async def open_failures(self, repo_key: str) -> dict[str, bytes]:
        entries = await self.redis.hgetall(self._k("failures", repo_key))
        return {bytes(subject).decode(): bytes(entry) for subject, entry in entries.items()}

    async def note_failure(self, repo_key: str, subject: str, entry: bytes) -> None:
        await self.redis.hset(self._k("failures", repo_key), subject, entry)

    async def clear_failure(self, repo_key: str, subject: str) -> None:
        await self.redis.hdel(self._k("failures", repo_key), subject)

    async def pending(self) -> int:
        value = await self.redis.get(self._k("pending"))
        self._pending_seen = int(value or 0)
        return self._pending_seen

    def depth(self) -> int:
        return self._pending_seen

    async def wait_idle(self) -> None:
        while await self.pending():
            await asyncio.sleep(0.02)

    # working -----------------------------------------------------------------------------------
    async def _work(self) -> None:
        idle_wait = 0.01
        while not self._stopping:
            try:
                taken = await self._script(
                    "take",
                    TAKE,
                    [self._k("ready")],
                    [time.time(), time.time() + self.lease_ms / 1000, self.replica, self.lease_ms, self.prefix],
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("taking a job from Redis failed")
                await asyncio.sleep(1.0)
                continue
            if not taken:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), idle_wait)
                except TimeoutError:
                    pass
                idle_wait = min(0.25, idle_wait * 2)
                continue
            idle_wait = 0.01
            repo_key, delivery_id = taken[0].decode(), taken[1].decode()
            finished = asyncio.get_running_loop().create_future()
            self._running.add(finished)
            try:
                await self._run(repo_key, delivery_id)
            except Exception:
                log.exception("the queue could not record the outcome of delivery %s", delivery_id)
            finally:
                self._running.discard(finished)
                finished.set_result(None)

    async def _heartbeat(self, repo_key: str) -> None:
        interval = self.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            await self._script(
                "renew",
                RENEW,
                [self._k("lock", repo_key), self._k("ready")],
                [self.replica, self.lease_ms, time.time() + self.lease_ms / 1000, repo_key],
            )

    async def _run(self, repo_key: str, delivery_id: str) -> None:
        assert self._processor is not None
        job_key = self._k("job", delivery_id)
        fields = await self.redis.hgetall(job_key)
        if not fields:
            # The payload expired or was never whole: nothing can be done with this id.
            await self._finish(repo_key, delivery_id, "failed")
            return
        attempts = await self.redis.hincrby(job_key, "attempts", 1)
        await self.redis.set(self._k("seen", delivery_id), "running")
        inst = fields.get(b"installation_id", b"").decode()
        delivery = Delivery(
            id=delivery_id,
            event=fields[b"event"].decode(),
            body=bytes(fields[b"body"]),
            repo_key=repo_key,
            installation_id=int(inst) if inst.isdigit() else None,
            attempts=attempts,
        )
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(repo_key))
        try:
            outcome = await attempt(
                self._processor,
                delivery,
                attempt_number=attempts,
                max_attempts=self.settings.max_attempts,
                retry_base=self.settings.retry_base_seconds,
                retry_cap=self.settings.retry_cap_seconds,
                metrics=self.metrics,
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._park(repo_key, delivery_id, time.time(), uncount=True))
            raise
        finally:
            heartbeat.cancel()
        if outcome.kind == "retry":
            await self._park(repo_key, delivery_id, time.time() + outcome.delay)
            return
        await self._finish(repo_key, delivery_id, outcome.kind)
        log_recorded(delivery, outcome)
        if outcome.kind in ("dead", "failed") and self._reporter is not None:
            await tell_people(self._reporter, delivery, outcome.error or "", outcome.kind == "dead")

    async def _park(self, repo_key: str, delivery_id: str, not_before: float, uncount: bool = False) -> None:
        if uncount:
            await self.redis.hincrby(self._k("job", delivery_id), "attempts", -1)
        await self._script(
            "park",
            PARK,
            [self._k("ready"), self._k("lock", repo_key), self._k("seen", delivery_id)],
            [not_before, repo_key, self.replica],
        )
        self._wakeup.set()

    async def _finish(self, repo_key: str, delivery_id: str, state: str) -> None:
        retention = max(1, int(self.settings.finished_retention_seconds))
        await self._script(
            "finish",
            FINISH,
            [
                self._k("repo", repo_key),
                self._k("seen", delivery_id),
                self._k("job", delivery_id),
                self._k("ready"),
                self._k("lock", repo_key),
                self._k("pending"),
            ],
            [delivery_id, state, time.time(), repo_key, retention + REMEMBER_IDS_SECONDS, retention, self.replica],
        )
        self._wakeup.set()
