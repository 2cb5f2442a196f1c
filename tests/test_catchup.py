"""Catching up after downtime: failed deliveries are redelivered once, redeliveries change nothing, sweeps reach every repository."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.catchup import SWEEP_EVENT, deliveries_to_redeliver
from bot.github.installations import HookDelivery
from bot.sandbox import seed
from bot.sandbox.common import HOOKS
from bot.sandbox.harness import World
from bot.server import CATCHUP, METRICS, QUEUE
from sandbox_calls import app_jwt_headers

CLOSED_PORT = "http://127.0.0.1:9/webhook"


def attempt(id: int, guid: str, status: int) -> HookDelivery:
    return HookDelivery(id=id, guid=guid, status_code=status, event="issues")


@pytest.mark.parametrize(
    ("attempts", "processed", "wanted"),
    [
        ([attempt(1, "a", 0)], set(), [1]),
        ([attempt(1, "a", 503)], set(), [1]),
        ([attempt(1, "a", 202)], set(), []),
        ([attempt(2, "a", 202), attempt(1, "a", 0)], set(), []),  # a later attempt succeeded
        ([attempt(2, "a", 500), attempt(1, "a", 0)], set(), [2]),  # the newest failed attempt is asked for, once
        ([attempt(1, "a", 0)], {"a"}, []),  # the queue has it already
        ([attempt(3, "b", 0), attempt(2, "a", 401), attempt(1, "c", 302)], set(), [3, 2, 1]),
    ],
)
def test_which_deliveries_are_redelivered(attempts: list[HookDelivery], processed: set[str], wanted: list[int]) -> None:
    assert [item.id for item in deliveries_to_redeliver(attempts, processed)] == wanted


def failed_guids(world: World) -> set[str]:
    records = world.app[HOOKS].deliveries
    ok = {r["guid"] for r in records if 200 <= r["status_code"] < 300}
    return {r["guid"] for r in records if r["guid"] not in ok}


async def test_deliveries_missed_while_the_bot_was_down_are_redelivered_and_processed(world: World) -> None:
    await seed.create_org_repo(world, "acme", "app", admin="alice")
    await world.settle()
    await world.stop_bot()
    world.point_webhooks_at(CLOSED_PORT)
    for n in range(3):
        await world.call("alice", "POST", "/repos/acme/app/issues", {"title": f"while down {n}"})
    await world.settle()
    missed = failed_guids(world)
    assert len(missed) == 3
    await world.start_bot(world.bot_settings(redelivery_interval_seconds=300.0))
    assert world.bot_app is not None
    catchup = world.bot_app[CATCHUP]
    await catchup.first_round
    await world.settle()
    queue = world.bot_app[QUEUE]
    states = {guid: await queue.state_of(guid) for guid in missed}
    assert set(states.values()) <= {"done", "ignored"}, states
    assert failed_guids(world) == set()
    assert world.bot_app[METRICS].value("release_train_redeliveries_requested_total") == 3
    # The next round finds nothing left to ask for.
    since = world.last_seq()
    assert await catchup.redeliver_failed() == 0
    assert [e["method"] for e in world.app_requests(since)] == ["GET"]
    print(f"redelivery: expected 3, redelivered {len(states)}, duplicates 0")


async def test_redeliveries_produce_no_new_effects(world: World) -> None:
    await seed.create_org_repo(world, "acme", "app", admin="alice")
    for n in range(3):
        await world.call("alice", "POST", "/repos/acme/app/issues", {"title": f"issue {n}"})
    await world.settle()
    assert world.bot_app is not None
    metrics = world.bot_app[METRICS]
    jobs_before = sum(
        metrics.value("release_train_jobs_total", {"outcome": k})
        for k in ("done", "ignored", "retry", "failed", "dead")
    )
    comments_before = len(world.app[seed.STORE].repo("acme", "app")["comments"])
    records = list(world.app[HOOKS].deliveries)
    assert records
    for record in records:
        answer = await world.call(
            None, "POST", f"/app/hook/deliveries/{record['id']}/attempts", headers=await app_jwt_headers(world)
        )
        assert answer.status == 202
    await world.settle()
    jobs_after = sum(
        metrics.value("release_train_jobs_total", {"outcome": k})
        for k in ("done", "ignored", "retry", "failed", "dead")
    )
    duplicates = metrics.value(
        "release_train_deliveries_total", {"event": "issues", "outcome": "duplicate"}
    ) + metrics.value("release_train_deliveries_total", {"event": "repository", "outcome": "duplicate"})
    assert jobs_after == jobs_before
    assert len(world.app[seed.STORE].repo("acme", "app")["comments"]) == comments_before
    redelivered = [r for r in world.app[HOOKS].deliveries if r["redelivery"]]
    assert len(redelivered) == len(records) and all(r["status_code"] == 202 for r in redelivered)
    print(
        f"redeliveries: expected 0 new jobs, seen {jobs_after - jobs_before}, acknowledged as duplicates {duplicates:.0f}"
    )


async def test_the_sweep_visits_every_repository_once_per_period_through_the_queue(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.handlers as handlers

    await seed.create_org_repo(world, "acme", "app", admin="alice")
    await seed.create_org_repo(world, "acme", "lib", admin="alice")
    await seed.create_org_repo(world, "globex", "site", admin="bob")
    await world.settle()
    swept: list[str] = []

    async def sweep(ctx: Any) -> None:
        swept.append(ctx.full_name)
        assert ctx.event.event == SWEEP_EVENT

    async def broken_sweep(ctx: Any) -> None:
        raise RuntimeError("one concern's bug")

    first, second = handlers.CONCERNS[0], handlers.CONCERNS[1]
    monkeypatch.setattr(first, "sweep", broken_sweep, raising=False)
    monkeypatch.setattr(second, "sweep", sweep, raising=False)
    assert world.bot_app is not None
    catchup = world.bot_app[CATCHUP]
    catchup.services.settings = dataclasses.replace(catchup.services.settings, sweep_interval_seconds=3600.0)
    assert await catchup.queue_sweeps() == 3
    await world.settle()
    assert sorted(swept) == ["acme/app", "acme/lib", "globex/site"]
    # The same period again (another replica, or a quick restart) queues nothing new.
    assert await catchup.queue_sweeps() == 0
    await world.settle()
    assert len(swept) == 3
