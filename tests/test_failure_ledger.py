"""The failure ledger on every queue backend: entries per repository and subject, replaced, cleared, and kept
across a restart where the backend is durable (SQLite, Redis)."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from bot.queue import FailureLedger, InProcessLedger
from bot.queue.memory import MemoryQueue
from bot.queue.redis import RedisQueue
from bot.queue.sqlite import SqliteQueue
from bot.settings import Settings

SETTINGS = Settings(app_id=1, private_key="x", webhook_secrets=("s",))


async def the_ledger_keeps_entries_per_repository_and_subject(ledger: FailureLedger) -> None:
    assert await ledger.open_failures("acme/app") == {}
    await ledger.note_failure("acme/app", "push:refs/heads/devel", b"first")
    await ledger.note_failure("acme/app", "push:refs/heads/devel", b"second")  # the newer failure replaces it
    await ledger.note_failure("acme/app", "status:abc:ci", b"status")
    await ledger.note_failure("acme/lib", "push:refs/heads/devel", b"lib")
    assert await ledger.open_failures("acme/app") == {"push:refs/heads/devel": b"second", "status:abc:ci": b"status"}
    await ledger.clear_failure("acme/app", "push:refs/heads/devel")
    await ledger.clear_failure("acme/app", "never-noted")
    assert await ledger.open_failures("acme/app") == {"status:abc:ci": b"status"}
    assert await ledger.open_failures("acme/lib") == {"push:refs/heads/devel": b"lib"}
    await ledger.clear_failure("acme/app", "status:abc:ci")
    assert await ledger.open_failures("acme/app") == {}


async def test_in_process_and_memory_queue_ledgers() -> None:
    await the_ledger_keeps_entries_per_repository_and_subject(InProcessLedger())
    await the_ledger_keeps_entries_per_repository_and_subject(MemoryQueue())


async def test_the_sqlite_ledger_survives_a_restart(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", SETTINGS)
    await queue.open()
    await the_ledger_keeps_entries_per_repository_and_subject(queue)
    await queue.note_failure("acme/app", "push:refs/heads/rc/1.5", b"kept")
    await queue.stop()

    again = SqliteQueue(tmp_path / "q.db", SETTINGS)
    await again.open()
    assert await again.open_failures("acme/app") == {"push:refs/heads/rc/1.5": b"kept"}
    assert await again.open_failures("acme/lib") == {"push:refs/heads/devel": b"lib"}
    await again.clear_failure("acme/app", "push:refs/heads/rc/1.5")
    assert await again.open_failures("acme/app") == {}
    await again.stop()


async def test_the_redis_ledger_is_shared_by_replicas(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(SETTINGS, state_url=redis_url)
    one, two = RedisQueue(settings, prefix=prefix), RedisQueue(settings, prefix=prefix)
    try:
        await the_ledger_keeps_entries_per_repository_and_subject(one)
        await one.note_failure("acme/app", "push:refs/heads/rc/1.5", b"seen by both")
        assert await two.open_failures("acme/app") == {"push:refs/heads/rc/1.5": b"seen by both"}
        await two.clear_failure("acme/app", "push:refs/heads/rc/1.5")
        assert await one.open_failures("acme/app") == {}
    finally:
        await one.stop()
        await two.stop()
