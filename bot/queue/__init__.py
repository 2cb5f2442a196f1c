"""The work queue: verified deliveries stored before the 202, processed per repository in order.

Every backend offers the same surface (`WorkQueue`): `await put(delivery, ignored=False) -> bool`
(False: a delivery id seen before; `ignored`: no handler wants it, so only its id is kept),
`depth()`, `await wait_idle()`, `await start(processor)`, `await stop()`, `await seen(delivery_id)
-> bool` and `await state_of(delivery_id)`. `bot.queue.backend.open_queue(settings)` picks
the backend from `STATE_URL`: `sqlite:///relative.db`, `sqlite:////absolute.db` or
`redis://host:port/db`.
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


class WorkQueue(Protocol):
    async def start(self, processor: JobProcessor, reporter: FailureReporter | None = None) -> None: ...

    async def stop(self) -> None: ...

    async def put(self, delivery: Delivery, *, ignored: bool = False) -> bool: ...

    async def seen(self, delivery_id: str) -> bool: ...

    async def state_of(self, delivery_id: str) -> str | None: ...

    def depth(self) -> int: ...

    async def wait_idle(self) -> None: ...
