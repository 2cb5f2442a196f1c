"""An in-process work queue (STATE_URL=memory:): per-repository order, bounded parallelism, no durability; for quick experiments only."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque

from bot.queue import Delivery, FailureReporter, InProcessLedger, JobProcessor

log = logging.getLogger("release_train.queue")


class MemoryQueue(InProcessLedger):
    def __init__(self, concurrency: int = 8, remember: int = 100_000) -> None:
        super().__init__()
        self._concurrency = concurrency
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._pending: dict[str, deque[Delivery]] = {}
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._processor: JobProcessor | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None:
        self._processor = processor
        self._slots = asyncio.Semaphore(self._concurrency)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def put(self, delivery: Delivery, *, ignored: bool = False) -> bool:
        """Store a delivery; False when its id was seen before (acknowledged, not processed again)."""
        if delivery.id in self._seen:
            return False
        self._seen[delivery.id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if ignored:
            return True
        self._pending.setdefault(delivery.repo_key, deque()).append(delivery)
        self._idle.clear()
        if delivery.repo_key not in self._running:
            self._running.add(delivery.repo_key)
            task = asyncio.get_running_loop().create_task(self._drain(delivery.repo_key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _drain(self, repo_key: str) -> None:
        assert self._slots is not None and self._processor is not None
        try:
            while self._pending.get(repo_key):
                delivery = self._pending[repo_key].popleft()
                async with self._slots:
                    try:
                        await self._processor(delivery)
                    except Exception:
                        log.exception("delivery %s (%s) failed", delivery.id, delivery.event)
        finally:
            self._pending.pop(repo_key, None)
            self._running.discard(repo_key)
            if not self._running:
                self._idle.set()

    async def seen(self, delivery_id: str) -> bool:
        return delivery_id in self._seen

    async def state_of(self, delivery_id: str) -> str | None:
        return "done" if delivery_id in self._seen else None

    def depth(self) -> int:
        return sum(len(q) for q in self._pending.values()) + len(self._running)

    async def wait_idle(self) -> None:
        while not self._idle.is_set() or self._running:
            await self._idle.wait()
            await asyncio.sleep(0)
