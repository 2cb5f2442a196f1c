"""Catching up after downtime: ask GitHub to redeliver failed deliveries, and queue a periodic reconcile sweep.

Redelivery: at startup and every `redelivery_interval_seconds`, list `GET /app/hook/deliveries`
(as the app, following the cursor, back to `sweep_lookback_hours`), and `POST .../attempts` for
each delivery whose attempts all failed (no 2xx) and whose guid the queue has not processed.

Sweep: every `sweep_interval_seconds`, one job per repository of every installation is put on the
work queue (event `SWEEP_EVENT`, id `sweep:<repo>:<period>`, so replicas never queue it twice and it
runs in the repository's order). The job (`bot.handlers.run_sweeps`) calls every concern module's hook, if it has one:

    async def sweep(ctx: Context) -> None

`ctx.event.data` holds `repository` and `installation`; the look-back window is
`ctx.settings.sweep_lookback_hours`. A sweep re-evaluates state that missed webhooks may have left
stale (open FR PRs, open RC gates, merged and verified PRs without their pick), and, like every
handler, changes only what differs. A hook's exception is logged and does not stop the others.
The sweep skips an installation while its remaining rate limit is low.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import gidgethub
import orjson

from bot.github.client import TransientError
from bot.github.installations import AppAPI, HookDelivery
from bot.queue import Delivery

if TYPE_CHECKING:
    from bot.handlers.context import Services
    from bot.metrics import Metrics

log = logging.getLogger("release_train.catchup")

SWEEP_EVENT = "release_train_sweep"
# Below this many requests left in the hour, an installation's sweep waits for the next round.
SWEEP_RATE_FLOOR = 500


def deliveries_to_redeliver(attempts: list[HookDelivery], processed: set[str]) -> list[HookDelivery]:
    """Per guid, the newest attempt, when no attempt succeeded and the queue has not processed it (pure).

    `attempts` is GitHub's list of delivery attempts (newest first, as GitHub lists them).
    """
    succeeded: set[str] = set()
    newest: dict[str, HookDelivery] = {}
    for item in attempts:
        if not item.guid:
            continue
        if 200 <= item.status_code < 300:
            succeeded.add(item.guid)
        if item.guid not in newest or item.id > newest[item.guid].id:
            newest[item.guid] = item
    return [item for guid, item in newest.items() if guid not in succeeded and guid not in processed]


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class CatchUp:
    def __init__(self, services: Services, queue: Any, metrics: Metrics | None = None) -> None:
        self.services = services
        self.queue = queue
        self.metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []
        self.first_round: asyncio.Task[None] | None = None  # the startup redelivery round
        self._asked: dict[str, float] = {}  # guid -> when we asked, so one round does not ask twice

    async def start(self) -> None:
        settings = self.services.settings
        loop = asyncio.get_running_loop()
        if settings.redelivery_interval_seconds > 0:
            self.first_round = loop.create_task(self._guarded(self.redeliver_failed))
            self._tasks.append(self.first_round)
            self._tasks.append(
                loop.create_task(
                    self._every(settings.redelivery_interval_seconds, self.redeliver_failed, first_delay=True)
                )
            )
        if settings.sweep_interval_seconds > 0:
            self._tasks.append(
                loop.create_task(self._every(settings.sweep_interval_seconds, self.queue_sweeps, first_delay=True))
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _guarded(self, round_fn: Any) -> Any:
        try:
            return await round_fn()
        except asyncio.CancelledError:
            raise
        except (TransientError, gidgethub.HTTPException, OSError) as exc:
            log.warning("%s could not finish: %s", round_fn.__name__, exc)
        except Exception:
            log.exception("%s failed", round_fn.__name__)
        return None

    async def _every(self, interval: float, round_fn: Any, first_delay: bool = False) -> None:
        if first_delay:
            await asyncio.sleep(interval)
        claim = getattr(self.queue, "claim_round", None)
        while True:
            # With replicas, one of them runs each round.
            if claim is None or await self._guarded(lambda: claim(round_fn.__name__, interval * 0.9)):
                await self._guarded(round_fn)
            await asyncio.sleep(interval)

    # redelivery -----------------------------------------------------------------------------
    async def redeliver_failed(self) -> int:
        """One catch-up round; returns how many redeliveries were requested."""
        app = AppAPI(self.services.github)
        horizon = time.time() - self.services.settings.sweep_lookback_hours * 3600
        attempts: list[HookDelivery] = []
        async for item in app.hook_deliveries():
            delivered = _parse_time(item.delivered_at)
            if delivered is not None and delivered < horizon:
                break
            attempts.append(item)
        guids = {item.guid for item in attempts if item.guid}
        processed = {guid for guid in guids if await self.queue.seen(guid)}
        now = time.time()
        recent = self.services.settings.redelivery_interval_seconds or 60.0
        self._asked = {g: t for g, t in self._asked.items() if t > now - recent}
        asked = 0
        for item in deliveries_to_redeliver(attempts, processed):
            if item.guid in self._asked:
                continue
            try:
                await app.redeliver(item.id)
            except gidgethub.HTTPException as exc:
                log.warning("redelivery of %s (%s) refused: %s", item.guid, item.event, exc)
                continue
            self._asked[item.guid] = now
            asked += 1
            if self.metrics is not None:
                self.metrics.redeliveries.inc()
        if asked:
            log.info("asked GitHub to redeliver %d failed deliveries", asked)
        return asked

    # sweep -----------------------------------------------------------------------------------
    async def queue_sweeps(self) -> int:
        """Put one sweep job per repository on the queue; returns how many were new."""
        app = AppAPI(self.services.github)
        settings = self.services.settings
        period = int(time.time() // max(1.0, settings.sweep_interval_seconds))
        queued = 0
        async for installation in app.installations():
            inst_id = installation.id
            repos = await app.installation(inst_id)
            async for repo in repos.repositories():
                left = repos.requests_left
                if left is not None and left < SWEEP_RATE_FLOOR:
                    log.info("sweep of installation %s postponed: %d requests left", inst_id, left)
                    break
                payload = {"action": "sweep", "repository": repo, "installation": {"id": inst_id}}
                delivery = Delivery(
                    id=f"sweep:{repo['full_name']}:{period}",
                    event=SWEEP_EVENT,
                    body=orjson.dumps(payload),
                    repo_key=str(repo["full_name"]),
                    installation_id=inst_id,
                )
                if await self.queue.put(delivery):
                    queued += 1
        return queued
