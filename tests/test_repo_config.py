"""Loading the config from the default branch: defaults, TTL, ETags (304, no rate limit), invalidation, fallbacks."""

from __future__ import annotations

from typing import Any

from bot.config import CONFIG_PATH, RepoConfig
from bot.github.repo import ContentFile
from bot.repo_config import ConfigStore, LoadedConfig, decode_config_file
from bot.sandbox import seed
from bot.sandbox.harness import World
from guard_story import FULL, NAME, ORG, bot_comments, bot_context, labels_on, open_fix

VALID = "roles:\n  qa: [quinn]\n  rte: [rita]\n"
BROKEN = "roles:\n  qa: [quinn]\n  rte: [rita]\nlabels:\n  verfied: done\n"


async def repo(world: World, files: dict[str, str] | None = None) -> None:
    await seed.create_org_repo(
        world, ORG, NAME, admin="alice", files=files or {"README.md": "# app\n"}, default_branch="devel"
    )
    for login in ("dana", "quinn", "rita", "erin"):
        await seed.grant(world, FULL, login, "write")
    await world.settle()


def config_reads(world: World, since: int) -> list[dict[str, Any]]:
    """The bot's reads of the config file on the default branch (no ?ref)."""
    return [
        r
        for r in world.app_requests(since=since)
        if r["method"] == "GET" and r["path"] == f"/repos/{FULL}/contents/{CONFIG_PATH}" and "ref=" not in r["query"]
    ]


def test_decode_config_file():
    assert decode_config_file(ContentFile(type="file", encoding="base64", content="cm9sZXM6IHt9\n")) == (
        "roles: {}",
        None,
    )
    assert "not a file" in decode_config_file(ContentFile(type="dir"))[1].message
    assert "too large" in decode_config_file(ContentFile(type="file", encoding="none", content=""))[1].message
    assert "UTF-8" in decode_config_file(ContentFile(type="file", encoding="base64", content="/w=="))[1].message


def test_loaded_config_messages():
    from bot.config import parse_config

    errors = parse_config(BROKEN).errors
    none = LoadedConfig(None, errors)
    assert not none.usable
    assert none.refusal() == (
        f"`{CONFIG_PATH}` is invalid and there is no earlier valid configuration to fall back on, so I won't take "
        "role-gated actions until it is fixed:\n- line 5: labels.verfied: unknown key (did you mean 'verified'?)"
    )
    stale = LoadedConfig(RepoConfig(), errors, stale=True)
    assert stale.usable and "still using the last valid configuration" in stale.notice()
    assert LoadedConfig(RepoConfig()).notice() is None


async def test_missing_file_means_defaults(world: World):
    await repo(world)
    ctx = await bot_context(world)
    loaded = await ConfigStore(ttl_seconds=0).load(ctx.api)
    assert loaded == LoadedConfig(RepoConfig())


async def test_second_read_is_a_304_that_costs_no_rate_limit(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    ctx = await bot_context(world)
    store = ConfigStore(ttl_seconds=0)  # no TTL: every load goes to GitHub
    since = world.last_seq()
    first = await store.load(ctx.api)
    used = (await ctx.gh.getitem("/rate_limit"))["resources"]["core"]["used"]
    second = await store.load(ctx.api)
    assert (await ctx.gh.getitem("/rate_limit"))["resources"]["core"]["used"] == used
    assert first == second and first.config.roles.qa == ("quinn",)
    # The bot's handlers may have read the file already (same ETag cache): then the first is a 304 too.
    assert [r["status"] for r in config_reads(world, since)][1:] == [304]


async def test_within_the_ttl_a_load_costs_no_request_and_invalidate_reads_again(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    ctx = await bot_context(world)
    clock = [1000.0]
    store = ConfigStore(ttl_seconds=60, clock=lambda: clock[0])
    since = world.last_seq()
    await store.load(ctx.api)
    clock[0] += 59
    await store.load(ctx.api)
    assert len(config_reads(world, since)) == 1
    clock[0] += 2
    await store.load(ctx.api)
    assert [r["status"] for r in config_reads(world, since)][1:] == [304]
    await seed.put_config(world, "alice", FULL, "roles:\n  qa: [erin]\n")
    # The running bot reads the new file on that push, with the same installation's ETag cache:
    # let it finish, so the reads counted below are this store's alone.
    await world.settle()
    assert (await store.load(ctx.api)).config.roles.qa == ("quinn",), "within the TTL"
    mark = world.last_seq()
    store.invalidate(FULL)
    assert (await store.load(ctx.api)).config.roles.qa == ("erin",)
    assert len(config_reads(world, mark)) == 1, "invalidate makes the next load read GitHub once"


async def test_a_broken_config_keeps_the_last_valid_one(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    ctx = await bot_context(world)
    store = ConfigStore(ttl_seconds=0)
    assert (await store.load(ctx.api)).errors == ()
    await seed.put_config(world, "alice", FULL, BROKEN)
    loaded = await store.load(ctx.api)
    assert loaded.usable and loaded.stale
    assert loaded.config.roles.qa == ("quinn",)
    assert [str(e) for e in loaded.errors] == ["line 5: labels.verfied: unknown key (did you mean 'verified'?)"]
    # A store that never saw a valid one has nothing to fall back on.
    fresh = await ConfigStore(ttl_seconds=0).load(ctx.api)
    assert fresh.config is None and not fresh.stale and fresh.errors == loaded.errors


async def test_in_steady_state_events_cost_no_config_request(world: World):
    await repo(world)
    await seed.put_config(world, "alice", FULL, VALID)
    await world.settle()
    first = await open_fix(world, "fix-a")  # reads the config once (the push invalidated it)
    since = world.last_seq()
    await seed.add_labels(world, "quinn", FULL, first, "qa/verified")
    await seed.add_labels(world, "dana", FULL, first, "bug")
    await open_fix(world, "fix-b")
    await world.settle()
    assert config_reads(world, since) == []
    assert "qa/verified" in await labels_on(world, first)


async def test_after_the_ttl_events_reread_with_304(world: World):
    await world.stop_bot()
    await world.start_bot(world.bot_settings(config_ttl_seconds=0))
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    number = await open_fix(world)
    since = world.last_seq()
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    statuses = [r["status"] for r in config_reads(world, since)]
    assert statuses and set(statuses) == {304}


async def test_a_push_that_changes_the_config_is_seen_by_the_next_event(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    number = await open_fix(world)
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" in await labels_on(world, number)
    # QA moves from quinn to erin; the default TTL (60 s) has not run out.
    await seed.put_config(world, "alice", FULL, "roles:\n  qa: [erin]\n")
    await world.settle()
    other = await open_fix(world, "fix-other")
    await seed.add_labels(world, "quinn", FULL, other, "qa/verified")
    await world.settle()
    assert "qa/verified" not in await labels_on(world, other)
    assert any("`@erin`" in c for c in await bot_comments(world, other))


async def test_a_broken_config_with_nothing_to_fall_back_on_refuses_role_gated_commands(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: BROKEN})
    issue = (await world.call("alice", "POST", f"/repos/{FULL}/issues", {"title": "Next release"})).body
    await seed.comment(world, "alice", FULL, issue["number"], "/cut-rc 1.5")
    await world.settle()
    replies = await bot_comments(world, issue["number"])
    assert len(replies) == 1
    assert f"`{CONFIG_PATH}` is invalid and there is no earlier valid configuration" in replies[0]
    assert "line 5: labels.verfied: unknown key (did you mean 'verified'?)" in replies[0]
    branches = await world.call("alice", "GET", f"/repos/{FULL}/branches/rc%2F1.5")
    assert branches.status == 404, "nothing was cut"
    # The guarded label cannot be checked either: it is removed, and the reason given.
    number = await open_fix(world)
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" not in await labels_on(world, number)
    [notice] = [c for c in await bot_comments(world, number) if "qa/verified" in c]
    assert "cannot tell who holds the QA role" in notice and "line 5: labels.verfied" in notice


async def test_a_broken_config_after_a_valid_one_is_not_fatal(world: World):
    await repo(world, {"README.md": "# app\n", CONFIG_PATH: VALID})
    first = await open_fix(world, "fix-a")
    await seed.put_config(world, "alice", FULL, BROKEN)
    await world.settle()
    await seed.add_labels(world, "quinn", FULL, first, "qa/verified")
    second = await open_fix(world, "fix-b")
    await seed.add_labels(world, "dana", FULL, second, "qa/verified")
    await world.settle()
    assert "qa/verified" in await labels_on(world, first), "quinn is QA in the last valid config"
    assert "qa/verified" not in await labels_on(world, second)
    # /refresh says the file is broken and that the last valid one is in force.
    await seed.comment(world, "dana", FULL, second, "/refresh")
    await world.settle()
    assert any(
        "still using the last valid configuration" in c and "line 5: labels.verfied" in c
        for c in await bot_comments(world, second)
    )


def test_the_ttl_is_a_setting():
    from bot.settings import Settings

    env = {
        "APP_ID": "1",
        "WEBHOOK_SECRET": "s",
        "PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
    }
    assert Settings.from_env(env).config_ttl_seconds == 60.0
    assert Settings.from_env({**env, "CONFIG_TTL_SECONDS": "5"}).config_ttl_seconds == 5.0
