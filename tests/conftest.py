"""Shared fixtures: a sandbox GitHub on loopback, with or without the bot receiving its webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.harness import World, start_world

pytest_plugins = ("browser",)  # the session's one headless Chromium (tests/browser.py)

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
