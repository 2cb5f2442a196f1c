"""The default durable queue: SQLite in WAL mode, one process, per-repository order, fair turns, retries.

Every delivery is committed before `put` returns (WAL with synchronous=NORMAL survives a kill -9).
All SQLite work runs on one writer thread, so the event loop never waits on the disk. Jobs found
'running' at start were interrupted by a crash and run again. One process owns a database file:
a second `serve` on the same file refuses to start (use `STATE_URL=redis://...` for replicas).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.queue import Delivery, FailureReporter, JobProcessor, QueueStopping, StoreUnavailable
from bot.queue.fair import FairTurns
from bot.queue.jobs import attempt, tell_people

if TYPE_CHECKING:
    from bot.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger("release_train.queue")

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    repo_key TEXT NOT NULL,
    installation_id INTEGER,
    body BLOB,
    state TEXT NOT NULL,            -- queued | running | done | ignored | failed | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    finished_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at);
"""

FINISHED = ("done", "ignored", "failed")
# Ids of finished deliveries are remembered this much longer than their payloads, for dedupe.
REMEMBER_IDS_SECONDS = 7 * 24 * 3600.0


def sqlite_path(state_url: str) -> Path:
    """sqlite:///var/x.db is relative to the working directory, sqlite:////abs/x.db absolute (pure)."""
    if not state_url.startswith("sqlite:///"):
        raise ValueError(f"STATE_URL {state_url!r} is not sqlite:///path, sqlite:////abs/path or redis://host:port/db")
    return Path(state_url[len("sqlite:///"):])


class _Job:
    __slots__ = ("seq", "delivery", "not_before")

    def __init__(self, seq: int, delivery: Delivery, not_before: float = 0.0) -> None:
        self.seq = seq
        self.delivery = delivery
        self.not_before = not_before


class SqliteQueue:
    def __init__(self, path: Path, settings: Settings, metrics: Metrics | None = None) -> None:
        self.path = Path(path)
        self.settings = settings
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-queue")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._pending: dict[str, deque[_Job]] = {}
        self._installation_of: dict[str, str] = {}
        self._turns = FairTurns()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._running: dict[str, asyncio.Future[None]] = {}  # repository -> its job in flight
        self._stopping = False
        self._processor: JobProcessor | None = None
        self._reporter: FailureReporter | None = None
        self._prune_task: asyncio.Task | None = None
        self._opened = False

    # the writer thread --------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _open_sync(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreUnavailable(f"{self.path} is in use by another release-train process") from None
        self._lock_fd = fd
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(SCHEMA)
        self._conn = conn

    def _close_sync(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _recover_sync(self) -> list[tuple[int, Delivery, float]]:
        assert self._conn is not None
        # A job still 'running' was cut short by a crash: it runs again (its handler is idempotent).
        interrupted = self._conn.execute("UPDATE jobs SET state='queued' WHERE state='running'").rowcount
        if interrupted:
            log.warning("%d interrupted job(s) will run again", interrupted)
        rows = self._conn.execute(
            "SELECT seq, delivery_id, event, body, repo_key, installation_id, attempts, not_before"
            " FROM jobs WHERE state='queued' ORDER BY seq"
        ).fetchall()
        return [(r[0], Delivery(r[1], r[2], bytes(r[3] or b""), r[4], r[5], r[6]), r[7]) for r in rows]

    def _put_sync(self, d: Delivery) -> tuple[bool, int]:
        assert self._conn is not None
        conn = self._conn
        cur = conn.execute(
            "INSERT OR IGNORE INTO jobs (delivery_id, event, repo_key, installation_id, body, state, received_at)"
            " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
            (d.id, d.event, d.repo_key, d.installation_id, d.body, time.time()),
        )
        if cur.rowcount == 1:
            return True, int(cur.lastrowid or 0)
        row = conn.execute("SELECT seq, state FROM jobs WHERE delivery_id=?", (d.id,)).fetchone()
        if row is not None and row[1] == "dead":
            # A redelivery of a dead letter gets a fresh set of attempts, at the back of its repository's line.
            conn.execute("DELETE FROM jobs WHERE seq=?", (row[0],))
            cur = conn.execute(
                "INSERT INTO jobs (delivery_id, event, repo_key, installation_id, body, state, received_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (d.id, d.event, d.repo_key, d.installation_id, d.body, time.time()),
            )
            return True, int(cur.lastrowid or 0)
        return False, 0

    def _mark_running_sync(self, seq: int) -> int:
        assert self._conn is not None
        self._conn.execute("UPDATE jobs SET state='running', attempts=attempts+1 WHERE seq=?", (seq,))
        return int(self._conn.execute("SELECT attempts FROM jobs WHERE seq=?", (seq,)).fetchone()[0])

    def _settle_sync(self, seq: int, state: str, not_before: float, error: str | None) -> None:
        assert self._conn is not None
        finished = time.time() if state != "queued" else None
        self._conn.execute(
            "UPDATE jobs SET state=?, not_before=?, last_error=COALESCE(?, last_error), finished_at=? WHERE seq=?",
            (state, not_before, error, finished, seq),
        )

    def _release_sync(self, seq: int) -> None:
        assert self._conn is not None
        # An attempt cut short by shutdown does not count against the job.
        self._conn.execute("UPDATE jobs SET state='queued', attempts=MAX(0, attempts-1) WHERE seq=? AND state='running'", (seq,))

    def _prune_sync(self, retention: float) -> tuple[int, int]:
        assert self._conn is not None
        now = time.time()
        emptied = self._conn.execute(
            "UPDATE jobs SET body=NULL WHERE state IN ('done','ignored','failed') AND body IS NOT NULL AND finished_at < ?",
            (now - retention,),
        ).rowcount
        forgotten = self._conn.execute(
            "DELETE FROM jobs WHERE state IN ('done','ignored','failed','dead') AND finished_at < ?",
            (now - retention - REMEMBER_IDS_SECONDS,),
        ).rowcount
        return emptied, forgotten

    def _lookup_sync(self, delivery_id: str) -> str | None:
        assert self._conn is not None
        row = self._conn.execute("SELECT state FROM jobs WHERE delivery_id=?", (delivery_id,)).fetchone()
        return row[0] if row else None

    def _counts_sync(self) -> dict[str, int]:
        assert self._conn is not None
        return dict(self._conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    # lifecycle ------------------------------------------------------------------------------
    async def open(self) -> None:
        if not self._opened:
            await self._db(self._open_sync)
            self._opened = True

    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None:
        await self.open()
        self._processor = processor
        self._reporter = reporter
        # The database is the truth: whatever was put before start is loaded from it, once.
        self._pending.clear()
        self._turns = FairTurns()
        for seq, delivery, not_before in await self._db(self._recover_sync):
            self._add(_Job(seq, delivery, not_before))
        for _ in range(max(1, self.settings.concurrency)):
            self._workers.append(asyncio.get_running_loop().create_task(self._work()))
        self._prune_task = asyncio.get_running_loop().create_task(self._prune_forever())

    async def stop(self, grace: float = 10.0) -> None:
        """Take no more jobs, let those in flight finish for up to `grace` seconds, release the rest."""
        self._stopping = True
        self._wakeup.set()
        for timer in self._timers:
            timer.cancel()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=grace)
        tasks = [*self._workers, *([self._prune_task] if self._prune_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        if self._opened:
            await self._db(self._close_sync)
            self._opened = False
        self._executor.shutdown(wait=True)

    # the queue's surface ----------------------------------------------------------------------
    async def put(self, delivery: Delivery) -> bool:
        if self._stopping:
            raise QueueStopping("the server is shutting down")
        try:
            fresh, seq = await self._db(self._put_sync, delivery)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            raise StoreUnavailable(f"the queue could not store the delivery: {exc}") from exc
        if fresh:
            self._add(_Job(seq, delivery))
        return fresh

    async def seen(self, delivery_id: str) -> bool:
        return (await self.state_of(delivery_id)) not in (None, "dead")

    async def state_of(self, delivery_id: str) -> str | None:
        return await self._db(self._lookup_sync, delivery_id)

    async def claim_round(self, name: str, seconds: float) -> bool:
        return True  # one process owns the database

    async def counts(self) -> dict[str, int]:
        return await self._db(self._counts_sync)

    async def prune(self) -> tuple[int, int]:
        return await self._db(self._prune_sync, self.settings.finished_retention_seconds)

    def depth(self) -> int:
        return sum(len(jobs) for jobs in self._pending.values())

    async def wait_idle(self) -> None:
        while self.depth():
            self._idle.clear()
            await self._idle.wait()

    # scheduling ---------------------------------------------------------------------------------
    def _add(self, job: _Job) -> None:
        key = job.delivery.repo_key
        self._pending.setdefault(key, deque()).append(job)
        self._installation_of[key] = str(job.delivery.installation_id)
        self._idle.clear()
        self._update_depth()
        if key not in self._turns.busy:
            delay = job.not_before - time.time()
            if delay > 0 and len(self._pending[key]) == 1:
                self._turns.busy.add(key)
                self._later(delay, key)
            else:
                self._turns.make_ready(key, self._installation_of[key])
                self._wakeup.set()

    def _later(self, delay: float, repo_key: str) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._timers.discard(handle)  # type: ignore[arg-type]
            self._turns.finish(repo_key)
            if self._pending.get(repo_key):
                self._turns.make_ready(repo_key, self._installation_of.get(repo_key, "?"))
                self._wakeup.set()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _update_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self.depth())

    async def _work(self) -> None:
        while True:
            repo_key = None if self._stopping else self._turns.take()
            if repo_key is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._turns.has_ready():
                self._wakeup.set()  # another worker can take the next turn now
            finished = asyncio.get_running_loop().create_future()
            self._running[repo_key] = finished
            try:
                await self._run_head(repo_key)
            except Exception:  # noqa: BLE001 - the worker must outlive any bookkeeping failure
                log.exception("the queue could not record the outcome of a job for %s; it will run again", repo_key)
                self._later(max(1.0, self.settings.retry_base_seconds), repo_key)
            finally:
                self._running.pop(repo_key, None)
                if not finished.done():
                    finished.set_result(None)

    async def _run_head(self, repo_key: str) -> None:
        assert self._processor is not None
        jobs = self._pending[repo_key]
        job = jobs[0]
        try:
            attempts = await self._db(self._mark_running_sync, job.seq)
            outcome = await attempt(
                self._processor,
                job.delivery,
                attempt_number=attempts,
                max_attempts=self.settings.max_attempts,
                retry_base=self.settings.retry_base_seconds,
                retry_cap=self.settings.retry_cap_seconds,
                metrics=self.metrics,
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._db(self._release_sync, job.seq))
            self._turns.finish(repo_key)
            raise
        except Exception:
            # The store itself failed; the job stays queued in memory and tries again shortly.
            log.exception("queue bookkeeping failed for delivery %s", job.delivery.id)
            self._later(self.settings.retry_base_seconds, repo_key)
            return
        if outcome.kind == "retry":
            not_before = time.time() + outcome.delay
            await self._db(self._settle_sync, job.seq, "queued", not_before, outcome.error)
            self._later(outcome.delay, repo_key)
            return
        await self._db(self._settle_sync, job.seq, outcome.kind, 0.0, outcome.error)
        if outcome.kind in ("dead", "failed") and self._reporter is not None:
            await tell_people(self._reporter, job.delivery, outcome.error or "", outcome.kind == "dead")
        jobs.popleft()
        if not jobs:
            del self._pending[repo_key]
        self._turns.finish(repo_key)
        if jobs:
            self._turns.make_ready(repo_key, self._installation_of.get(repo_key, "?"))
            self._wakeup.set()
        self._update_depth()
        if not self._pending:
            self._idle.set()

    async def _prune_forever(self) -> None:
        interval = max(1.0, min(600.0, self.settings.finished_retention_seconds / 4))
        while True:
            try:
                emptied, forgotten = await self.prune()
                if emptied or forgotten:
                    log.info("pruned %d finished payload(s), forgot %d old delivery id(s)", emptied, forgotten)
            except sqlite3.Error:
                log.exception("pruning the queue failed")
            await asyncio.sleep(interval)
