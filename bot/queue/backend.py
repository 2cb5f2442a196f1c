"""Picking the work queue's backend from `STATE_URL`: SQLite by default, Redis for replicas, memory for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.queue import WorkQueue

if TYPE_CHECKING:
    from bot.metrics import Metrics
    from bot.settings import Settings


def open_queue(settings: Settings, metrics: Metrics | None = None) -> WorkQueue:
    url = settings.state_url
    if url.startswith("redis://") or url.startswith("rediss://") or url.startswith("unix://"):
        from bot.queue.redis import RedisQueue

        return RedisQueue(settings, metrics)
    if url.startswith("memory:"):
        from bot.queue.memory import MemoryQueue

        return MemoryQueue(settings.concurrency)
    from bot.queue.sqlite import SqliteQueue, sqlite_path

    return SqliteQueue(sqlite_path(url), settings, metrics)
