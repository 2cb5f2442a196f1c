"""The work queue: verified deliveries stored before the 202, processed per repository in order.

Every backend offers the same surface (`WorkQueue`): `await put(delivery, ignored=False) -> bool`
(False: a delivery id seen before; `ignored`: no handler wants it, so only its id is kept),
`depth()`, `await wait_idle()`, `await start(processor)`, `await stop()`, `await seen(delivery_id)
-> bool` and `await state_of(delivery_id)`. `bot.queue.backend.open_queue(settings)` picks
the backend from `STATE_URL`: `sqlite:///relative.db`, `sqlite:////absolute.db` or
`redis://host:port/db`.

Every backend is also the bot's failure ledger (`FailureLedger`): the jobs it gave up on that no PR or
issue could be told about, kept per repository until a later job for the same thing succeeds
(`bot/handlers/failures.py` shows them to people).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    id: str  # X-GitHub-Delivery
    event: str  # X-GitHub-Event
    body: bytes  # the raw, verified payload
    repo_key: str  # "owner/name", or "installation:<id>" / "app" for events without a repository
    installation_id: int | None
    attempts: int = 0


# Called once per attempt; returns a short outcome word ("done", "ignored") or raises.
JobProcessor = Callable[[Delivery], Awaitable[str | None]]
# Called once when a job is given up (dead letter or permanent failure) to tell the people concerned.
FailureReporter = Callable[[Delivery, str, bool], Awaitable[None]]


class StoreUnavailable(Exception):
    """The durable store could not take the delivery; the server answers 503 so GitHub records a failure."""


class QueueStopping(StoreUnavailable):
    """The queue is shutting down and takes no new deliveries."""


class FailureLedger(Protocol):
    """Open failures per repository: subject (what the job was about) -> the entry the failures concern encodes."""

    async def open_failures(self, repo_key: str) -> dict[str, bytes]: ...

    async def note_failure(self, repo_key: str, subject: str, entry: bytes) -> None: ...

    async def clear_failure(self, repo_key: str, subject: str) -> None: ...


class InProcessLedger:
    """A FailureLedger in this process's memory (the memory queue's, and a processor's without a store)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, bytes]] = {}

    async def open_failures(self, repo_key: str) -> dict[str, bytes]:
        return dict(self._open.get(repo_key, {}))

    async def note_failure(self, repo_key: str, subject: str, entry: bytes) -> None:
        self._open.setdefault(repo_key, {})[subject] = entry

    async def clear_failure(self, repo_key: str, subject: str) -> None:
        entries = self._open.get(repo_key)
        if entries is not None:
            entries.pop(subject, None)
            if not entries:
                del self._open[repo_key]


class WorkQueue(FailureLedger, Protocol):
    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None: ...

    async def stop(self) -> None: ...

    async def put(self, delivery: Delivery, *, ignored: bool = False) -> bool: ...

    async def seen(self, delivery_id: str) -> bool: ...

    async def state_of(self, delivery_id: str) -> str | None: ...

    def depth(self) -> int: ...

    async def wait_idle(self) -> None: ...
