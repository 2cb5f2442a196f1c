"""Fault tests, measured by effects: pick PRs, checks and replies counted in the sandbox's records, each exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import signal
from pathlib import Path

import pytest

from bot.sandbox.common import HOOKS
from bot.sandbox.harness import World
from fault_scenarios import (
    Tally,
    burst_actions,
    effects,
    footprint,
    forget_deliveries,
    free_port,
    healthy,
    prepare_repo,
    quiet,
    repeated_anywhere,
    report,
    run_burst,
    serve,
    sqlite_unfinished,
    stop_served,
    wait_until,
)
from sandbox_calls import app_jwt_headers
from sweeps import sweep_context


async def test_redeliveries_of_every_delivery_produce_no_new_effects(world: World) -> None:
    plans = list(await asyncio.gather(*(prepare_repo(world, f"redo{n}") for n in range(3))))
    await world.settle()
    await run_burst([burst_actions(world, plan, people_events=8) for plan in plans])
    await world.settle()
    before = effects(world, plans)
    assert (before.seen, before.duplicates) == (before.expected, 0), before.as_dict()
    sizes = footprint(world, plans)
    hooks = world.app[HOOKS]
    records = list(hooks.deliveries)
    jwt = await app_jwt_headers(world)
    for record in records:
        answer = await world.call(None, "POST", f"/app/hook/deliveries/{record['id']}/attempts", headers=jwt)
        assert answer.status == 202, answer.body
    await world.settle()
    after = effects(world, plans)
    redelivered = [r for r in hooks.deliveries[len(records) :] if r["redelivery"]]
    report(
        "redeliveries",
        after,
        redelivered=len(redelivered),
        footprint_before=sizes,
        footprint_after=footprint(world, plans),
        repeated=repeated_anywhere(world, plans),
    )
    assert len(redelivered) == len(records) and all(r["status_code"] == 202 for r in redelivered)
    assert after.seen == after.expected and after.duplicates == 0, after.as_dict()
    assert footprint(world, plans) == sizes
    assert repeated_anywhere(world, plans) == 0


@pytest.mark.slow
async def test_a_kill_9_mid_burst_of_500_deliveries_across_20_repositories_leaves_every_effect_exactly_once(
    sandbox: World, tmp_path: Path
) -> None:
    hooks = sandbox.app[HOOKS]
    # Set up with nobody listening, then forget those deliveries: the burst is what the bot sees.
    sandbox.point_webhooks_at(None)
    plans = []
    for batch in range(4):
        plans += await asyncio.gather(*(prepare_repo(sandbox, f"app{n}") for n in range(batch * 5, batch * 5 + 5)))
    await sandbox.settle()
    forget_deliveries(sandbox)
    port, db, log_path = free_port(), tmp_path / "queue.db", tmp_path / "bot.log"
    bot = serve(sandbox, port, f"sqlite:///{db}", log_path)
    try:
        await wait_until(lambda: healthy(sandbox, port), "the bot to start")
        sandbox.point_webhooks_at(f"http://127.0.0.1:{port}/webhook")
        burst = asyncio.get_running_loop().create_task(
            run_burst([burst_actions(sandbox, plan, people_events=25) for plan in plans])
        )

        async def some_acknowledged() -> bool:
            return sum(1 for r in hooks.deliveries if r["status_code"] == 202) >= 200

        await wait_until(some_acknowledged, "200 acknowledged deliveries")
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        await burst
        await sandbox.settle()
        sent = {r["guid"] for r in hooks.deliveries}
        acknowledged = {r["guid"] for r in hooks.deliveries if r["status_code"] == 202}
        midway = effects(sandbox, plans)
        # Restarted: its unfinished jobs run again, and the startup catch-up redelivers what failed while it was dead.
        bot = serve(sandbox, port, f"sqlite:///{db}", log_path, REDELIVERY_INTERVAL_SECONDS="3600")
        await wait_until(lambda: healthy(sandbox, port), "the bot to restart")

        async def all_seen() -> bool:
            return effects(sandbox, plans).seen == midway.expected

        try:
            await wait_until(all_seen, "every effect", limit=60)
        except AssertionError:
            raise AssertionError(
                f"{effects(sandbox, plans).as_dict()} unfinished jobs {sqlite_unfinished(db)}"
            ) from None

        async def unfinished() -> int:
            return sqlite_unfinished(db)

        await quiet(sandbox, unfinished, "the bot to finish", limit=30)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    tally = effects(sandbox, plans)
    repeated = repeated_anywhere(sandbox, plans)
    report(
        "kill -9 mid-burst",
        tally,
        deliveries=len(sent),
        acknowledged_before_the_kill=len(acknowledged),
        seen_before_the_kill=midway.seen,
        repeated=repeated,
    )
    assert len(sent) >= 500
    assert len(acknowledged) < len(sent)
    assert tally.seen == tally.expected == 20 * 5 and tally.duplicates == 0, tally.as_dict()
    assert repeated == 0


FAST_WRITES = {"writes_per_minute": 100000, "writes_per_hour": 1000000}


@pytest.mark.slow
async def test_a_flaky_github_and_misbehaving_deliveries_still_make_every_effect_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="release_train")
    await world.stop_bot()
    await world.start_bot(world.bot_settings(state_url=world.bot_settings().state_url, **FAST_WRITES))
    plans = list(await asyncio.gather(*(prepare_repo(world, f"flaky{n}") for n in range(5))))
    await world.settle()
    hooks = world.app[HOOKS]
    first = len(hooks.deliveries)
    faults = {
        "api": 0.1,
        "after": 0.5,
        "seed": 11,
        "retry_after": 0,
        "delay": 0.2,
        "duplicate": 0.2,
        "reorder": 0.2,
        "max_delay": 0.05,
    }
    answer = await world.call(None, "POST", "/_sandbox/faults", faults)
    assert answer.status == 200, answer.body
    since = world.last_seq()
    try:
        await run_burst([burst_actions(world, plan, people_events=10) for plan in plans])
        await world.settle(timeout=120)
    finally:
        await world.call(None, "POST", "/_sandbox/faults", {})
    records = hooks.deliveries[first:]
    injected = [str(e["fault"]) for e in world.app_requests(since) if e.get("fault")]
    failed_answers = len(injected)
    after_applied = sum(1 for f in injected if f.endswith("-after"))
    tally = effects(world, plans)
    repeated = repeated_anywhere(world, plans)
    report(
        "flaky GitHub",
        tally,
        deliveries=len(records),
        sent_twice=len(records) - len({r["guid"] for r in records}),
        failed_api_answers=failed_answers,
        of_which_after_the_change=after_applied,
        repeated=repeated,
    )
    assert len(records) > len({r["guid"] for r in records})  # duplicates were sent
    assert failed_answers > 0 and after_applied > 0
    diagnosis = ""
    if tally.seen != tally.expected:
        # What the bot recorded for each pick, and what it logged: enough to tell a lost effect's cause.
        from bot.sandbox.common import STORE

        picks = {
            plan.name: [
                (r.get("output") or {}).get("text")
                for r in world.app[STORE].repo("acme", plan.name)["check_runs"].values()
                if r["name"] == "release-train/cherry-pick"
            ]
            for plan in plans
        }
        logs = [r.getMessage()[:300] for r in caplog.records if r.levelno >= logging.WARNING]
        diagnosis = json.dumps({"picks": picks, "warnings": logs[-30:]}, indent=1)
        print(diagnosis)
    assert tally.seen == tally.expected == 5 * 5 and tally.duplicates == 0, (tally.as_dict(), diagnosis)
    assert repeated == 0


CLOSED_PORT = "http://127.0.0.1:9/webhook"


@pytest.mark.slow
async def test_downtime_is_caught_up_by_redelivery_and_what_was_never_delivered_by_the_sweep(world: World) -> None:
    from bot.sandbox import seed
    from bot.server import CATCHUP

    await world.stop_bot()
    settings = world.bot_settings(state_url=world.bot_settings().state_url, **FAST_WRITES)
    await world.start_bot(settings)
    redelivered = list(await asyncio.gather(*(prepare_repo(world, f"down{n}") for n in range(2))))
    lost = [await prepare_repo(world, "lost0")]
    gate = await prepare_repo(world, "gate0", fixes=0, cut_rc=True)
    await world.settle()
    hooks = world.app[HOOKS]
    # Down: every delivery fails. The first part stays redeliverable.
    await world.stop_bot()
    world.point_webhooks_at(CLOSED_PORT)
    await run_burst([burst_actions(world, plan, people_events=8) for plan in redelivered])
    await world.settle()
    mark = len(hooks.deliveries)
    # The second part is never delivered and then forgotten (older than GitHub keeps them): only the sweep can repair it.
    from fault_scenarios import fr_actions, pick_actions

    await run_burst([pick_actions(world, plan) + fr_actions(world, plan) for plan in lost])
    new_rc_head = await seed.commit(
        world, "alice", gate.full, "rc/1.5", {"hotfix.txt": "by hand\n"}, "A fix straight on the RC"
    )
    await world.settle()
    failed = {r["guid"] for r in hooks.deliveries[:mark] if r["status_code"] != 202}
    forgotten = forget_deliveries(world, mark)
    assert forgotten > 0 and failed
    before = effects(world, redelivered + lost)
    # Up again: the startup catch-up redelivers, and the sweep (every second here) re-evaluates the rest.
    await world.start_bot(dataclasses.replace(settings, redelivery_interval_seconds=3600.0, sweep_interval_seconds=1.0))
    assert world.bot_app is not None
    await world.bot_app[CATCHUP].first_round

    def tally() -> Tally:
        total = effects(world, redelivered)
        for part in (
            effects(world, lost, help_reply=False),
            effects(world, [gate], picks=False, fr=False, help_reply=False, gate_heads={gate.name: new_rc_head}),
        ):
            total.expected += part.expected
            total.seen += part.seen
            total.duplicates += part.duplicates
            total.missing += part.missing
            total.duplicated += part.duplicated
        return total

    async def caught_up() -> bool:
        return tally().seen == tally().expected

    try:
        await wait_until(caught_up, "the catch-up and the sweep", limit=30)
    except AssertionError:
        raise AssertionError(str(tally().as_dict())) from None
    await world.settle()
    result = tally()
    repeated = repeated_anywhere(world, redelivered + lost + [gate])
    report(
        "downtime",
        result,
        failed_while_down=len(failed),
        forgotten=forgotten,
        seen_before_restart=before.seen,
        repeated=repeated,
    )
    assert before.seen == 0
    assert result.seen == result.expected == 2 * 5 + 4 + 1 and result.duplicates == 0, result.as_dict()
    assert repeated == 0


@pytest.mark.slow
async def test_three_replicas_on_one_redis_one_killed_mid_burst_make_every_effect_once(
    redis_url: str, sandbox: World, tmp_path: Path
) -> None:
    import redis.asyncio as aioredis

    from load_balancer import round_robin

    sandbox.point_webhooks_at(None)
    plans = list(await asyncio.gather(*(prepare_repo(sandbox, f"svc{n}") for n in range(8))))
    await sandbox.settle()
    forget_deliveries(sandbox)
    admin = aioredis.from_url(redis_url)
    await admin.flushdb()
    ports = [free_port() for _ in range(3)]
    # A delivery in flight to the killed replica fails at the load balancer; the catch-up redelivers it.
    env = {"JOB_LEASE_SECONDS": "2", "REDELIVERY_INTERVAL_SECONDS": "1", "WORKER_CONCURRENCY": "3"}
    replicas = [serve(sandbox, ports[n], redis_url, tmp_path / f"replica{n}.log", **env) for n in range(3)]
    async with round_robin(ports) as proxy_url:
        hooks = sandbox.app[HOOKS]
        try:
            for port in ports:
                await wait_until(lambda p=port: healthy(sandbox, p), f"replica on {port} to start")
            sandbox.point_webhooks_at(proxy_url)
            burst = asyncio.get_running_loop().create_task(
                run_burst([burst_actions(sandbox, plan, people_events=10) for plan in plans])
            )

            async def a_third_in() -> bool:
                return sum(1 for r in hooks.deliveries if r["status_code"] == 202) >= 40

            await wait_until(a_third_in, "40 acknowledged deliveries")
            at_the_kill = effects(sandbox, plans).seen
            replicas[1].send_signal(signal.SIGKILL)
            replicas[1].wait()
            await burst
            await sandbox.settle()
            sent = {r["guid"] for r in hooks.deliveries}
            expected = effects(sandbox, plans).expected
            assert at_the_kill < expected  # killed mid-burst

            async def all_seen() -> bool:
                return effects(sandbox, plans).seen == expected

            try:
                await wait_until(all_seen, "every effect", limit=45)
            except AssertionError:
                raise AssertionError(
                    f"{effects(sandbox, plans).as_dict()} pending {await admin.get('rt:pending')}"
                ) from None

            async def unfinished() -> int:
                return int(await admin.get("rt:pending") or 0)

            await quiet(sandbox, unfinished, "the replicas to finish", limit=30)
        finally:
            stop_served(replicas)
            await admin.aclose()
    tally = effects(sandbox, plans)
    repeated = repeated_anywhere(sandbox, plans)
    report("replicas, one killed", tally, deliveries=len(sent), seen_before_the_kill=at_the_kill, repeated=repeated)
    assert len(sent) >= 8 * 10
    assert tally.seen == tally.expected == 8 * 5 and tally.duplicates == 0, tally.as_dict()
    assert repeated == 0


async def test_the_cherry_pick_sweep_picks_a_missed_verified_pr_once_and_then_costs_one_listing(world: World) -> None:
    from bot.handlers import cherry_pick
    from fault_scenarios import pick_actions

    await world.stop_bot()
    await world.start_bot(world.bot_settings(state_url=world.bot_settings().state_url, **FAST_WRITES))
    plan = await prepare_repo(world, "swept", fixes=3)
    await world.settle()
    await world.stop_bot()
    await run_burst([pick_actions(world, plan)])  # nobody listening, and the sweep below is all that runs
    await world.start_bot(world.bot_settings(state_url=world.bot_settings().state_url, **FAST_WRITES))
    await world.settle()
    assert effects(world, [plan], fr=False, help_reply=False).seen == 0
    ctx = await sweep_context(world, plan.name)
    await cherry_pick.sweep(ctx)
    await world.settle()
    first = effects(world, [plan], fr=False, help_reply=False)
    since = world.last_seq()
    await cherry_pick.sweep(ctx)
    await world.settle()
    again = world.app_requests(since)
    report("cherry-pick sweep", first, calls_of_a_sweep_with_nothing_to_do=len(again))
    assert first.seen == first.expected == 9 and first.duplicates == 0, first.as_dict()
    # Every target has its pick PR: one listing (one page), no per-PR call, no write.
    assert [(e["method"], e["route"]) for e in again] == [("GET", "/repos/{owner}/{repo}/pulls")]
    assert effects(world, [plan], fr=False, help_reply=False).as_dict() == first.as_dict()


async def test_a_pick_cut_short_after_its_merge_step_is_finished_by_the_next_attempt(world: World) -> None:
    """Found by the flaky-GitHub test: a 502 after `POST /merges` left the branch on a sibling of the
    picked commit, whose history (devel's commits) was then taken for people's work and left alone."""
    from http import HTTPStatus

    import gidgethub

    from bot.github.cherry_pick import SIBLING_MESSAGE, Picker
    from bot.handlers import cherry_pick
    from fault_scenarios import pick_actions

    plan = await prepare_repo(world, "cut")
    await world.settle()
    ctx = await sweep_context(world, plan.name)
    [number] = plan.fixes
    pr = await ctx.api.pull(number)
    rc = await ctx.api.branch("rc/1.5")
    assert rc is not None and rc.tree_sha is not None
    pick_plan, sources = await cherry_pick._plan(ctx.api, pr)

    class CutShort(Picker):
        async def _commit(self, message, tree, parents, author):
            if message != SIBLING_MESSAGE:
                raise gidgethub.GitHubBroken(HTTPStatus.BAD_GATEWAY)
            return await super()._commit(message, tree, parents, author)

    picker = CutShort(ctx.gh, ctx.owner, ctx.repo, committer={"name": ctx.bot_login, "email": "bot@example.com"})
    try:
        await picker.pick(
            [sources[s] for s in pick_plan.shas],
            onto_sha=rc.sha,
            onto_tree=rc.tree_sha,
            branch=f"cherry-pick/{number}-to-rc-1.5",
            mainline=pick_plan.mainline,
        )
    except gidgethub.GitHubBroken:
        pass
    else:
        raise AssertionError("the attempt was meant to be cut short")
    await run_burst([pick_actions(world, plan)])
    await world.settle()
    tally = effects(world, [plan], fr=False, help_reply=False)
    report("pick cut short, then retried", tally)
    assert tally.seen == tally.expected == 3 and tally.duplicates == 0, tally.as_dict()


@pytest.mark.parametrize(
    ("method", "url", "safe"),
    [
        ("GET", "https://api.github.com/repos/acme/app/pulls", True),
        ("PATCH", "https://api.github.com/repos/acme/app/git/refs/heads/x", True),
        ("POST", "https://api.github.com/repos/acme/app/git/commits", True),
        ("POST", "https://api.github.com/repos/acme/app/git/trees", True),
        ("POST", "https://api.github.com/repos/acme/app/git/blobs", True),
        ("POST", "https://api.github.com/repos/acme/app/git/refs", False),  # a branch appears
        ("POST", "https://api.github.com/repos/acme/app/merges", False),  # moves a branch
        ("POST", "https://api.github.com/repos/acme/app/pulls", False),
        ("POST", "https://api.github.com/repos/acme/app/issues/3/comments", False),
        ("POST", "https://api.github.com/repos/acme/app/check-runs", False),
        ("POST", "https://api.github.com/repos/acme/git/commits/issues", False),  # a repository named git
    ],
)
def test_which_requests_are_repeated_at_the_http_level(method: str, url: str, safe: bool) -> None:
    from bot.github.client import repeatable

    assert repeatable(method, url) is safe


async def test_the_shared_write_lock_is_kept_while_held_and_lapses_soon_after_its_holder_dies(redis_url: str) -> None:
    """Found by the replicas test: a replica killed mid-write held every replica's writes for its installation for 60 s."""
    import uuid

    import redis.asyncio as aioredis

    from bot.github.pacing import RedisWritePacer

    client = aioredis.from_url(redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    holder = RedisWritePacer(client, 100000, 1000000, prefix=prefix, lock_ttl_ms=200)
    other = RedisWritePacer(client, 100000, 1000000, prefix=prefix, lock_ttl_ms=200)
    try:
        await holder.acquire(7, "/repos/acme/app/pulls")
        # A long write: the lock outlives its TTL because its holder keeps it alive.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(other.acquire(7, "/repos/acme/app/pulls"), 0.6)
        # The holder dies without a word (kill -9): nothing extends or deletes its lock any more.
        holder._keepers.pop(7).cancel()
        await asyncio.wait_for(other.acquire(7, "/repos/acme/app/pulls"), 2.0)
        await other.release(7)
    finally:
        await client.aclose()
