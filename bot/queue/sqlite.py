"""The default durable queue: SQLite in WAL mode, one process, per-repository order, fair turns, retries.

Every delivery is committed before `put` returns (WAL with synchronous=NORMAL survives a kill -9).
All SQLite work runs on one writer thread, so the event loop never waits on the disk; writes asked
for while it is busy share its next transaction (group commit), and WAL checkpoints run on a thread
of their own so their fsync never delays an acknowledgement. Queued jobs are held in memory as
row numbers only (but for a few hot ones); a job's delivery is read back when its turn comes. Jobs found
'running' at start were interrupted by a crash and run again. One process owns a database file:
a second `serve` on the same file refuses to start (use `STATE_URL=redis://...` for replicas).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.queue import Delivery, FailureReporter, JobProcessor, QueueStopping, StoreUnavailable
from bot.queue.fair import FairTurns
from bot.queue.jobs import attempt, log_recorded, tell_people

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
CREATE TABLE IF NOT EXISTS failures (  -- the failure ledger: open failures no PR or issue could be told about
    repo_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    entry BLOB NOT NULL,
    PRIMARY KEY (repo_key, subject)
);
"""

FINISHED = ("done", "ignored", "failed")
# Ids of finished deliveries are remembered this much longer than their payloads, for dedupe.
REMEMBER_IDS_SECONDS = 7 * 24 * 3600.0


def sqlite_path(state_url: str) -> Path:
    """sqlite:///./var/x.db (or sqlite:///var/x.db) is relative to the working directory, sqlite:////abs/x.db
    absolute (pure)."""
    if not state_url.startswith("sqlite:///"):
        raise ValueError(
            f"STATE_URL {state_url!r} is not sqlite:///./relative/path, sqlite:////absolute/path or redis://host:port/db"
        )
    return Path(state_url[len("sqlite:///") :])


# Jobs whose bodies stay in memory at once; past this, a backlog lives on disk only.
HOT_JOBS = 32
# The checkpointer copies the WAL into the database this often, or sooner once the WAL is this large.
CHECKPOINT_SECONDS = 1.0
CHECKPOINT_WAL_BYTES = 2 << 20
CHECKPOINT_POLL_SECONDS = 0.05
PRUNE_CHUNK = 2000


class _Checkpointer(threading.Thread):
    """Runs WAL checkpoints on its own connection and thread, so their fsync never delays an acknowledgement."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="sqlite-checkpointer", daemon=True)
        self.path = path
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            # The lowest CPU priority for this thread alone: copying pages never competes with acknowledgements.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass
        wal = str(self.path) + "-wal"
        last = time.monotonic()
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        except sqlite3.Error:
            log.exception("the WAL checkpointer could not open %s", self.path)
            return
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            while not self.halt.wait(CHECKPOINT_POLL_SECONDS):
                try:
                    size = os.path.getsize(wal)
                except OSError:
                    continue
                if size == 0 or (size < CHECKPOINT_WAL_BYTES and time.monotonic() - last < CHECKPOINT_SECONDS):
                    continue
                last = time.monotonic()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.warning("a WAL checkpoint failed; the next one will try again", exc_info=True)
        finally:
            conn.close()


class SqliteQueue:
    def __init__(self, path: Path, settings: Settings, metrics: Metrics | None = None) -> None:
        self.path = Path(path)
        self.settings = settings
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-queue")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._checkpointer: _Checkpointer | None = None
        # A queued job in memory is its row number in its repository's line, so a backlog costs ~40 bytes
        # a job; the few hot ones also keep their delivery (body included) so they run without a read.
        self._pending: dict[str, deque[int]] = {}
        self._hot_deliveries: dict[int, Delivery] = {}
        self._not_before: dict[int, float] = {}  # only for jobs recovered while waiting for a retry
        self._depth = 0
        self._installation_of: dict[str, str] = {}
        self._turns = FairTurns()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._running: dict[str, asyncio.Future[None]] = {}  # repository -> its job in flight
        self._stopping = False
        self._processor: JobProcessor | None = None
        self._reporter: FailureReporter | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self._opened = False
        # Group commit: writes asked for while the writer is busy go together in its next transaction.
        self._batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._writing = False
        self._turn_asked = False
        # Repositories with an open failure: one process owns the database, so a job that succeeds in any
        # other repository (nearly all) asks the ledger nothing.
        self._failing: set[str] = set()

    # the writer thread --------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _write(self, *op: Any) -> asyncio.Future[Any]:
        """Queue one write for the writer's next turn; the future resolves once its transaction commits."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._batch.append((op, future))
        if not self._writing and not self._turn_asked:
            # Starting the turn on the loop's next pass lets every request read in this pass join it.
            self._turn_asked = True
            loop.call_soon(self._start_turn, loop)
        return future

    def _start_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        self._turn_asked = False
        if self._writing or not self._batch:
            return
        batch, self._batch = self._batch, []
        self._writing = True
        try:
            self._executor.submit(self._turn_sync, loop, batch)
        except RuntimeError as exc:  # the executor is shut down
            self._writing = False
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)

    def _turn_sync(
        self, loop: asyncio.AbstractEventLoop, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]
    ) -> None:
        results = self._apply_sync([op for op, _ in batch])
        try:
            loop.call_soon_threadsafe(self._turn_done, loop, batch, results)
        except RuntimeError:
            pass  # the loop is closed; nobody waits for these answers any more

    def _turn_done(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]],
        results: list[Any],
    ) -> None:
        self._writing = False
        self._turn_asked = False
        for (_, future), result in zip(batch, results, strict=False):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._batch:
            self._start_turn(loop)

    def _apply_sync(self, ops: list[tuple[Any, ...]]) -> list[Any]:
        """Every op in one transaction; if it fails, each op alone, so one bad write fails only itself."""
        conn = self._conn
        if conn is None:
            return [StoreUnavailable("the queue is closed")] * len(ops)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                results = [self._apply_one_sync(op) for op in ops]
                conn.execute("COMMIT")
                return results
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            if len(ops) == 1:
                return [exc]
            return [self._apply_sync([op])[0] for op in ops]

    def _apply_one_sync(self, op: tuple[Any, ...]) -> Any:
        kind = op[0]
        if kind == "put":
            return self._put_sync(op[1], op[2])
        if kind == "run":
            return self._mark_running_sync(op[1], op[2])
        if kind == "settle":
            return self._settle_sync(*op[1:])
        if kind == "note_failure":
            return (
                self._conn_sync()
                .execute("INSERT OR REPLACE INTO failures (repo_key, subject, entry) VALUES (?, ?, ?)", op[1:])
                .rowcount
            )
        if kind == "clear_failure":
            return self._conn_sync().execute("DELETE FROM failures WHERE repo_key=? AND subject=?", op[1:]).rowcount
        raise ValueError(f"unknown queue write {kind!r}")

    def _open_sync(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreUnavailable(
                f"the queue's database {self.path.resolve()} is in use by another release-train process "
                "(one serve per database; point replicas at one Redis instead)"
            ) from None
        self._lock_fd = fd
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        # Checkpoints (and their fsync) belong to the checkpointer thread, never to a commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"PRAGMA journal_size_limit={4 * CHECKPOINT_WAL_BYTES}")
        conn.executescript(SCHEMA)
        self._conn = conn
        self._checkpointer = _Checkpointer(self.path)
        self._checkpointer.start()

    def _close_sync(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.halt.set()
            self._checkpointer.join()
            self._checkpointer = None
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

    def _recover_sync(self) -> list[tuple[int, str, int | None, float]]:
        assert self._conn is not None
        # A job still 'running' was cut short by a crash: it runs again (its handler is idempotent).
        interrupted = self._conn.execute("UPDATE jobs SET state='queued' WHERE state='running'").rowcount
        if interrupted:
            log.warning("%d interrupted job(s) will run again", interrupted)
        # Deliveries stay on disk: each is read when its job's turn comes.
        rows = self._conn.execute(
            "SELECT seq, repo_key, installation_id, not_before FROM jobs WHERE state='queued' ORDER BY seq"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def _put_sync(self, d: Delivery, state: str) -> tuple[bool, int]:
        assert self._conn is not None
        conn = self._conn
        # An ignored delivery keeps only its id (for dedupe of redeliveries): no body, no job.
        body = d.body if state == "queued" else None
        now = time.time()
        finished = now if state != "queued" else None
        insert = (
            "INSERT OR IGNORE INTO jobs (delivery_id, event, repo_key, installation_id, body, state, received_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        values = (d.id, d.event, d.repo_key, d.installation_id, body, state, now, finished)
        cur = conn.execute(insert, values)
        if cur.rowcount == 1:
            return True, int(cur.lastrowid or 0)
        row = conn.execute("SELECT seq, state FROM jobs WHERE delivery_id=?", (d.id,)).fetchone()
        if row is not None and row[1] == "dead":
            # A redelivery of a dead letter gets a fresh set of attempts, at the back of its repository's line.
            conn.execute("DELETE FROM jobs WHERE seq=?", (row[0],))
            cur = conn.execute(insert.replace("OR IGNORE ", ""), values)
            return True, int(cur.lastrowid or 0)
        return False, 0

    def _mark_running_sync(self, seq: int, stored: bool) -> tuple[int, Delivery | None]:
        """Mark a job running and count the attempt; with `stored`, also read its delivery back."""
        assert self._conn is not None
        self._conn.execute("UPDATE jobs SET state='running', attempts=attempts+1 WHERE seq=?", (seq,))
        if not stored:
            return int(self._conn.execute("SELECT attempts FROM jobs WHERE seq=?", (seq,)).fetchone()[0]), None
        row = self._conn.execute(
            "SELECT attempts, delivery_id, event, body, repo_key, installation_id FROM jobs WHERE seq=?", (seq,)
        ).fetchone()
        return int(row[0]), Delivery(row[1], row[2], bytes(row[3] or b""), row[4], row[5], int(row[0]))

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
        self._conn.execute(
            "UPDATE jobs SET state='queued', attempts=MAX(0, attempts-1) WHERE seq=? AND state='running'", (seq,)
        )

    def _prune_sync(self, retention: float) -> tuple[int, int]:
        assert self._conn is not None
        now = time.time()
        # In chunks, so a large prune never holds the writer (and the acknowledgements behind it) for long.
        emptied = self._conn.execute(
            "UPDATE jobs SET body=NULL WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ? AND body IS NOT NULL"
            " AND state IN ('done','ignored','failed') LIMIT ?)",
            (now - retention, PRUNE_CHUNK),
        ).rowcount
        forgotten = self._conn.execute(
            "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ?"
            " AND state IN ('done','ignored','failed','dead') LIMIT ?)",
            (now - retention - REMEMBER_IDS_SECONDS, PRUNE_CHUNK),
        ).rowcount
        return emptied, forgotten

    def _conn_sync(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _failures_sync(self, repo_key: str | None) -> list[tuple[str, str, bytes]]:
        query = "SELECT repo_key, subject, entry FROM failures"
        rows = self._conn_sync().execute(
            *((query,) if repo_key is None else (query + " WHERE repo_key=?", (repo_key,)))
        )
        return [(r[0], r[1], bytes(r[2])) for r in rows]

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
            self._failing = {repo_key for repo_key, _, _ in await self._db(self._failures_sync, None)}
            self._opened = True

    # the failure ledger -----------------------------------------------------------------------
    async def open_failures(self, repo_key: str) -> dict[str, bytes]:
        if repo_key not in self._failing:
            return {}
        return {subject: entry for _, subject, entry in await self._db(self._failures_sync, repo_key)}

    async def note_failure(self, repo_key: str, subject: str, entry: bytes) -> None:
        await self.open()
        await self._write("note_failure", repo_key, subject, entry)
        self._failing.add(repo_key)

    async def clear_failure(self, repo_key: str, subject: str) -> None:
        await self._write("clear_failure", repo_key, subject)
        if not await self._db(self._failures_sync, repo_key):
            self._failing.discard(repo_key)

    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None:
        await self.open()
        self._processor = processor
        self._reporter = reporter
        # The database is the truth: whatever was put before start is loaded from it, once.
        self._pending.clear()
        self._hot_deliveries.clear()
        self._not_before.clear()
        self._depth = 0
        self._turns = FairTurns()
        for seq, repo, installation, not_before in await self._db(self._recover_sync):
            if not_before:
                self._not_before[seq] = not_before
            self._add(seq, repo, installation)
        # WORKER_CONCURRENCY=0 stores and acknowledges without running jobs (for measuring ingest alone).
        for _ in range(max(0, self.settings.concurrency)):
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
        while self._writing or self._batch:
            # Writes already asked for (settles of the jobs that just finished) are committed before closing.
            waiting = [future for _, future in self._batch]
            if not waiting:
                await asyncio.sleep(0.001)
                continue
            await asyncio.gather(*waiting, return_exceptions=True)
        if self._opened:
            await self._db(self._close_sync)
            self._opened = False
        self._executor.shutdown(wait=True)

    # the queue's surface ----------------------------------------------------------------------
    async def put(self, delivery: Delivery, *, ignored: bool = False) -> bool:
        """Store a delivery before it is acknowledged; False for an id seen before.

        An ignored delivery (no handler wants it) is stored as its id only, finished, with no job.
        """
        if self._stopping:
            raise QueueStopping("the server is shutting down")
        try:
            fresh, seq = await self._write("put", delivery, "ignored" if ignored else "queued")
        except (sqlite3.Error, OSError, RuntimeError, StoreUnavailable) as exc:
            raise StoreUnavailable(f"the queue could not store the delivery: {exc}") from exc
        if fresh and not ignored:
            if len(self._hot_deliveries) < HOT_JOBS:
                self._hot_deliveries[seq] = delivery
            self._add(seq, delivery.repo_key, delivery.installation_id)
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
        emptied = forgotten = 0
        while True:
            chunk = await self._db(self._prune_sync, self.settings.finished_retention_seconds)
            emptied, forgotten = emptied + chunk[0], forgotten + chunk[1]
            if chunk[0] < PRUNE_CHUNK and chunk[1] < PRUNE_CHUNK:
                return emptied, forgotten

    def depth(self) -> int:
        return self._depth

    async def wait_idle(self) -> None:
        while self.depth():
            self._idle.clear()
            await self._idle.wait()

    # scheduling ---------------------------------------------------------------------------------
    def _add(self, seq: int, key: str, installation: int | None) -> None:
        self._pending.setdefault(key, deque()).append(seq)
        self._depth += 1
        self._installation_of[key] = str(installation)
        self._idle.clear()
        self._update_depth()
        if key not in self._turns.busy:
            delay = self._not_before.get(seq, 0.0) - time.time()
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
            self._timers.discard(handle)
            self._turns.finish(repo_key)
            if self._pending.get(repo_key):
                self._turns.make_ready(repo_key, self._installation_of.get(repo_key, "?"))
                self._wakeup.set()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _update_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._depth)

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
            except Exception:
                log.exception("the queue could not record the outcome of a job for %s; it will run again", repo_key)
                self._later(max(1.0, self.settings.retry_base_seconds), repo_key)
            finally:
                self._running.pop(repo_key, None)
                if not finished.done():
                    finished.set_result(None)

    async def _run_head(self, repo_key: str) -> None:
        assert self._processor is not None
        jobs = self._pending[repo_key]
        seq = jobs[0]
        try:
            # A retry reads the delivery back from SQLite like any cold job.
            hot = self._hot_deliveries.pop(seq, None)
            self._not_before.pop(seq, None)
            attempts, stored = await self._write("run", seq, hot is None)
            delivery = stored if hot is None else dataclasses.replace(hot, attempts=attempts)
            assert delivery is not None
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
            await asyncio.shield(self._db(self._release_sync, seq))
            self._turns.finish(repo_key)
            raise
        except Exception:
            # The store itself failed; the job stays queued in memory and tries again shortly.
            log.exception("queue bookkeeping failed for job %d of %s", seq, repo_key)
            self._later(self.settings.retry_base_seconds, repo_key)
            return
        if outcome.kind == "retry":
            not_before = time.time() + outcome.delay
            await self._write("settle", seq, "queued", not_before, outcome.error)
            self._later(outcome.delay, repo_key)
            return
        await self._write("settle", seq, outcome.kind, 0.0, outcome.error)
        log_recorded(delivery, outcome)
        if outcome.kind in ("dead", "failed") and self._reporter is not None:
            await tell_people(self._reporter, delivery, outcome.error or "", outcome.kind == "dead")
        jobs.popleft()
        self._depth -= 1
        if not jobs:
            del self._pending[repo_key]
            self._installation_of.pop(repo_key, None)
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
