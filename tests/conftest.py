"""Shared fixtures: a sandbox GitHub on loopback, with or without the bot receiving its webhooks, or a test catching them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox import seed
from bot.sandbox.harness import World, start_world
from sandbox_calls import HookLog

pytest_plugins = (
    "browser",  # the session's one headless Chromium (tests/browser.py)
    "redis_server",  # a redis-server per test module that asks for one (tests/redis_server.py)
)

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def sandbox(tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[World]:
    """The sandbox alone: tests act as people and as the app themselves."""
    world = await start_world(tmp_path, with_bot=False, session=session)
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
async def world(tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[World]:
    """The sandbox with the bot wired to its webhooks."""
    world = await start_world(tmp_path, with_bot=True, session=session, state_url=f"sqlite:///{tmp_path}/bot.db")
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
async def hook_log(sandbox: World) -> AsyncIterator[HookLog]:
    log = HookLog()
    app = web.Application()
    app.router.add_post("/hook", log.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox.point_webhooks_at(f"http://127.0.0.1:{port}/hook")
    try:
        yield log
    finally:
        sandbox.point_webhooks_at(None)
        await runner.cleanup()


@pytest.fixture
async def receiver(sandbox: World) -> AsyncIterator[seed.WebhookReceiver]:
    receiver = seed.WebhookReceiver()
    await receiver.start(sandbox)
    yield receiver
    await receiver.close()
